#!/usr/bin/python3
"""loom's HPACK encoder against Python's hpack decoder (Debian python3-hpack).

Usage: hpack_python_roundtrip.py LOOM HPACK_TEST_CASE_DIR

Runs `loom hpack encode` on every raw-data story of hpack-test-case (at the
default table size, at 256 and at 16384) and decodes every case's wire with
one hpack.Decoder per story (one connection), which must give back exactly
the story's header lists. Run with Debian's /usr/bin/python3, which has the
package; the pyenv python3 first on PATH does not.
"""
import json
import os
import subprocess
import sys

from hpack import Decoder


def pairs(headers):
    """A story's [{name: value}] as [(name, value)] in bytes."""
    out = []
    for h in headers:
        assert len(h) == 1, h
        for k, v in h.items():
            out.append((k.encode(), v.encode()))
    return out


def run_story(loom, path, table):
    args = [loom, "hpack", "encode"]
    if table is not None:
        args += ["--table-size", str(table)]
    p = subprocess.run(args + [path], capture_output=True)
    if p.returncode != 0:
        sys.exit(f"{path}: loom hpack encode exited {p.returncode}: {p.stderr.decode()}")
    story = json.loads(p.stdout)
    with open(path, encoding="utf-8") as f:
        original = json.load(f)
    if len(story["cases"]) != len(original["cases"]):
        sys.exit(f"{path}: {len(story['cases'])} cases out, {len(original['cases'])} in")
    # The header lists in a story are large enough that hpack's default
    # 64 KiB list limit is not the thing under test.
    d = Decoder(max_header_list_size=1 << 24)
    fields = 0
    for i, (case, orig) in enumerate(zip(story["cases"], original["cases"])):
        if "header_table_size" in case:
            # what our SETTINGS_HEADER_TABLE_SIZE would have said
            d.max_allowed_table_size = case["header_table_size"]
        want = pairs(orig["headers"])
        if pairs(case["headers"]) != want:
            sys.exit(f"{path} case {i}: loom changed the headers it was given")
        got = [(bytes(n), bytes(v)) for n, v in d.decode(bytes.fromhex(case["wire"]), raw=True)]
        if got != want:
            for k, (g, w) in enumerate(zip(got, want)):
                if g != w:
                    sys.exit(f"{path} case {i} (table {table}) field {k}: hpack got {g}, want {w}")
            sys.exit(f"{path} case {i} (table {table}): hpack got {len(got)} fields, want {len(want)}")
        fields += len(want)
    return len(story["cases"]), fields


def main():
    loom, root = sys.argv[1], sys.argv[2]
    raw = os.path.join(root, "raw-data")
    names = sorted(n for n in os.listdir(raw) if n.startswith("story_") and n.endswith(".json"))
    if len(names) < 30:
        sys.exit(f"{raw}: only {len(names)} stories")
    for table in (None, 256, 16384):
        cases = fields = 0
        for n in names:
            c, f = run_story(loom, os.path.join(raw, n), table)
            cases += c
            fields += f
        print(f"table {table or 4096}: {len(names)} stories, {cases} cases, {fields} fields "
              "encoded by loom and decoded by Python hpack exactly")
    print(f"{3 * len(names)} passed, 0 failed")


if __name__ == "__main__":
    main()
