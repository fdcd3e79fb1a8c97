"""loom get's failures: each one exits with its own status and says why in
exactly one line on stderr ("loom get: ..."), within bounded time.

Asserts:
- connection refused (a free port nobody listens on): exit 7;
- DNS failure (a name under .invalid, RFC 6761): exit 6;
- TLS without -k against a self-signed certificate (openssl s_server):
  exit 35, "certificate not trusted (self-signed certificate); -k ...";
- a TLS server without h2 in ALPN, with --http2-only (without it loom get
  falls back to HTTP/1.1, tested against nginx in get_nginx.py): exit 16,
  both when it ends the handshake with a no_application_protocol alert
  (openssl s_server -alpn http/1.1, as nginx without http2 does) and when
  it answers without ALPN (Python's ssl);
- a server that accepts the connection and never answers, with
  --max-time 1: exit 28 over TLS (the handshake), h2c and Upgrade, each
  well before loom's own 10-second step limits;
- an HTTP/1.1-only server (Python's http.server, keep-alive) for http://
  URLs: the Upgrade is not taken and loom get goes on in HTTP/1.1 (the
  bodies, several URLs on one connection); --http2-only exits 16;
- usage: an unknown option exits 2, a URL that is not http(s) exits 3.
(--fail with a 404 and a stream reset by the server are checked against
real servers in get_nginx.py, get_node.py and get_loom_serve.py.)

usage: get_errors.py path/to/loom"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (Peer, Tmp, check, free_port, get, log, main, make_cert,  # noqa: E402
                        one_line_error)


def silent_server():
    """A listener that accepts and never says anything (in this process)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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


def tls_h1_server(cert, key):
    """A TLS listener (in this process) that offers http/1.1 only."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)

    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            try:
                c.settimeout(5)
                t = ctx.wrap_socket(c, server_side=True)
                t.recv(1)
                t.close()
            except OSError:
                c.close()

    threading.Thread(target=loop, daemon=True).start()
    return s, s.getsockname()[1]


def run(loom, argv):
    tmp = Tmp("errors")
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])

    port = free_port()
    r = get(loom, "https://127.0.0.1:%d/" % port, expect=None)
    one_line_error(r, 7, r"cannot connect to 127\.0\.0\.1 port %d: Connection refused$" % port)
    r = get(loom, "--h2c", "http://127.0.0.1:%d/x" % port, expect=None)
    one_line_error(r, 7, r"Connection refused$")
    log("connection refused: exit 7")

    r = get(loom, "https://no-such-host.invalid/", expect=None)
    one_line_error(r, 6, r"cannot resolve no-such-host\.invalid")
    log("DNS failure: exit 6")

    port = free_port()
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key,
           "-alpn", "h2", "-quiet"]
    with Peer("s_server-h2", cmd, ports=[port], out=tmp.join("s_server1.out")):
        r = get(loom, "https://localhost:%d/" % port, expect=None)
        one_line_error(r, 35, r"TLS: certificate not trusted \(self-signed certificate\); -k to "
                              r"accept it$")
    log("a self-signed certificate without -k: exit 35")

    port = free_port()
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key,
           "-alpn", "http/1.1", "-quiet"]
    with Peer("s_server-h1", cmd, ports=[port], out=tmp.join("s_server2.out")):
        # OpenSSL's server ends the handshake with no_application_protocol
        r = get(loom, "-k", "--http2-only", "https://127.0.0.1:%d/" % port, expect=None)
        one_line_error(r, 16, r"the server does not offer h2 in ALPN \(TLS alert "
                              r"no_application_protocol\)$")
        r = get(loom, "--http2-only", "--cacert", cert, "https://localhost:%d/" % port,
                expect=None)
        one_line_error(r, 16, r"does not offer h2 in ALPN")
    # Python's ssl server with http/1.1 only completes the handshake without ALPN
    lsock, port = tls_h1_server(cert, key)
    try:
        r = get(loom, "-k", "--http2-only", "https://127.0.0.1:%d/" % port, expect=None)
        one_line_error(r, 16, r"the server did not choose h2 in ALPN \(none\)$")
    finally:
        lsock.close()
    log("a TLS server without h2 in ALPN (alert, or no ALPN answer): exit 16")

    lsock, port = silent_server()
    try:
        for args in (["-k", "https://127.0.0.1:%d/" % port],
                     ["--h2c", "http://127.0.0.1:%d/" % port],
                     ["http://127.0.0.1:%d/" % port]):
            t0 = time.monotonic()
            r = get(loom, "--max-time", "1", *args, expect=None, timeout=20)
            took = time.monotonic() - t0
            one_line_error(r, 28, r"timed out after 1 seconds$")
            check(took < 6, "--max-time 1 took %.1f s (%s)" % (took, args))
    finally:
        lsock.close()
    log("a silent server with --max-time 1: exit 28 (TLS, h2c, Upgrade)")

    # an HTTP/1.1-only server: the Upgrade is refused, HTTP/1.1 goes on
    import http.server

    conns = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            conns.append(self.client_address)
            body = ("path %s\n" % self.path).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = "http://127.0.0.1:%d" % srv.server_address[1]
        r = get(loom, "-v", base + "/a", base + "/b")
        check(r.out == b"path /a\npath /b\n", "HTTP/1.1 fallback: bodies %r" % r.out)
        check("> Upgrade: h2c" in r.err and "< HTTP/1.1 200" in r.err,
              "HTTP/1.1 fallback: -v shows no Upgrade and answer\n" + r.err[-2000:])
        check(len(set(conns)) == 1, "HTTP/1.1 fallback: connections %s" % conns)
        r = get(loom, "--http2-only", base + "/a", expect=None)
        one_line_error(r, 16, r"did not upgrade to h2c \(HTTP/1\.1 200 OK\)$")
    finally:
        srv.shutdown()
    log("an HTTP/1.1-only server: the Upgrade refused, HTTP/1.1 on one connection; "
        "--http2-only: exit 16")

    r = get(loom, "--no-such-option", "https://127.0.0.1/", expect=None)
    one_line_error(r, 2, r"unknown option '--no-such-option'")
    r = get(loom, "ftp://127.0.0.1/", expect=None)
    one_line_error(r, 3, r"not an http:// or https:// URL$")
    log("usage: exit 2; a bad URL: exit 3")


if __name__ == "__main__":
    main(run)
