"""loom get against nghttpd (nghttp2's server), TLS h2 and cleartext h2c
(--no-tls), with pushes (-p). The server's -v log (one [id=N] per
connection, every frame it sent and received) is the server-side witness.

Asserts: bodies by sha256 (-o and stdout); several URLs over one TCP
connection (summary, and one new [id=N] in nghttpd's log); pushes saved
with --push-dir; --no-push (ENABLE_PUSH 0, no PUSH_PROMISE); a promise for
a resource also requested refused with RST_STREAM CANCEL (seen by nghttpd);
the -v trace is nghttp-like and frame for frame what nghttpd logged sending
and receiving, and has the DATA streams and octets `nghttp -nv` sees;
--timeline and --har; --stats; --priority; h2c by prior knowledge (an Upgrade,
which nghttpd does not do, fails with exit 16 and one line).

usage: get_nghttpd.py path/to/loom"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (Peer, Tmp, check, check_bodies, check_cancel, check_har,  # noqa: E402
                        check_no_push, check_priority, check_push_dir, check_stats,
                        check_timeline, check_trace_format, cross_check_nghttp, free_port, get,
                        log, main, make_cert, one_line_error, site)

PUSHES = ["/style.css", "/app.js", "/img.png"]
NGHTTPD_FRAME = re.compile(r"^\[id=(\d+)\] \[\s*[0-9.]+\] (send|recv) ([A-Z_0-9]+) frame "
                           r"<length=(\d+), flags=0x([0-9a-f]{2}), stream_id=(\d+)>")


class Log:
    """nghttpd's -v output, read from where the last look ended."""

    def __init__(self, peer):
        self.peer, self.pos = peer, 0

    def mark(self, timeout=5.0):
        """Starts a new look once every connection already in the log has
        ended: a client that leaves without waiting for the server to close
        (nghttp sends GOAWAY and exits) has nghttpd's last lines for it
        (recv GOAWAY, closed) still to come, and they belong to no later
        look. Every connection nghttpd accepts ends with "closed", so one
        that stays open is a connection left behind: a failure."""
        end = time.monotonic() + timeout
        while True:
            text = self.peer.output()
            left = set(self.conns(text)) - self.closed(text)
            if not left or time.monotonic() > end:
                break
            time.sleep(0.05)
        check(not left, "nghttpd still has connections %s of an earlier step open after %ss:\n%s"
              % (sorted(left), timeout, text[-2000:]))
        self.pos = len(text)

    def new(self, timeout=5.0):
        """The log since mark(), once every connection in it has ended
        (nghttpd logs "[id=N] ... closed"; waits are bounded)."""
        end = time.monotonic() + timeout
        while True:
            text = self.peer.output()[self.pos:]
            if set(self.conns(text)) <= self.closed(text) or time.monotonic() > end:
                self.pos += len(text)
                return text
            time.sleep(0.05)

    @staticmethod
    def conns(text):
        return sorted({int(x) for x in re.findall(r"^\[id=(\d+)\]", text, re.M)})

    @staticmethod
    def closed(text):
        return {int(x) for x in re.findall(r"^\[id=(\d+)\] \[\s*[0-9.]+\] closed$", text, re.M)}

    @staticmethod
    def frames(text):
        return [(m.group(2), m.group(3), int(m.group(4)), int(m.group(5), 16), int(m.group(6)))
                for m in map(NGHTTPD_FRAME.match, text.splitlines()) if m]


def same_frames(r, text, what):
    """Frame for frame: what loom sent is what nghttpd received and the
    reverse (type, length, flags, stream), in order per direction. nghttpd
    may answer our closing GOAWAY after we stopped reading: its frames
    after our GOAWAY are left out."""
    check(len(Log.conns(text)) == 1, "%s: nghttpd logged connections %s, wanted loom's one"
          % (what, Log.conns(text)))
    theirs = Log.frames(text)
    ours = [(f.dir, f.type, f.length, f.flags, f.sid) for f in r.frames]
    flip = {"send": "recv", "recv": "send"}
    sent = [x for x in ours if x[0] == "send"]
    got = [x for x in ours if x[0] == "recv"]
    t_recv = [(flip[x[0]],) + x[1:] for x in theirs if x[0] == "recv"]
    t_sent = [(flip[x[0]],) + x[1:] for x in theirs if x[0] == "send"]
    check(sent == t_recv, "%s: loom sent %d frames, nghttpd received %d different ones:\n"
          "loom: %s\nnghttpd: %s" % (what, len(sent), len(t_recv), sent, t_recv))
    check(got == t_sent[:len(got)], "%s: loom's recv lines differ from nghttpd's send lines:\n"
          "loom: %s\nnghttpd: %s" % (what, got, t_sent))
    rest = t_sent[len(got):]
    check(all(x[1] in ("GOAWAY", "RST_STREAM", "WINDOW_UPDATE", "SETTINGS") for x in rest),
          "%s: nghttpd sent frames loom did not show: %s" % (what, rest))


