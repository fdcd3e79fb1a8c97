"""loom serve --proxy: HTTP/2 and HTTP/1.1 in front, real application
servers behind (gunicorn over TCP and a Unix socket, hypercorn over h2c,
grpcio), checked with curl, Python h2 and grpcio as clients.

- Routing: /api, /unix and /h2 prefixes to their backends, the rest static
  (and /apix is not /api).
- The request as the backend sees it, over h2, h2c and HTTP/1.1: Host is
  the client's authority; X-Forwarded-For/-Proto/-Host, Forwarded and Via
  added; hop-by-hop fields (Connection and what it names, Keep-Alive, TE)
  gone. The response carries Via.
- Bodies stream with bounded memory: a 2 GiB upload (curl -T -, chunked
  over HTTP/1.1, DATA over h2) and a 2 GiB download through the proxy, by
  sha256, while loom serve's resident memory is sampled (its growth must
  stay under 64 MiB); a slow reader (curl --limit-rate) slows the backend
  instead of filling the proxy.
- Failures a user can act on: a backend not listening (502), garbage
  (502), silence past --proxy-timeout (504), a backend that dies
  mid-response (the client sees a reset or a short body, never a whole
  one), each with an error-log line naming the backend.
- A client that resets its stream cancels the backend request (gunicorn's
  generator is closed).
- Two backends round-robin; one killed: requests go on (the connection
  refused is retried on the other) and it is taken out.
- h2c backend (hypercorn): a request and a 16 MiB download through it.
- gRPC (grpcio server behind, over h2c; grpcio client in front, over TLS):
  unary and bidirectional-streaming calls, messages and status (with its
  details, from the trailers) intact.

Every process started here is stopped by PID."""
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import RssPeak, Server, check, free_port, main, make_tmp, run  # noqa: E402
import proxy_app  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GIB2 = 2 << 30


class Proc:
    """A backend child in its own process group, stopped by PID."""

    def __init__(self, cmd, port=None, path=None, env=None, log=None):
        self.log = log
        self.fh = open(log, "wb") if log else subprocess.DEVNULL
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.fh,
                                  stderr=subprocess.STDOUT, env=env, cwd=HERE,
                                  start_new_session=True)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise AssertionError("%s exited: %s" % (cmd[0], self.output()[-2000:]))
            try:
                if port:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                elif path and os.path.exists(path):
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(path)
                    s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("%s did not listen: %s" % (cmd[0], self.output()[-2000:]))

    def output(self):
        try:
            return open(self.log, errors="replace").read() if self.log else ""
        except OSError:
            return ""

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(timeout=10)
        if self.fh is not subprocess.DEVNULL:
            self.fh.close()


def gunicorn(bind, log, name, threads=8):
    env = dict(os.environ, BACKEND_NAME=name, PYTHONPATH=HERE)
    return ["gunicorn", "--bind", bind, "--worker-class", "gthread", "--threads", str(threads),
            "--workers", "1", "--timeout", "120", "--log-level", "info",
            "--error-logfile", "-", "proxy_app:app"], env


