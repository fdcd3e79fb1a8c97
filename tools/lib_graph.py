#!/usr/bin/env python3
"""The call and include graph of lib/, and whether it has a circle.

Calls: an edge A -> B when A's object file uses a symbol B's defines (nm);
static functions and static inline helpers in headers are not edges.
Includes: an edge between lib/ files for each #include "...".

  tools/lib_graph.py OBJECT... [--src LIBDIR] [--dot FILE]

Prints each file with what it calls, bottom-up; exits 1 on a circle.
Used by the lib_layers test and by docs/internals.md.
"""
import os
import re
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", obj], check=True, capture_output=True, text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
    return defined, used


def name_of(obj):
    base = os.path.basename(obj)
    return base.split(".c")[0]


def find_cycle(graph):
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def layers(graph):
    """Bottom-up order: a file after everything it calls."""
    order, placed = [], set()
    while len(placed) < len(graph):
        ready = sorted(n for n in graph if n not in placed and graph[n] <= placed)
        if not ready:
            break
        order.append(ready)
        placed.update(ready)
    return order


def main():
    args = sys.argv[1:]
    src, dot = None, None
    objs = []
    i = 0
    while i < len(args):
        if args[i] == "--src":
            src = args[i + 1]
            i += 2
        elif args[i] == "--dot":
            dot = args[i + 1]
            i += 2
        else:
            objs.append(args[i])
            i += 1
    defs, uses = {}, {}
    for o in objs:
        d, u = symbols(o)
        defs[name_of(o)] = d
        uses[name_of(o)] = u
    owner = {s: f for f, ds in defs.items() for s in ds}
    calls = {f: {owner[s] for s in u if s in owner and owner[s] != f} for f, u in uses.items()}
    ok = True
    print("calls (a file, then the files whose functions it calls), bottom-up:")
    for level, files in enumerate(layers(calls)):
        for f in files:
            print("  %d  %-14s -> %s" % (level, f, ", ".join(sorted(calls[f])) or "-"))
    cyc = find_cycle(calls)
    if cyc:
        print("CIRCLE in calls: " + " -> ".join(cyc))
        ok = False
    if src:
        inc = {}
        for fn in sorted(os.listdir(src)):
            if not fn.endswith((".c", ".h")):
                continue
            text = open(os.path.join(src, fn)).read()
            inc[fn] = {m for m in re.findall(r'#include "([^"/]+)"', text)}
        cyc = find_cycle(inc)
        if cyc:
            print("CIRCLE in includes: " + " -> ".join(cyc))
            ok = False
        else:
            print("includes: %d lib/ files, no circle" % len(inc))
    if dot:
        with open(dot, "w") as f:
            f.write("digraph lib {\n  rankdir=BT;\n")
            for a in sorted(calls):
                for b in sorted(calls[a]):
                    f.write('  "%s" -> "%s";\n' % (a, b))
            f.write("}\n")
    print("no circle" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