def test_tls(loom, tmp, root, files, cert, key):
    port = free_port()
    base = "https://127.0.0.1:%d" % port
    push = "-p/index.html=" + ",".join(PUSHES)
    with Peer("nghttpd", ["nghttpd", "-v", "-a", "127.0.0.1", "-d", root, push, str(port), key,
                          cert], ports=[port], out=tmp.join("nghttpd-tls.log")) as srv:
        lg = Log(srv)
        k = ["-k"]
        # bodies, by -o and on stdout, sha256
        check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt", "/app.js"], tmp,
                     k)
        log("tls: bodies by -o and stdout match")

        # several URLs, one connection; pushes saved; frame trace = nghttpd's log
        lg.mark()
        pd = tmp.join("push-tls")
        os.mkdir(pd)
        svg, har = tmp.join("t.svg"), tmp.join("t.har")
        urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt")]
        r = get(loom, *k, "-v", "--push-dir", pd, "--timeline", svg, "--har", har, *urls)
        text = lg.new()
        check(r.summary and r.summary["conns"] == 1 and r.summary["responses"] == 6 and
              r.summary["pushed"] == 3, "summary %s\n%s" % (r.summary, r.describe()))
        check(len(Log.conns(text)) == 1, "nghttpd saw connections %s" % Log.conns(text))
        check_push_dir(pd, files, PUSHES)
        check_trace_format(r)
        for t in ("PUSH_PROMISE", "WINDOW_UPDATE"):
            check(t in r.types(), "-v shows no %s\n%s" % (t, r.describe()))
        same_frames(r, text, "tls push run")
        cross_check_nghttp(r, urls)
        check_timeline(svg, 6, r)
        check_har(har, urls, [base + p for p in PUSHES])
        log("tls: 3 URLs + 3 pushes over 1 connection (nghttpd agrees), pushes saved, trace = "
            "nghttpd's log, DATA streams = nghttp's, timeline and HAR valid")

        # a promise for something also requested: RST_STREAM CANCEL
        lg.mark()
        r = get(loom, *k, "-v", "--har", har, base + "/index.html", base + "/style.css")
        text = lg.new()
        check_cancel(r, "/style.css")
        # the refused promise got no response: no HAR entry
        check_har(har, [base + "/index.html", base + "/style.css"],
                  [base + "/app.js", base + "/img.png"])
        check("RST_STREAM" in r.types() and "error_code=CANCEL(0x08)" in text,
              "nghttpd did not receive RST_STREAM CANCEL:\n" + text[-3000:])
        same_frames(r, text, "tls cancel run")
        check(r.summary["pushed"] == 2 and r.summary["refused"] == 1, "summary %s" % r.summary)
        log("tls: the promise of a requested asset refused with RST_STREAM CANCEL")

        # --no-push
        lg.mark()
        r = get(loom, *k, "-v", "--no-push", base + "/index.html")
        text = lg.new()
        check_no_push(r)
        check("[SETTINGS_ENABLE_PUSH(0x02):0]" in text, "nghttpd did not get ENABLE_PUSH 0")
        check("PUSH_PROMISE" not in text, "nghttpd sent PUSH_PROMISE after ENABLE_PUSH 0")
        check(r.summary["pushed"] == 0, "summary %s" % r.summary)
        log("tls: --no-push sends ENABLE_PUSH 0 and gets no promise")

        first, second, crow = check_stats(loom, base + "/", k + ["--no-push"])
        log("tls: --stats request header blocks %d then %d octets; with a long cookie %d then %d"
            % (first["req_h2"], second["req_h2"], crow[0]["req_h2"], crow[1]["req_h2"]))
        lg.mark()
        check_priority(loom, base + "/small.txt", k)
        text = lg.new()
        check(re.search(r"^\[id=\d+\] \[\s*[0-9.]+\] recv (PRIORITY_UPDATE|UNKNOWN)", text, re.M) or
              "priority: u=1, i" in text, "nghttpd saw neither the priority field nor "
              "PRIORITY_UPDATE:\n" + text[-2000:])
        log("tls: --priority sends the priority field and PRIORITY_UPDATE")


def test_h2c(loom, tmp, root, files):
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    push = "-p/index.html=" + ",".join(PUSHES)
    with Peer("nghttpd-h2c", ["nghttpd", "-v", "--no-tls", "-a", "127.0.0.1", "-d", root, push,
                              str(port)], ports=[port], out=tmp.join("nghttpd-h2c.log")) as srv:
        lg = Log(srv)
        check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt"], tmp, ["--h2c"])
        # nghttpd takes prior knowledge only: an Upgrade attempt fails cleanly
        r = get(loom, base + "/small.txt", expect=None)
        one_line_error(r, 16, r"did not upgrade to h2c \(not an HTTP/1.1 response\); try --h2c")
        log("h2c: bodies match; Upgrade (which nghttpd does not do) fails with exit 16")

        lg.mark()
        pd = tmp.join("push-h2c")
        os.mkdir(pd)
        urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt")]
        r = get(loom, "--h2c", "-v", "--push-dir", pd, *urls)
        text = lg.new()
        check(r.summary["conns"] == 1 and r.summary["pushed"] == 3, "summary %s" % r.summary)
        check(len(Log.conns(text)) == 1, "nghttpd saw connections %s" % Log.conns(text))
        check_push_dir(pd, files, PUSHES)
        same_frames(r, text, "h2c push run")
        cross_check_nghttp(r, urls)

        log("h2c: 3 URLs + 3 pushes over 1 connection (nghttpd agrees), trace = nghttpd's log")

        lg.mark()
        r = get(loom, "--h2c", "-v", base + "/index.html", base + "/app.js")
        text = lg.new()
        check_cancel(r, "/app.js")
        same_frames(r, text, "h2c cancel run")
        r = get(loom, "--h2c", "-v", "--no-push", base + "/index.html")
        check_no_push(r)
        log("h2c: RST_STREAM CANCEL for a requested asset; --no-push")


def run(loom, argv):
    tmp = Tmp("nghttpd")
    root, _, files = site(tmp)
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    test_tls(loom, tmp, root, files, cert, key)
    test_h2c(loom, tmp, root, files)


if __name__ == "__main__":
    main(run)
