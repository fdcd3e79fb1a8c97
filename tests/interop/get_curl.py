"""loom get as a curl user expects, checked against curl itself: the same
command line of both, sent to a capturing server (capture_server.py:
HTTP/2 over TLS, h2c by prior knowledge, HTTP/1.1 that ignores the
Upgrade), must arrive as the same request: method, :authority/Host, the
header fields the user set, and body.

- The request asked for: -X PUT -H Authorization -d over an http:// URL
  (the HTTP/1.1 Upgrade request carries them), over h2 and h2c; loom serve
  logs `-d hello` as a POST (405), not a GET.
- A user's field replaces the default one (User-Agent, Accept, one each);
  -H Host becomes :authority (and Host over HTTP/1.1, no second Host);
  Connection, Keep-Alive, Transfer-Encoding, Upgrade, TE (not trailers),
  Proxy-Connection are not sent (said under -v), where a server that
  validates (loom serve) would reset the stream.
- -u user:password as Basic (the same value curl sends); -b 'a=1' and a
  Netscape cookie file written by -c and read by curl (and the other way
  round); --compressed against loom serve (gzip and br decoded: the file's
  octets); -i and -I (status line and fields, like curl's); -s, -S;
  -w with the common variables (against curl's values on the same URL);
  --resolve; --connect-timeout against a silent TLS port (exit 28 in time);
  -n 3 -o FILE (three bodies); -v shows the address, TLS version, ALPN and
  the certificate's subject and issuer; the timeline draws DNS, connect and
  TLS as bars and starts its axis at the connection.
- Every refused argument: one line, exit 2 (a bad URL or port: 3).

Every process started here is stopped by PID."""
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (Peer, Tmp, check, free_port, get, log, main, make_cert,  # noqa: E402
                        one_line_error)

HERE = os.path.dirname(os.path.abspath(__file__))