def curl(*args, timeout=60, data=None):
    return subprocess.run(["curl", "-sk"] + list(args), input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def stream_in(cmd, n, timeout=240):
    """Runs cmd with n pattern octets on its stdin, fed as they go."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)

    def feed():
        try:
            for b in proxy_app.gen(n):
                p.stdin.write(b)
            p.stdin.close()
        except BrokenPipeError:
            pass
    t = threading.Thread(target=feed, daemon=True)
    t.start()
    # (not communicate(): it would close stdin under the feeder)
    errs = []
    te = threading.Thread(target=lambda: errs.append(p.stderr.read()), daemon=True)
    te.start()
    out = p.stdout.read()
    p.wait(timeout=timeout)
    t.join(timeout=timeout)
    te.join(timeout=10)
    return p.returncode, out, errs[0] if errs else b""


def stream_out(cmd, timeout=240):
    """Runs cmd, hashing its stdout as it comes: (rc, length, sha256, stderr)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    h, n = hashlib.sha256(), 0
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    err = p.stderr.read()
    p.wait(timeout=timeout)
    return p.returncode, n, h.hexdigest(), err.decode(errors="replace")


def headers_seen(url, *args):
    r = curl(*args, url)
    check(r.returncode == 0, "curl %s %s: %s" % (args, url, r.stderr))
    try:
        return json.loads(r.stdout)
    except ValueError:
        check(False, "curl %s %s: not JSON: %r" % (args, url, r.stdout[:300]))


def test(argv):
    loom = argv[0]
    # under AddressSanitizer (make test), freed blocks wait in a quarantine
    # of 256 MiB before reuse: bounded to 16 so that the memory check below
    # measures loom serve, not the sanitizer
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=16"
    tmp = make_tmp("proxy")
    procs = []
    try:
        site = os.path.join(tmp, "site")
        os.makedirs(site)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write("static\n")
        with open(os.path.join(site, "ws.html"), "w") as f:  # Chromium's WebSocket page
            # The iframe (a response that drips for 30 s) holds the page's
            # load event, and so --dump-dom, until the echo came (or the
            # socket failed): the DOM is dumped on that condition, not when
            # a virtual time budget runs out. (With --virtual-time-budget
            # the budget ran out during the WebSocket's handshake on a
            # loaded machine: virtual time does not wait for WebSockets.)
            f.write("<!doctype html><body>"
                    "<iframe id=hold src='/api/drip?n=300&ms=100'></iframe><script>\n"
                    "const done = v => { document.body.dataset.ws = v; "
                    "document.getElementById('hold').remove(); };\n"
                    "const ws = new WebSocket('wss://' + location.host + '/ws');\n"
                    "ws.onopen = () => ws.send('hi from chromium');\n"
                    "ws.onmessage = e => { ws.close(); done(e.data); };\n"
                    "ws.onerror = () => done('error');\n"
                    "</script></body>\n")
        pa, pb, pdead, pfault, ph2, pg, pws = (free_port() for _ in range(7))
        sock = os.path.join(tmp, "app.sock")
        cmd, env = gunicorn("127.0.0.1:%d" % pa, None, "A")
        a = Proc(cmd, port=pa, env=env, log=os.path.join(tmp, "a.log"))
        procs.append(a)
        cmd, env = gunicorn("127.0.0.1:%d" % pb, None, "B")
        b = Proc(cmd, port=pb, env=env, log=os.path.join(tmp, "b.log"))
        procs.append(b)
        cmd, env = gunicorn("unix:" + sock, None, "U")
        procs.append(Proc(cmd, path=sock, env=env, log=os.path.join(tmp, "u.log")))
        procs.append(Proc(["/usr/bin/python3", os.path.join(HERE, "proxy_app.py"), "fault",
                           str(pfault)], port=pfault, log=os.path.join(tmp, "fault.log")))
        procs.append(Proc(["hypercorn", "--bind", "127.0.0.1:%d" % ph2, "--workers", "1",
                           "proxy_app:asgi"], port=ph2, env=dict(os.environ, PYTHONPATH=HERE,
                                                               BACKEND_NAME="H2"),
                          log=os.path.join(tmp, "h2.log")))
        procs.append(Proc(["/usr/bin/python3", os.path.join(HERE, "proxy_app.py"), "ws",
                           str(pws)], port=pws, log=os.path.join(tmp, "ws.log")))
        procs.append(Proc(["/usr/bin/python3", os.path.join(HERE, "proxy_grpc.py"), "server",
                           str(pg)], port=pg, log=os.path.join(tmp, "grpc.log")))
        elog = os.path.join(tmp, "error.log")
        extra = ["--proxy", "/api=http://127.0.0.1:%d" % pa,
                 "--proxy", "/unix=unix:" + sock,
                 "--proxy", "/h2=h2c://127.0.0.1:%d" % ph2,
                 "--proxy", "/rr/api/who=http://127.0.0.1:%d,http://127.0.0.1:%d" % (pa, pb),
                 "--proxy", "/dead=http://127.0.0.1:%d" % pdead,
                 "--proxy", "/fault=http://127.0.0.1:%d" % pfault,
                 "--proxy", "/loom.Echo=h2c://127.0.0.1:%d" % pg,
                 "--proxy", "/ws=http://127.0.0.1:%d" % pws,
                 "--proxy-timeout", "1", "--error-log", elog, "--workers", "1",
                 "--access-log", os.path.join(tmp, "access.log"), "--log-format", "json"]
        with Server(loom, site=site, extra=extra) as s:
            https, http = s.https, s.http
            # routing
            r = curl(http + "/index.html")
            check(r.stdout == b"static\n", "static files stay: %r" % r.stdout)
            r = curl("-o", "/dev/null", "-w", "%{http_code}", http + "/apix")
            check(r.stdout == b"404", "/apix is not /api: %r" % r.stdout)
            print("routing: /api to the backend, the rest static, /apix not /api")

            # the request as the backend sees it, three ways in
            for label, url, args, proto in (
                    ("h2", https + "/api/headers?q=1", ["--http2"], "https"),
                    ("h2c", http + "/api/headers", ["--http2-prior-knowledge"], "http"),
                    ("http/1.1", http + "/api/headers", ["--http1.1", "-H",
                                                         "Connection: keep-alive, x-drop",
                                                         "-H", "X-Drop: 1", "-H",
                                                         "Keep-Alive: timeout=5"], "http"),
                    ("unix", http + "/unix/api/headers", ["--http1.1"], "http"),
                    ("h2c backend", https + "/h2/api/headers", ["--http2"], "https")):
                seen = headers_seen(url, *args)
                hs = seen["headers"]
                auth = url.split("/")[2]
                check(hs.get("host") == auth, "%s: Host %r, wanted %r" % (label, hs.get("host"),
                                                                        auth))
                check(hs.get("x-forwarded-for") == "127.0.0.1" and
                      hs.get("x-forwarded-proto") == proto and
                      hs.get("x-forwarded-host") == auth,
                      "%s: X-Forwarded-*: %r" % (label, hs))
                check(re.search(r"for=127\.0\.0\.1;proto=%s;host=\"%s\"" % (proto, auth),
                                hs.get("forwarded", "")), "%s: Forwarded %r" % (label, hs))
                check("loom" in hs.get("via", ""), "%s: Via %r" % (label, hs))
                check("x-drop" not in hs and "keep-alive" not in hs and "te" not in hs,
                      "%s: hop-by-hop fields passed: %r" % (label, hs))
                if "?" in url:
                    check(seen["query"] == "q=1", "the query goes on: %r" % seen)
            r = curl("-D", "-", "-o", "/dev/null", "--http2", https + "/api/who")
            check(re.search(rb"(?i)^via: 1\.1 loom", r.stdout, re.M), "Via on the response: %r"
                  % r.stdout)
            print("the backend sees Host, X-Forwarded-*, Forwarded, Via and no hop-by-hop "
                  "field (h2, h2c, HTTP/1.1, Unix socket, h2c backend)")

            # bodies stream both ways with bounded memory
            want = proxy_app.pattern_sha256(GIB2)
            for label, args in (("h2", ["--http2", https]), ("http/1.1", ["--http1.1", http])):
                peak = RssPeak(s.proc.pid)
                t0 = time.monotonic()
                rc, out, err = stream_in(["curl", "-sk", args[0], "-T", "-", "-X", "POST",
                                          args[1] + "/api/upload"], GIB2)
                took = time.monotonic() - t0
                grew = peak.done()
                check(rc == 0 and out.decode().split() == [str(GIB2), want],
                      "%s upload of 2 GiB: rc %d, %r %r" % (label, rc, out[:200], err[-300:]))
                check(grew < 64, "%s upload: loom serve grew by %d MiB" % (label, grew))
                print("2 GiB upload over %s: whole (sha256), %.1f s, loom serve +%d MiB" %
                      (label, took, grew))
                peak = RssPeak(s.proc.pid)
                t0 = time.monotonic()
                rc, n, sha, err = stream_out(["curl", "-sk", args[0], args[1] +
                                              "/api/download?n=%d" % GIB2])
                took = time.monotonic() - t0
                grew = peak.done()
                check(rc == 0 and n == GIB2 and sha == want,
                      "%s download of 2 GiB: rc %d, %d octets: %s" % (label, rc, n, err[-300:]))
                check(grew < 64, "%s download: loom serve grew by %d MiB" % (label, grew))
                print("2 GiB download over %s: whole (sha256), %.1f s, loom serve +%d MiB" %
                      (label, took, grew))
            # a slow reader slows the backend: the proxy holds little
            peak = RssPeak(s.proc.pid)
            n = 48 << 20
            rc, got, sha, err = stream_out(["curl", "-sk", "--http2", "--limit-rate", "16M",
                                            https + "/api/stream?n=%d" % n])
            grew = peak.done()
            check(rc == 0 and got == n and sha == proxy_app.pattern_sha256(n),
                  "a slow reader's download: rc %d, %d octets" % (rc, got))
            check(grew < 16, "a slow reader: loom serve grew by %d MiB" % grew)
            print("a slow reader (16 MB/s) of 48 MiB: whole, loom serve +%d MiB" % grew)

            # failures a user can act on
            for path, code, words in (("/dead/x", 502, "127.0.0.1:%d" % pdead),
                                      ("/fault/garbage", 502, "/fault/garbage"),
                                      ("/fault/silent", 504, "first-byte timeout")):
                t0 = time.monotonic()
                for args in (["--http2"], ["--http1.1"]):
                    r = curl(*args, "-w", "|%{http_code}", https + path)
                    body, _, st = r.stdout.rpartition(b"|")
                    check(st == str(code).encode() and body.startswith(str(code).encode()),
                          "%s %s: %r" % (path, args, r.stdout[:200]))
                check(time.monotonic() - t0 < 8, "%s took %.1f s" % (path,
                                                                      time.monotonic() - t0))
                time.sleep(0.1)
                check(words in open(elog).read(), "the error log names %r: %r" %
                      (words, open(elog).read()[-800:]))
            r = curl("--http2", "-o", "/dev/null", "-w", "%{size_download}", https + "/fault/die")
            check(r.returncode in (16, 92, 18, 56), "a backend dying mid-response: curl exit %d"
                  " (it must not look complete)" % r.returncode)
            r = curl("--http1.1", "-o", "/dev/null", https + "/fault/die")
            check(r.returncode in (18, 56), "HTTP/1.1: a backend dying mid-response: curl exit %d"
                  % r.returncode)
            print("502 for a backend down or talking garbage, 504 past --proxy-timeout, a "
                  "reset or short body when it dies mid-response; each in the error log")

            # a client that resets cancels the backend request (python h2)
            import h2.config
            import h2.connection
            import h2.events
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = socket.create_connection(("127.0.0.1", s.https_port))
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            before = a.output().count("gone after a drip")
            conn.send_headers(1, [(":method", "GET"), (":scheme", "https"),
                                  (":authority", "localhost"),
                                  (":path", "/api/drip?n=200&ms=20")], end_stream=True)
            tls.sendall(conn.data_to_send())
            got = b""
            while len(got) < 20:
                for ev in conn.receive_data(tls.recv(65536)):
                    if isinstance(ev, h2.events.DataReceived):
                        got += ev.data
                tls.sendall(conn.data_to_send())
            conn.reset_stream(1)
            tls.sendall(conn.data_to_send())
            end = time.monotonic() + 5
            while time.monotonic() < end and a.output().count("gone after a drip") == before:
                time.sleep(0.05)
            tls.close()
            check(a.output().count("gone after a drip") > before,
                  "the backend's generator was not closed after the client's RST_STREAM: %s" %
                  a.output()[-500:])
            print("RST_STREAM from the client: the backend request is cancelled")

            ws_check(s, ctx)
            ws_chromium(s, tmp)

            # HTTP/1.1 chunked trailers from a backend: HTTP/2 trailers in front
            raw = socket.create_connection(("127.0.0.1", s.https_port))
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            conn.send_headers(1, [(":method", "GET"), (":scheme", "https"),
                                  (":authority", "localhost"), (":path", "/fault/trailers")],
                              end_stream=True)
            tls.sendall(conn.data_to_send())
            body, trailers, ended = b"", None, False
            tls.settimeout(5)
            while not ended:
                data = tls.recv(65536)
                check(data, "the connection closed before the response ended")
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.DataReceived):
                        body += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                    elif isinstance(ev, h2.events.TrailersReceived):
                        trailers = dict((k.decode(), v.decode()) for k, v in ev.headers)
                    elif isinstance(ev, h2.events.StreamEnded):
                        ended = True
                tls.sendall(conn.data_to_send())
            tls.close()
            check(body == b"hello world" and trailers == {"x-sum": "11", "x-check": "ok"},
                  "chunked trailers through the proxy: %r %r" % (body, trailers))
            r = curl("--http1.1", "--raw", http + "/fault/trailers")
            check(r.stdout.endswith(b"0\r\nx-sum: 11\r\nx-check: ok\r\n\r\n"),
                  "HTTP/1.1 client: the trailers as chunked trailers: %r" % r.stdout[-80:])
            print("HTTP/1.1 chunked trailers from the backend: HTTP/2 trailers (h2 client), "
                  "chunked trailers (HTTP/1.1 client)")

            # round-robin, and a backend that goes away
            names = [curl("--http2", https + "/rr/api/who").stdout for _ in range(6)]
            check(names.count(b"A\n") == 3 and names.count(b"B\n") == 3,
                  "round-robin over two backends: %r" % names)
            b.stop()
            procs.remove(b)
            codes = [curl("--http2", "-o", "/dev/null", "-w", "%{http_code}",
                          https + "/rr/api/who").stdout for _ in range(8)]
            check(codes == [b"200"] * 8, "one backend down, requests go on: %r" % codes)
            print("round-robin A/B; B down: every request answered (retried on A)")

            # gRPC through the proxy: TLS in front, h2c behind
            cert = os.path.join(s.cache, "loom", "localhost-cert.pem")
            r = run(["/usr/bin/python3", os.path.join(HERE, "proxy_grpc.py"), "client",
                     "127.0.0.1:%d" % s.https_port, cert], timeout=30)
            check(r.returncode == 0, "the gRPC client failed: %s" % r.stderr.decode()[-1500:])
            got = json.loads(r.stdout)
            check(got["unary"] == "cprg olleh", "gRPC unary: %r" % got)
            check(got["fail"] == ["INVALID_ARGUMENT", "bad input: x1"],
                  "gRPC status and details from the trailers: %r" % got)
            check(got["chat"] == ["ONE", "TWO", "THREE", "XXXXXXXXXX+100000"],
                  "gRPC bidirectional streaming: %r" % got)
            print("gRPC (grpcio both sides, TLS in front, h2c behind): unary, an error status "
                  "with its details, bidirectional streaming")
    finally:
        for p in procs:
            p.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def ws_chromium(s, tmp):
    """Headless Chromium opens a WebSocket from a page loaded over h2: it goes
    as an extended CONNECT on the page's connection, to the server behind."""
    from serve_chromium import chromium, find_chromium
    from serve_common import TestFailure
    # --dump-dom waits for the load event, which the page holds until the
    # echo came (ws.html). Chromium is launched again once only when it did
    # not run at all (a non-zero exit, say a start-up that failed under
    # load), never because the echo did not come.
    for attempt in (1, 2):
        try:
            out, err = chromium(find_chromium(), tmp, s.https + "/ws.html", ["--dump-dom"],
                                "WebSocket page")
            break
        except TestFailure as e:
            if attempt == 2 or "could not run here" not in str(e):
                raise
            print("Chromium did not start (%s): launched once more" % str(e)[:200])
    check('data-ws="HI FROM CHROMIUM"' in out, "Chromium's WebSocket echo: %r\n%s" %
          (out[-400:], err[-1500:]))
    time.sleep(0.3)
    recs = [json.loads(l) for l in open(os.path.join(tmp, "access.log")) if l.strip()]
    ws = [r for r in recs if r["path"] == "/ws"]
    check(ws and ws[-1]["method"] == "CONNECT" and ws[-1]["protocol"] == "h2",
          "the WebSocket went as an HTTP/2 extended CONNECT: %r" % ws[-1:])
    print("headless Chromium: a page's WebSocket as an extended CONNECT over h2, echoed")


