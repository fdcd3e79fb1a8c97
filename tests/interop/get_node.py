"""loom get against Node.js's http2 server (tests/interop/get_node_server.js:
createSecureServer for TLS h2, createServer for h2c by prior knowledge),
which pushes with stream.pushStream, PINGs each session, reads POST bodies
and answers their sha256, and resets /reset. The server prints a line per
session, push, cancelled push and priority field: the server-side witness.

Asserts: bodies by sha256 (-o and stdout); several URLs over one
connection (summary, and one new Node session); the server's PING answered
(PING with ACK in -v); pushes saved (--push-dir); --no-push (Node sees
pushAllowed false); RST_STREAM CANCEL of a promised asset also requested
(Node sees the stream cancelled); -d @FILE with a 5 MB body (sha256 from
the server, WINDOW_UPDATEs received as Node's 64 KiB windows fill); a
stream reset by the server (exit 92, one line); --priority (Node receives
the field, -v shows PRIORITY_UPDATE); -v shows every frame type of these
exchanges; --timeline and --har.

usage: get_node.py path/to/loom"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (Peer, Tmp, check, check_bodies, check_cancel, check_har,  # noqa: E402
                        check_no_push, check_priority, check_push_dir, check_timeline,
                        check_trace_format, free_port, get, log, main, make_cert,
                        one_line_error, sha256, site)

HERE = os.path.dirname(os.path.abspath(__file__))
PUSHES = ["/style.css", "/app.js"]


class NodeLog:
    def __init__(self, peer):
        self.peer, self.pos = peer, 0

    def mark(self):
        self.pos = len(self.peer.output())

    def new(self, want=None, timeout=5.0):
        """Lines since mark(); waits (bounded) for a line equal to want."""
        end = time.monotonic() + timeout
        while True:
            text = self.peer.output()[self.pos:]
            if want is None or want in text.splitlines() or time.monotonic() > end:
                self.pos += len(text)
                return text.splitlines()
            time.sleep(0.05)


def sessions(lines):
    return [l for l in lines if l.startswith("session ")]


def run(loom, argv):
    tmp = Tmp("node")
    root, _, files = site(tmp)
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    tls, clear = free_port(), free_port()
    cmd = ["node", os.path.join(HERE, "get_node_server.js"), root, cert, key, str(tls), str(clear)]
    seen = set()
    with Peer("node", cmd, ports=[tls, clear], out=tmp.join("node.out")) as srv:
        nl = NodeLog(srv)
        for base, k in (("https://127.0.0.1:%d" % tls, ["-k"]), ("http://127.0.0.1:%d" % clear,
                                                                 ["--h2c"])):
            name = base.split(":")[0]
            check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt", "/app.js"],
                         tmp, k)

            nl.mark()
            pd = tmp.join("push-" + name)
            os.mkdir(pd)
            svg, har = tmp.join(name + ".svg"), tmp.join(name + ".har")
            urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt", "/img.png")]
            r = get(loom, *k, "-v", "--push-dir", pd, "--timeline", svg, "--har", har, *urls)
            lines = nl.new()
            check(r.summary["conns"] == 1 and r.summary["responses"] == 6 and
                  r.summary["pushed"] == 2, "%s: summary %s\n%s" % (name, r.summary,
                                                                    r.describe()))
            check(len(sessions(lines)) == 1, "%s: Node saw sessions %s" % (name, lines))
            check_push_dir(pd, files, PUSHES)
            check_trace_format(r)
            ping = r.sel("recv", "PING", flags=0)
            pong = r.sel("send", "PING", flags=1)
            check(ping and pong, "%s: the server's PING and our ACK not in -v\n%s" %
                  (name, r.describe()))
            check("(opaque_data=6c6f6f6d706e6721)" in r.err, "PING payload not shown")
            check_timeline(svg, 6, r)
            check_har(har, urls, [base + p for p in PUSHES])
            seen |= r.types()
            log("%s: 4 URLs + 2 pushes over 1 connection (1 Node session), PING answered, "
                "pushes saved, timeline and HAR valid" % name)

            nl.mark()
            r = get(loom, *k, "-v", base + "/index.html", base + "/app.js")
            check_cancel(r, "/app.js")
            lines = nl.new("push-cancelled /app.js")
            check("push-cancelled /app.js" in lines, "Node did not see the push cancelled: %s" %
                  lines)
            seen |= r.types()
            nl.mark()
            r = get(loom, *k, "-v", "--no-push", base + "/index.html")
            check_no_push(r)
            lines = nl.new()
            check(not [l for l in lines if l.startswith("push")], "Node pushed: %s" % lines)
            log("%s: RST_STREAM CANCEL (Node saw it); --no-push (Node may not push)" % name)

            # a 5 MB POST body, read and hashed by the server
            body = os.urandom(5 * 1024 * 1024 + 17)
            up = tmp.write("upload-%s.bin" % name, body)
            r = get(loom, *k, "-v", "-d", "@" + up, base + "/upload")
            got = json.loads(r.out)
            check(got == {"sha256": sha256(body), "length": len(body)},
                  "%s: the server read %s, wanted %d octets %s" % (name, got, len(body),
                                                                   sha256(body)[:16]))
            sent = sum(f.length for f in r.sel("send", "DATA", sid=1))
            check(sent == len(body), "%s: %d DATA octets sent" % (name, sent))
            check(r.count("recv", "WINDOW_UPDATE") >= 10, "%s: only %d WINDOW_UPDATE for 5 MB" %
                  (name, r.count("recv", "WINDOW_UPDATE")))
            check(re.search(r"^\s+:method: POST$", r.err, re.M) and
                  re.search(r"^\s+content-length: %d$" % len(body), r.err, re.M),
                  "%s: POST/content-length not sent" % name)
            seen |= r.types()
            log("%s: a 5 MB POST arrived whole (sha256 from the server), %d WINDOW_UPDATEs" %
                (name, r.count("recv", "WINDOW_UPDATE")))

            r = get(loom, *k, base + "/reset", expect=None)
            one_line_error(r, 92, r"/reset: stream 1 reset: INTERNAL_ERROR$")
            r = get(loom, *k, "-v", base + "/reset", expect=92)
            check(r.sel("recv", "RST_STREAM", sid=1) and "error_code=INTERNAL_ERROR(0x02)" in r.err,
                  "no RST_STREAM INTERNAL_ERROR in -v\n" + r.describe())
            seen |= r.types()
            r = get(loom, *k, "--fail", base + "/missing", expect=None)
            one_line_error(r, 22, r"/missing: HTTP status 404$")
            log("%s: a reset stream exits 92, --fail 404 exits 22 (one line each)" % name)

            nl.mark()
            r = check_priority(loom, base + "/small.txt", k)
            check("priority u=1, i" in nl.new("priority u=1, i"), "Node did not get the priority field")
            seen |= r.types()
            log("%s: --priority: the field reaches Node, PRIORITY_UPDATE in -v" % name)
    want = {"SETTINGS", "HEADERS", "DATA", "WINDOW_UPDATE", "PUSH_PROMISE", "RST_STREAM",
            "GOAWAY", "PING", "PRIORITY_UPDATE"}
    check(want <= seen, "frame types never shown by -v: %s" % (want - seen))
    log("-v showed every frame type: %s" % " ".join(sorted(seen)))


if __name__ == "__main__":
    main(run)