class Capture:
    """The capture server's requests, read as they come."""

    def __init__(self, peer):
        self.peer, self.seen = peer, 0

    def next(self, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = [l for l in self.peer.output().splitlines() if l.startswith("{")]
            if len(lines) > self.seen:
                self.seen += 1
                return json.loads(lines[self.seen - 1])
            time.sleep(0.02)
        raise AssertionError("the capture server saw no request within %ds" % timeout)

    def skip_all(self):
        self.seen = len([l for l in self.peer.output().splitlines() if l.startswith("{")])


def curl(*args, timeout=20):
    p = subprocess.run(["curl", "-s", "-S"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p


def fields(req, *names):
    return [[k, v] for k, v in req["headers"] if k in names]


def same_request(cap, label, loom_args, curl_args, url, loom, names):
    """loom get and curl, the same request: method, authority, path, body,
    and the fields named (name and value, in number)."""
    r = get(loom, *loom_args, url)
    got = cap.next()
    p = curl(*curl_args, url)
    check(p.returncode == 0, "curl %s: %s" % (curl_args, p.stderr))
    want = cap.next()
    for k in ("method", "path", "authority", "body"):
        check(got[k] == want[k], "%s: %s is %r from loom get, %r from curl" %
              (label, k, got[k], want[k]))
    for n in names:
        a, b = sorted(v for k, v in fields(got, n)), sorted(v for k, v in fields(want, n))
        check(a == b, "%s: field %s: loom get %r, curl %r" % (label, n, a, b))
    return r, got, want


def test(loom, argv):
    t = Tmp("curl")
    cert, key = make_cert(t.path, ["DNS:localhost", "DNS:capture.test", "IP:127.0.0.1"],
                          cn="capture.test")
    tls, h2c, h1 = free_port(), free_port(), free_port()
    with Peer("capture", ["/usr/bin/python3", os.path.join(HERE, "capture_server.py"),
                          str(tls), str(h2c), str(h1), cert, key], ports=[tls, h2c, h1]) as srv:
        cap = Capture(srv)
        k = ["-k"]
        # the request asked for, over the Upgrade (HTTP/1.1), h2 and h2c
        ask = ["-X", "PUT", "-H", "Authorization: Bearer x", "-d", "body"]
        for label, url, lx, cx in (
                ("upgrade", "http://127.0.0.1:%d/p?q=1" % h1, [], ["--http2"]),
                ("h2", "https://127.0.0.1:%d/p?q=1" % tls, k, k + ["--http2"]),
                ("h2c", "http://127.0.0.1:%d/p?q=1" % h2c, ["--h2c"],
                 ["--http2-prior-knowledge"])):
            _, got, _ = same_request(cap, label, lx + ask, cx + ask, url, loom,
                                     ["authorization", "content-length"])
            check(got["method"] == "PUT" and bytes.fromhex(got["body"]) == b"body",
                  "%s: the PUT and its body: %r" % (label, got))
            if label == "upgrade":
                up = [v for k2, v in got["headers"] if k2 == "upgrade"]
                check(up == ["h2c"], "the Upgrade rides on the real request: %r" % got)
        log("-X PUT -H Authorization -d: the same request as curl's over Upgrade, h2 and h2c")

        # a user's field replaces the default one; Host is the authority
        mine = ["-H", "User-Agent: mine/1", "-H", "Accept: text/plain", "-H", "Host: other.test"]
        for label, url, lx, cx in (
                ("h2", "https://127.0.0.1:%d/h" % tls, k, k + ["--http2"]),
                ("http/1.1", "http://127.0.0.1:%d/h" % h1, [], ["--http2"])):
            _, got, want = same_request(cap, label, lx + mine, cx + mine, url, loom,
                                        ["user-agent", "accept", "host"])
            check(got["authority"] == "other.test" and not fields(got, "host"),
                  "%s: -H Host is the authority, sent once: %r" % (label, got))
            check(fields(got, "user-agent") == [["user-agent", "mine/1"]] and
                  fields(got, "accept") == [["accept", "text/plain"]],
                  "%s: one user-agent and one accept, the user's: %r" % (label, got))
        log("-H User-Agent/Accept replace loom's; -H Host is :authority (Host over HTTP/1.1)")

        # connection-specific fields are not sent (said under -v)
        hop = ["-H", "Connection: keep-alive", "-H", "Keep-Alive: 5", "-H",
               "Transfer-Encoding: chunked", "-H", "Upgrade: websocket", "-H", "TE: gzip",
               "-H", "Proxy-Connection: x", "-v"]
        r = get(loom, *(k + hop), "https://127.0.0.1:%d/c" % tls)
        got = cap.next()
        names = {n for n, _ in got["headers"]}
        bad = names & {"connection", "keep-alive", "transfer-encoding", "upgrade", "te",
                       "proxy-connection"}
        check(not bad, "connection-specific fields sent over h2: %r" % bad)
        check(r.err.count("not sending '") == 6 and "RFC 9113" in r.err,
              "-v says what was not sent: %s" % r.err[:800])
        r = get(loom, *(k + ["-H", "TE: trailers"]), "https://127.0.0.1:%d/c" % tls)
        got = cap.next()
        check(fields(got, "te") == [["te", "trailers"]], "TE: trailers is sent: %r" % got)
        log("Connection, Keep-Alive, Transfer-Encoding, Upgrade, TE, Proxy-Connection: "
            "not sent, said under -v; TE: trailers sent")

        # -u: Basic, as curl sends it; -b literal cookies
        _, got, _ = same_request(cap, "-u", k + ["-u", "al:pa:ss"], k + ["-u", "al:pa:ss"],
                                 "https://127.0.0.1:%d/u" % tls, loom, ["authorization"])
        check(fields(got, "authorization") == [
            ["authorization", "Basic " + base64.b64encode(b"al:pa:ss").decode()]],
            "-u: %r" % got)
        _, got, _ = same_request(cap, "-b", k + ["-b", "a=1; b=2"], k + ["-b", "a=1; b=2"],
                                 "https://127.0.0.1:%d/b" % tls, loom, ["cookie"])
        log("-u user:password and -b 'a=1; b=2': the same fields as curl's")

        # --resolve: the name in the URL, the address given
        r = get(loom, "-k", "--resolve", "capture.test:%d:127.0.0.1" % tls, "-w",
                "%{remote_ip}", "https://capture.test:%d/r" % tls)
        got = cap.next()
        check(got["authority"] == "capture.test:%d" % tls and r.out == b"ok\n127.0.0.1",
              "--resolve: %r %r" % (got, r.out))
        log("--resolve capture.test:PORT:127.0.0.1: connected there, :authority the name")

        # -n 3 -o FILE: three bodies in the file
        out = t.join("three")
        get(loom, "-k", "-n", "3", "-o", out, "https://127.0.0.1:%d/n" % tls)
        check(open(out, "rb").read() == b"ok\n" * 3, "-n 3 -o: %r" % open(out, "rb").read())
        for _ in range(3):
            cap.next()
        log("-n 3 -o FILE: the three bodies in FILE")

        # -v: address, TLS, ALPN, certificate
        r = get(loom, "-k", "-v", "https://127.0.0.1:%d/v" % tls)
        cap.next()
        for want in ("connected to 127.0.0.1 port %d (127.0.0.1), TLSv1.3" % tls, "ALPN: h2",
                     "server certificate: subject /CN=capture.test; issuer /CN=capture.test"):
            check(want in r.err, "-v shows %r:\n%s" % (want, r.err[:1500]))
        log("-v: the address, TLS version and cipher, ALPN, certificate subject and issuer")

        # -w against curl's values on the same URL
        fmt = "%{http_code} %{http_version} %{num_redirects} %{url_effective} %{scheme} " \
              "%{remote_port} %{size_download} %{content_type}|"
        for url, lx, cx in (("https://127.0.0.1:%d/w" % tls, k, k),
                            ("http://127.0.0.1:%d/w" % h1, [], [])):
            r = get(loom, *lx, "-o", "/dev/null", "-w", fmt, url)
            p = curl(*cx, "-o", "/dev/null", "-w", fmt, url)
            check(r.out.decode().lower() == p.stdout.decode().lower(),
                  "-w: loom get %r, curl %r" % (r.out, p.stdout))
        r = get(loom, "-k", "-o", "/dev/null", "-w",
                "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} "
                "%{time_total}", "https://127.0.0.1:%d/w" % tls)
        ts = [float(x) for x in r.out.split()]
        check(all(0 <= a <= b for a, b in zip(ts, ts[1:])) and ts[2] > 0 and ts[4] < 10,
              "-w times in order: %r" % ts)
        cap.skip_all()
        log("-w: code, version, redirects, URL, scheme, port, size, type as curl's; times in "
            "order")

        # -i: status line and fields before the body, as curl -i
        r = get(loom, "-k", "-i", "https://127.0.0.1:%d/i" % tls)
        p = curl("-k", "-i", "https://127.0.0.1:%d/i" % tls)
        check(r.out == p.stdout, "-i: loom get %r, curl %r" % (r.out, p.stdout))
        r = get(loom, "-i", "http://127.0.0.1:%d/i" % h1)
        p = curl("-i", "http://127.0.0.1:%d/i" % h1)
        check(r.out == p.stdout, "-i over HTTP/1.1: loom get %r, curl %r" % (r.out, p.stdout))
        time.sleep(0.2)
        cap.skip_all()
        r = get(loom, "-k", "-I", "https://127.0.0.1:%d/head" % tls)
        got = cap.next()
        check(got["method"] == "HEAD" and r.out.startswith(b"HTTP/2 200 \r\n") and
              r.out.endswith(b"\r\n\r\n"), "-I: %r %r" % (got["method"], r.out))
        log("-i (h2 and HTTP/1.1) as curl -i writes it; -I sends HEAD and shows the head")

        # --connect-timeout: a TLS port that accepts and never answers
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        start = time.monotonic()
        r = get(loom, "--connect-timeout", "0.5", "--max-time", "20",
                "https://127.0.0.1:%d/" % silent.getsockname()[1], expect=None)
        took = time.monotonic() - start
        silent.close()
        one_line_error(r, 28, r"timed out")
        check(took < 5, "--connect-timeout 0.5 took %.1f s" % took)
        log("--connect-timeout 0.5 on a silent TLS port: exit 28 after %.1f s" % took)

        # -s silences the error, -S brings it back
        port = free_port()
        r = get(loom, "-s", "http://127.0.0.1:%d/" % port, expect=7)
        check(r.err == "", "-s: nothing on stderr: %r" % r.err)
        r = get(loom, "-s", "-S", "http://127.0.0.1:%d/" % port, expect=7)
        check(r.err.startswith("loom get: ") and r.err.count("\n") == 1, "-sS: %r" % r.err)
        log("-s: silent failure (exit 7); -sS: the one line")

        # the timeline: DNS, connect, TLS as bars; the axis from the connection
        svg = t.join("t.svg")
        get(loom, "-k", "--timeline", svg, "https://127.0.0.1:%d/t" % tls)
        cap.skip_all()
        root = ET.parse(svg).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        phases = {e.get("data-phase"): e for e in root.iter(ns + "rect")
                  if e.get("class") == "phase"}
        check({"dns", "connect", "tls"} <= set(phases), "timeline phases: %r" % list(phases))
        xs = [float(phases[p].get("x")) for p in ("dns", "connect", "tls")]
        marks = [float(e.get("x")) for e in root.iter(ns + "rect") if e.get("class") == "frame"]
        check(abs(xs[0] - 330) < 2 and xs[0] <= xs[1] <= xs[2] <= min(marks),
              "the axis starts at the connection, DNS < connect < TLS < frames: %r %r" %
              (xs, min(marks)))
        log("--timeline: DNS, connect and TLS bars first on the axis, then the frames")

    # loom serve: -d is a POST (logged), --compressed decodes, cookies both ways
    site = t.join("site")
    os.makedirs(site)
    text = ("line of text for compression %d\n" * 400 % tuple(range(400))).encode()
    with open(os.path.join(site, "t.txt"), "wb") as f:
        f.write(text)
    os.makedirs(os.path.join(site, "dir"))
    with open(os.path.join(site, "dir", "index.html"), "w") as f:
        f.write("in the folder\n")
    port, sport = free_port(), free_port()
    alog = t.join("access.log")
    with Peer("loom-serve", [loom, "serve", site, "--http", "127.0.0.1:%d" % port, "--https",
                             "127.0.0.1:%d" % sport, "--access-log", alog, "--workers", "1"],
              ports=[port, sport], env=dict(os.environ, XDG_CACHE_HOME=t.join("cache"))):
        r = get(loom, "-d", "hello", "-w", "%{http_code}", "http://127.0.0.1:%d/t.txt" % port)
        check(r.out.endswith(b"405"), "-d to a static file: 405, got %r" % r.out[-20:])
        time.sleep(0.2)
        check(re.search(r'"POST /t.txt HTTP/(1.1|2.0)" 405', open(alog).read()),
              "loom serve logs the POST: %r" % open(alog).read()[-300:])
        for enc in ("gzip", "br"):
            r = get(loom, "-k", "--compressed", "-H", "Accept-Encoding: " + enc, "-w",
                    "|%{size_download}", "https://127.0.0.1:%d/t.txt" % sport)
            body, _, size = r.out.rpartition(b"|")
            check(body == text and int(size) < len(text) // 4,
                  "--compressed %s: %d octets decoded to %d (file %d)" %
                  (enc, int(size), len(body), len(text)))
        log("loom serve: -d logged as POST (405); --compressed gzip and br decoded whole")
        # -L on the same origin: the hop goes over the connection already open
        r = get(loom, "-k", "-L", "-v", "-w", "%{num_redirects}", "https://127.0.0.1:%d/dir" % sport)
        check(r.out == b"in the folder\n1" and r.summary and r.summary["conns"] == 1 and
              r.summary["responses"] == 2, "-L /dir: %r %r" % (r.out, r.summary))
        log("-L /dir -> /dir/ over the one connection")

    # cookies: a server that sets them; -c written, read by curl; curl's jar read by loom
    jar_py = t.write("cookies.py", """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("cookie=%s\\n" % self.headers.get("Cookie")).encode()
        self.send_response(200)
        if self.path == "/set":
            self.send_header("Set-Cookie", "sid=abc; Path=/")
            self.send_header("Set-Cookie", "deep=1; Path=/a")
            self.send_header("Set-Cookie", "gone=1; Max-Age=0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")
    cport = free_port()
    with Peer("cookies", ["/usr/bin/python3", jar_py, str(cport)], ports=[cport]):
        base = "http://127.0.0.1:%d" % cport
        ljar, cjar = t.join("loom.jar"), t.join("curl.jar")
        get(loom, "-c", ljar, base + "/set")
        p = curl("-b", ljar, base + "/a/x")
        check(p.stdout == b"cookie=deep=1; sid=abc\n", "curl reads loom's jar: %r" % p.stdout)
        curl("-c", cjar, base + "/set")
        r = get(loom, "-b", cjar, base + "/a/x")
        check(r.out in (b"cookie=deep=1; sid=abc\n",), "loom reads curl's jar: %r" % r.out)
        r = get(loom, "-b", cjar, base + "/")
        check(r.out == b"cookie=sid=abc\n", "by path: only sid for /: %r" % r.out)
        log("-c: a Netscape jar curl reads; -b: curl's jar read, cookies by path, Max-Age=0 gone")

    # every refused argument: one line, exit 2 (3 for a URL)
    u = "http://127.0.0.1:1/"
    for args, code, pat in (
            (["--max-time", "abc", u], 2, r"--max-time needs a number"),
            (["--connect-timeout", "-1", u], 2, r"--connect-timeout needs a number"),
            (["-n", "0", u], 2, r"-n needs a whole number"),
            (["--max-redirs", "x", u], 2, r"--max-redirs needs a whole number"),
            (["-u", "nopassword", u], 2, r"-u needs USER:PASSWORD"),
            (["--resolve", "a.b:443", u], 2, r"--resolve needs HOST:PORT:ADDR"),
            (["--resolve", "a.b:443:nohost", u], 2, r"not an IPv4 or IPv6 address"),
            (["-X", "BAD METHOD", u], 2, r"-X needs a method name"),
            (["-o", "x", "-O", u], 2, r"-o and -O"),
            (["-I", "-d", "x", u], 2, r"HEAD request has no body"),
            (["-a", "-L", u], 2, r"-a and -L"),
            (["--nope", u], 2, r"unknown option '--nope'"),
            (["-H", "no colon", u], 2, r"-H needs 'name: value'"),
            (["http://127.0.0.1:99999/"], 3, r"port is not a number from 1 to 65535"),
            (["http://127.0.0.1:0/"], 3, r"port is not a number from 1 to 65535"),
            (["ftp://127.0.0.1/"], 3, r"not an http:// or https:// URL")):
        r = get(loom, *args, expect=None)
        one_line_error(r, code, pat)
    log("16 refused arguments: one line each, exit 2 (bad URLs: 3)")


if __name__ == "__main__":
    main(test)
