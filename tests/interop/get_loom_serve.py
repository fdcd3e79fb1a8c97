"""loom get against `loom serve` (TLS h2 with a certificate made here, h2c by
prior knowledge and by HTTP/1.1 Upgrade), with a push map and an access
log. The access log gives each request's stream id: several URLs over one
connection are streams 1, 3, 5... with no id twice (a second connection
would start again at 1).

Asserts: bodies by sha256 (-o and stdout); the `; N responses ... over 1
connection` summary and the server's stream ids; pushes saved with
--push-dir (and the server logged them as pushed streams 2, 4, 6);
--no-push (ENABLE_PUSH 0, no PUSH_PROMISE, the 103 Early Hints the server
sends instead are skipped and the body is right); RST_STREAM CANCEL for a
promise of a requested asset; -v is nghttp-like and has the DATA streams
and octets of `nghttp -nv`; --timeline and --har; --stats; --priority;
--fail with a 404 (exit 22); a missing --push-dir (exit 23).

usage: get_loom_serve.py path/to/loom"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (LogTail, Peer, Tmp, check, check_bodies, check_cancel,  # noqa: E402
                        check_har, check_no_push, check_priority, check_push_dir, check_stats,
                        check_timeline, check_trace_format, cross_check_nghttp, free_port, get,
                        log, main, make_cert, one_line_error, site)

PUSHES = ["/style.css", "/app.js", "/img.png"]


def sids(lines):
    return [int(re.search(r" stream=(\d+) ", l).group(1)) for l in lines if " stream=" in l]


def one_conn(alog, r, nreq, npush, what):
    lines = alog.new(nreq + npush)
    s = sids(lines)
    check(r.summary and r.summary["conns"] == 1, "%s: summary %s\n%s" % (what, r.summary,
                                                                         r.describe()))
    odd = sorted(x for x in s if x % 2)
    even = sorted(x for x in s if x % 2 == 0)
    check(odd == list(range(1, 2 * nreq, 2)) and len(even) == npush,
          "%s: the server logged streams %s (wanted 1..%d once each, %d pushed)" %
          (what, s, 2 * nreq - 1, npush))


def run(loom, argv):
    tmp = Tmp("serve")
    root, _, files = site(tmp)
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    pmap = tmp.write("push.map", "/index.html " + " ".join(PUSHES) + "\n")
    tls, clear = free_port(), free_port()
    alog = LogTail(tmp.join("access.log"))
    env = dict(os.environ, XDG_CACHE_HOME=tmp.join("cache"))
    cmd = [loom, "serve", root, "--https", "127.0.0.1:%d" % tls, "--http", "127.0.0.1:%d" % clear,
           "--workers", "1", "--cert", cert, "--key", key, "--push-map", pmap, "--log-format", "loom", "--access-log",
           tmp.join("access.log")]
    with Peer("loom-serve", cmd, ports=[tls, clear], env=env, out=tmp.join("serve.out")):
        for base, k in (("https://127.0.0.1:%d" % tls, ["--cacert", cert]),
                        ("http://127.0.0.1:%d" % clear, ["--h2c"]),
                        ("http://127.0.0.1:%d" % clear, [])):
            name = "tls" if k[0:1] == ["--cacert"] else "h2c" if k else "upgrade"
            check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt", "/app.js"],
                         tmp, k)

            alog.mark()
            pd = tmp.join("push-" + name)
            os.mkdir(pd)
            svg, har = tmp.join(name + ".svg"), tmp.join(name + ".har")
            urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt")]
            r = get(loom, *k, "-v", "--push-dir", pd, "--timeline", svg, "--har", har, *urls)
            check(r.summary["responses"] == 6 and r.summary["pushed"] == 3,
                  "%s: summary %s" % (name, r.summary))
            one_conn(alog, r, 3, 3, name)
            check_push_dir(pd, files, PUSHES)
            check_trace_format(r)
            check("PUSH_PROMISE" in r.types(), "%s: no PUSH_PROMISE in -v" % name)
            if name != "upgrade":
                cross_check_nghttp(r, urls)
            check_timeline(svg, 6, r)
            check_har(har, urls, [base + p for p in PUSHES])
            log("%s: 3 URLs + 3 pushes over 1 connection (summary and the server's stream ids), "
                "pushes saved, timeline and HAR valid" % name)

            r = get(loom, *k, "-v", base + "/index.html", base + "/img.png")
            check_cancel(r, "/img.png")
            r = get(loom, *k, "-v", "--no-push", base + "/index.html")
            check_no_push(r)
            check(re.search(r"^\s+:status: 200$", r.err, re.M) and r.out == files["/index.html"],
                  "%s: --no-push page (after 103 Early Hints) wrong\n%s" % (name, r.describe()))
            log("%s: RST_STREAM CANCEL for a requested asset; --no-push (103 skipped)" % name)

            if name != "upgrade":
                first, second, crow = check_stats(loom, base + "/", k)
                check_priority(loom, base + "/small.txt", k)
                log("%s: --stats %d then %d octets (cookie %d then %d); --priority" %
                    (name, first["req_h2"], second["req_h2"], crow[0]["req_h2"],
                     crow[1]["req_h2"]))
            r = get(loom, *k, "--fail", base + "/missing.txt", expect=None)
            one_line_error(r, 22, r"missing\.txt: HTTP status 404$")

        base = "https://127.0.0.1:%d" % tls
        r = get(loom, "-k", "--push-dir", tmp.join("no-such-dir"), base + "/index.html",
                expect=None)
        check(r.rc == 23 and "cannot write %s/style.css" % tmp.join("no-such-dir") in r.err,
              "a missing --push-dir: exit %d\n%s" % (r.rc, r.describe()))
        r = get(loom, "-k", "-o", tmp.join("no-such-dir", "x"), base + "/small.txt", expect=None)
        one_line_error(r, 23, r"cannot write .*no-such-dir/x: No such file")
        log("--fail 404 exits 22; an unwritable -o or --push-dir exits 23")


if __name__ == "__main__":
    main(run)
