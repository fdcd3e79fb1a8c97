#!/usr/bin/env python3
"""Makes loom's man pages from its --help texts (one source: what the
program says is what the page says).

    tools/man.py LOOM OUTDIR   writes OUTDIR/loom.1, loom-serve.1, loom-get.1,
                               loom-bench.1, loom-relay.1

A --help text is: a "usage:" line, paragraphs, an "options:" (or
"commands:") list of entries indented two spaces whose descriptions line
up in a column (continuation lines indented further), and paragraphs after
("exit status: ...")."""
import datetime
import os
import re
import subprocess
import sys

PAGES = [
    ("loom", [], "an HTTP/2 implementation: client, server, load generator"),
    ("loom-serve", ["serve"], "an HTTP/2 server: TLS, h2c, HTTP/1.1, static files, push"),
    ("loom-get", ["get"], "an HTTP/2 client: many URLs over one connection"),
    ("loom-bench", ["bench"], "an HTTP/2 load generator"),
    ("loom-relay", ["relay"], "an emulated network link: round-trip time, rate, slow start, loss"),
]


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def entries(lines):
    """(head, description) for each entry of an indented list."""
    out = []
    for l in lines:
        if re.match(r"^  \S", l):
            m = re.match(r"^  (\S(?:.*?\S)?)(?:\s{2,}(\S.*))?$", l)
            out.append([m.group(1), m.group(2) or ""])
        elif out and l.strip():
            out[-1][1] += " " + l.strip()
    return out


def page(name, help_text, summary, version):
    lines = help_text.rstrip("\n").split("\n")
    usage = lines[0][len("usage: "):] if lines[0].startswith("usage: ") else name
    blocks, cur, title = [], [], None
    for l in lines[1:]:
        m = re.match(r"^(options|commands|exit status|examples|environment|files):(.*)$", l)
        if m and not l.startswith(" "):
            blocks.append((title, cur))
            title, cur = m.group(1), ([m.group(2).strip()] if m.group(2).strip() else [])
        else:
            cur.append(l)
    blocks.append((title, cur))
    today = datetime.date.today().isoformat()
    out = ['.TH %s 1 "%s" "loom %s" "loom manual"' % (name.upper(), today, version),
           ".SH NAME", "%s \\- %s" % (name, roff(summary)),
           ".SH SYNOPSIS", ".B %s" % roff(usage.split(" ", 1)[0]),
           roff(usage.split(" ", 1)[1]) if " " in usage else ""]
    for title, body in blocks:
        if title in ("options", "commands"):
            out.append(".SH " + title.upper())
            for head, desc in entries(body):
                out += [".TP", ".B " + roff(head), roff(desc)]
        else:
            text = " ".join(l.strip() for l in body if l.strip())
            if not text:
                continue
            out.append(".SH " + ("DESCRIPTION" if title is None else title.upper()))
            for para in "\n".join(body).strip().split("\n\n"):
                out += [".PP", roff(" ".join(x.strip() for x in para.split("\n")))]
    others = [p[0] for p in PAGES if p[0] != name]
    out += [".SH SEE ALSO", ", ".join("\\fB%s\\fR(1)" % o for o in others)]
    return "\n".join(x for x in out if x != "") + "\n"


def main():
    loom, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    version = subprocess.run([loom, "--version"], capture_output=True, text=True).stdout.split()
    version = version[1] if len(version) > 1 else "?"
    for name, args, summary in PAGES:
        p = subprocess.run([loom] + args + ["--help"], capture_output=True, text=True)
        with open(os.path.join(outdir, name + ".1"), "w") as f:
            f.write(page(name, p.stdout or p.stderr, summary, version))


if __name__ == "__main__":
    main()
