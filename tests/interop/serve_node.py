#!/usr/bin/python3
"""Runs tests/interop/serve_node.js (Node.js's http2 client) against a
`loom serve` on its built-in demo site, then checks the server exits 0.

Usage: serve_node.py LOOM"""
import os
import shutil

from serve_common import Server, check, main, make_tmp, run

HERE = os.path.dirname(os.path.abspath(__file__))


def test(argv):
    loom = argv[0]
    node = shutil.which("node") or shutil.which("nodejs")
    check(node, "node (Debian package nodejs) is not installed")
    tmp = make_tmp("node")
    try:
        with Server(loom, tmp=tmp) as s:
            demo = os.path.join(s.cache, "loom", "demo-site")
            check(os.path.isfile(os.path.join(demo, "index.html")), "no demo site in %s" % demo)
            p = run([node, os.path.join(HERE, "serve_node.js"), s.https, s.http, demo],
                    timeout=60)
            out = p.stdout.decode(errors="replace")
            err = p.stderr.decode(errors="replace")
            print(out, end="")
            check(p.returncode == 0, "serve_node.js exited %d:\n%s%s" % (p.returncode, out, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
