"""loom bench's refusals and failures: each exits with its own status and
says why in one line on stderr ("loom bench: ..."), in bounded time.

Asserts:
- usage (exit 2): no URI, an unknown option, numbers that are not numbers
  or out of range, -n smaller than -c, --warm-up-time without -D, a -d or
  -i file that cannot be read;
- bad URIs (exit 3): not http(s), a port over 65535, URIs of two origins;
- DNS (6), a refused port (7);
- TLS (35): https:// to a cleartext port;
- no HTTP/2 (16): a TLS server that offers only http/1.1 in ALPN (Python's
  ssl, an HTTP/1.1 keep-alive server); with --h1 the same server is loaded
  to the end;
- a server that closes the connection after each response: every request
  is answered (the one queued on the closing connection is sent again);
- a server that never answers, with --timeout 1: the requests end as
  "timeout" (exit 1) within a few seconds.

usage: bench_errors.py path/to/loom"""
import http.server
import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import bench  # noqa: E402
from get_common import Tmp, check, free_port, log, main, make_cert  # noqa: E402


def one_line(r, code, needle):
    check(r.rc == code, "exit %d, wanted %d\n%s" % (r.rc, code, r.describe()))
    lines = [l for l in r.err.splitlines() if l.strip() and not l.startswith("loom bench: http")
             or "://" in l and needle in l]
    errs = [l for l in r.err.splitlines() if l.startswith("loom bench: ")]
    check(len(errs) == 1 and needle in errs[0],
          "wanted one 'loom bench: ...%s...' line, got:\n%s" % (needle, r.err))
    return lines


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class ClosingHandler(Handler):
    """Ends the connection after every response (Connection: close)."""

    def do_GET(self):
        body = b"bye\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


def tls_h1_server(cert, key):
    """An HTTP/1.1 keep-alive server over TLS offering only http/1.1."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def silent_server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []

    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append(c)

    threading.Thread(target=loop, daemon=True).start()
    return s, s.getsockname()[1]


def run(loom, argv):
    tmp = Tmp("bench-errors")
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    port = free_port()
    url = "http://127.0.0.1:%d/" % port

    for args, needle in ((["-n", "abc", url], "-n needs a number"),
                         (["-c", "0", url], "-c needs a number"),
                         (["-m", "-3", url], "-m needs a number"),
                         (["-D", "x", url], "-D needs a number"),
                         (["--rate", "0", url], "--rate needs a number"),
                         (["-n", "1.5", url], "-n needs a whole number"),
                         (["-n", "3", "-c", "5", url], "-n (3) must be at least -c (5)"),
                         (["--warm-up-time", "1", url], "--warm-up-time goes with -D"),
                         (["--frobnicate", url], "unknown option '--frobnicate'"),
                         (["-d", tmp.join("nope"), url], "cannot read"),
                         (["-i", tmp.join("nope")], "cannot read"),
                         (["-H", "no colon", url], "-H needs 'name: value'"),
                         (["-n"], "-n needs a number")):
        one_line(bench(loom, *args, expect=None), 2, needle)
    r = bench(loom, expect=None)
    check(r.rc == 2 and "usage: loom bench" in r.err, "no URI: %s" % r.describe())
    log("usage errors: exit 2, one line each")

    for args, needle in ((["ftp://127.0.0.1/"], "not an http:// or https:// URI"),
                         (["http://127.0.0.1:99999/"], "not an http:// or https:// URI"),
                         ([url + "a", "http://localhost:%d/b" % port],
                          "every URI must have the same origin")):
        one_line(bench(loom, *args, expect=None), 3, needle)
    log("bad URIs: exit 3")

    one_line(bench(loom, "https://no-such-host.invalid/", expect=None), 6, "cannot resolve")
    t0 = time.monotonic()
    one_line(bench(loom, "-n", "10", "-c", "2", url, expect=None), 7,
             "cannot connect to 127.0.0.1 port %d: Connection refused" % port)
    check(time.monotonic() - t0 < 10, "a refused port took %.1f s" % (time.monotonic() - t0))
    log("DNS failure: exit 6; a refused port: exit 7")

    srv, hport = tls_h1_server(cert, key)
    try:
        r = bench(loom, "-n", "10", "https://127.0.0.1:%d/" % hport, expect=None)
        one_line(r, 16, "h2")
        r = bench(loom, "-n", "200", "-c", "2", "--h1", "https://127.0.0.1:%d/" % hport)
        check(r.req["succeeded"] == 200, "--h1 against an HTTP/1.1 server: %s" % r.describe())
        log("a TLS server without h2: exit 16; with --h1 it is loaded (200 requests)")
        # TLS to a cleartext port: the handshake fails
        srv2 = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv2.serve_forever, daemon=True).start()
        try:
            r = bench(loom, "-n", "1", "https://127.0.0.1:%d/" % srv2.server_address[1],
                      expect=None)
            one_line(r, 35, "TLS")
        finally:
            srv2.shutdown()
        log("TLS to a cleartext HTTP/1.1 port: exit 35")
    finally:
        srv.shutdown()

    # a server that closes after each response: the request queued on the
    # closing connection is sent again on a new one, the last one too
    srv3 = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ClosingHandler)
    threading.Thread(target=srv3.serve_forever, daemon=True).start()
    try:
        for n, c in ((5, 1), (9, 3)):
            r = bench(loom, "-n", str(n), "-c", str(c), "--h1",
                      "http://127.0.0.1:%d/" % srv3.server_address[1], timeout=30)
            check(r.req["succeeded"] == n and r.req["done"] == n,
                  "a server closing after each response, -n %d -c %d: %s" % (n, c, r.describe()))
        log("a server closing after each response: every request answered, on new connections")
    finally:
        srv3.shutdown()

    lsock, sport = silent_server()
    try:
        t0 = time.monotonic()
        r = bench(loom, "-n", "4", "-c", "2", "-m", "2", "--timeout", "1",
                  "http://127.0.0.1:%d/" % sport, expect=1, timeout=30)
        took = time.monotonic() - t0
        check(r.req and r.req["timeout"] == 4 and r.req["done"] == 0,
              "a silent server: %s" % r.describe())
        check(took < 6, "--timeout 1 took %.1f s" % took)
        log("a silent server with --timeout 1: 4 requests timed out, exit 1, %.1f s" % took)
    finally:
        lsock.close()


if __name__ == "__main__":
    main(run)
