#!/usr/bin/python3
"""loom serve under load from h2load (nghttp2): 20000 requests for a small
file over 10 connections with 10 streams each, over TLS (ALPN h2) and over
h2c (prior knowledge). Every request must succeed with status 200, the
response headers must compress as HPACK allows (h2load's "space savings"
at least 94 %), and the server must still exit 0 (ASan/UBSan clean) after
SIGTERM.

Usage: serve_h2load.py LOOM"""
import os
import re
import shutil

from serve_common import Server, check, main, make_tmp, run

N = 20000
BODY = b"0123456789abcdef" * 64  # 1 KiB


def test(argv):
    loom = argv[0]
    tmp = make_tmp("h2load")
    try:
        site = os.path.join(tmp, "site")
        os.makedirs(site)
        with open(os.path.join(site, "small.txt"), "wb") as f:
            f.write(BODY)
        with Server(loom, site=site, tmp=tmp) as s:
            for label, url in (("TLS h2", s.https), ("h2c", s.http)):
                p = run(["h2load", "-n", str(N), "-c", "10", "-m", "10", "-T", "30", "-N", "30",
                         url + "/small.txt"], timeout=120)
                out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
                check(p.returncode == 0, "%s: h2load exited %d:\n%s" %
                      (label, p.returncode, out[-3000:]))
                check("Application protocol: h2" in out or "h2c" in out,
                      "%s: h2load did not speak HTTP/2:\n%s" % (label, out[-3000:]))
                want = "requests: %d total, %d started, %d done, %d succeeded, 0 failed, " \
                       "0 errored" % (N, N, N, N)
                check(want in out, "%s: wanted %r in h2load's report:\n%s" %
                      (label, want, out[-3000:]))
                m = re.search(r"status codes: (\d+) 2xx", out)
                check(m and int(m.group(1)) == N, "%s: not %d 2xx:\n%s" % (label, N, out[-3000:]))
                # HPACK's dynamic table at work on the responses: the same
                # file again and again costs an octet or so a field
                m = re.search(r"headers \(space savings ([\d.]+)%\)", out)
                check(m and float(m.group(1)) >= 94.0,
                      "%s: response header savings %s%%, wanted >= 94%%:\n%s" %
                      (label, m and m.group(1), out[-3000:]))
                m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
                if m:
                    print("%s: %s%s, %s req/s" % (label, m.group(1), m.group(2), m.group(3)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