def ws_frame(opcode, payload):
    """A client's WebSocket frame (RFC 6455 §5.2): FIN, masked."""
    import struct
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_frames(buf):
    """Server frames (unmasked) parsed off buf: ([(opcode, payload)], rest)."""
    import struct
    out = []
    while len(buf) >= 2:
        n, off = buf[1] & 0x7f, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, off = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, off = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < off + n:
            break
        out.append((buf[0] & 0x0f, buf[off:off + n]))
        buf = buf[off + n:]
    return out, buf


def ws_check(s, ctx):
    """RFC 8441: a WebSocket over HTTP/2 (extended CONNECT, python h2), to a
    WebSocket server behind as an RFC 6455 Upgrade."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    raw = socket.create_connection(("127.0.0.1", s.https_port))
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    tls.settimeout(10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    tls.sendall(conn.data_to_send())
    enabled = None
    while enabled is None:
        for ev in conn.receive_data(tls.recv(65536)):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                enabled = conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
        tls.sendall(conn.data_to_send())
    check(enabled == 1, "loom serve announces SETTINGS_ENABLE_CONNECT_PROTOCOL=1: %r" % enabled)
    conn.send_headers(1, [(":method", "CONNECT"), (":protocol", "websocket"),
                          (":scheme", "https"), (":authority", "localhost"), (":path", "/ws"),
                          ("sec-websocket-version", "13")])
    tls.sendall(conn.data_to_send())
    status, buf, got = None, b"", []
    big = os.urandom(300000)
    sent = False
    end = time.monotonic() + 10
    while len(got) < 3 and time.monotonic() < end:
        for ev in conn.receive_data(tls.recv(65536)):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers)[b":status"]
                check(status == b"200", "the extended CONNECT is answered 200: %r" % ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                frames, buf = ws_frames(buf + ev.data)
                got += frames
            elif isinstance(ev, h2.events.StreamReset):
                check(False, "the WebSocket stream was reset: %r" % ev)
        if status == b"200" and not sent:
            out = b"".join(ws_frame(op, data) for op, data in ((1, b"hello"), (2, big),
                                                               (1, b"bye")))
            while out:  # as the windows and the frame size allow
                room = min(conn.local_flow_control_window(1), conn.max_outbound_frame_size)
                if room <= 0:
                    tls.sendall(conn.data_to_send())
                    for ev in conn.receive_data(tls.recv(65536)):
                        if isinstance(ev, h2.events.DataReceived):
                            conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                            frames, buf = ws_frames(buf + ev.data)
                            got += frames
                    continue
                conn.send_data(1, out[:room])
                out = out[room:]
            sent = True
        tls.sendall(conn.data_to_send())
    tls.close()
    check([op for op, _ in got] == [1, 2, 1] and got[0][1] == b"HELLO" and got[1][1] == big and
          got[2][1] == b"BYE", "WebSocket echo through the proxy: %r" %
          [(op, d[:20], len(d)) for op, d in got])
    print("WebSocket over HTTP/2 (RFC 8441 extended CONNECT) to an RFC 6455 server behind: "
          "text and a 300 kB binary message echoed")


if __name__ == "__main__":
    main(test)
