"""loom get's connection coalescing (RFC 9113 §9.1.1) and ORIGIN frames
(RFC 8336), against a small Python h2 server (get_origin_server.py, which
reports every TLS connection and the connection each request came on) and
against `loom serve --cert` (its access log gives each request's stream
id: 1 and 3 on one connection, 1 and 1 on two). Name resolution here knows `localhost` and
127.0.0.1, so the two names of one server are https://localhost:P and
https://127.0.0.1:P.

Asserts:
- a certificate with SAN DNS:localhost and IP:127.0.0.1: both names over ONE
  connection, either order, -k or --cacert (summary and server side);
- a certificate covering only localhost: two connections (-k); without -k
  the 127.0.0.1 connection fails verification (exit 35);
- ORIGIN listing only https://localhost:P on a connection whose certificate
  covers both names: 127.0.0.1 gets its own connection; ORIGIN listing both:
  one connection; -v shows the ORIGIN frame and its entries;
- a 5 MB POST body (-d @FILE) arrives whole (sha256 from the server).

usage: get_coalesce.py path/to/loom"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (LogTail, Peer, Tmp, check, free_port, get, log, main,  # noqa: E402
                        make_cert, sha256)

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


class PyServer(Peer):
    def __init__(self, tmp, port, cert, key, origins=(), tag=""):
        Peer.__init__(self, "python-h2" + tag, [PY, os.path.join(HERE, "get_origin_server.py"),
                                                str(port), cert, key] + list(origins),
                      ports=[port], out=tmp.join("pyserver%s.out" % tag))
        self.pos = 0

    def new(self, nreq, timeout=5.0):
        """The conn/req lines since the last look (waits for nreq requests)."""
        end = time.monotonic() + timeout
        while True:
            text = self.output()[self.pos:]
            lines = text.splitlines()
            if len([l for l in lines if l.startswith("req ")]) >= nreq or \
                    time.monotonic() > end:
                self.pos += len(text)
                return lines
            time.sleep(0.05)

    def mark(self):
        self.pos = len(self.output())


def conns_of(lines):
    """{connection number: [authority of each request]}"""
    out = {}
    for l in lines:
        m = re.match(r"^req (\d+) (\S+) (\S+)$", l)
        if m:
            out.setdefault(int(m.group(1)), []).append(m.group(2).split(":")[0])
    return out


def urls(port, names=("localhost", "127.0.0.1")):
    return ["https://%s:%d/%s" % (n, port, n) for n in names]


def expect(r, srv, nconn, what):
    lines = srv.new(2)
    by_conn = conns_of(lines)
    check(r.summary and r.summary["conns"] == nconn and r.summary["responses"] == 2,
          "%s: summary %s (wanted %d connection(s))\n%s" % (what, r.summary, nconn,
                                                            r.describe()))
    check(len(by_conn) == nconn, "%s: the server saw requests on connections %s (wanted %d)" %
          (what, by_conn, nconn))
    check(sorted(r.out.decode().splitlines()) == sorted(
        "%s:%s /%s" % (n, srv.cmd[2], n) for n in ("localhost", "127.0.0.1")),
        "%s: bodies %r" % (what, r.out))
    return by_conn


def run(loom, argv):
    tmp = Tmp("coalesce")
    both, both_key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"], name="both")
    one, one_key = make_cert(tmp.path, ["DNS:localhost"], name="localhost-only")

    # a certificate for both names, no ORIGIN: one connection
    port = free_port()
    with PyServer(tmp, port, both, both_key, tag="-both") as srv:
        for args in (["-k"], ["--cacert", both]):
            for names in (("localhost", "127.0.0.1"), ("127.0.0.1", "localhost")):
                srv.mark()
                r = get(loom, *args, *urls(port, names))
                expect(r, srv, 1, "cert for both, %s, %s first" % (args[0], names[0]))
        log("a certificate for localhost and 127.0.0.1: both over 1 connection (either order, "
            "-k or --cacert)")
        body = os.urandom(5 * 1024 * 1024 + 3)
        up = tmp.write("upload.bin", body)
        r = get(loom, "--cacert", both, "-d", "@" + up, "https://localhost:%d/upload" % port)
        check(json.loads(r.out) == {"sha256": sha256(body), "length": len(body)},
              "POST: the server read %r" % r.out)
        log("a 5 MB POST arrived whole at Python's h2 (sha256 checked)")

    # a certificate for localhost only: two connections
    port = free_port()
    with PyServer(tmp, port, one, one_key, tag="-one") as srv:
        srv.mark()
        r = get(loom, "-k", *urls(port))
        expect(r, srv, 2, "cert for localhost only")
        r = get(loom, "--cacert", one, *urls(port), expect=None)
        check(r.rc == 35 and re.search(r"127\.0\.0\.1:\d+/127\.0\.0\.1: TLS: certificate not "
                                       r"trusted \(.*mismatch", r.err),
              "cert for localhost only, --cacert: exit %d\n%s" % (r.rc, r.describe()))
        log("a certificate for localhost only: 2 connections; without -k 127.0.0.1 fails (35)")

    # ORIGIN narrows the set: only localhost listed
    port = free_port()
    with PyServer(tmp, port, both, both_key, origins=["https://localhost:%d" % port],
                  tag="-origin1") as srv:
        for args in (["-k"], ["--cacert", both]):
            srv.mark()
            r = get(loom, *args, "-v", *urls(port))
            by_conn = expect(r, srv, 2, "ORIGIN with localhost only, %s" % args[0])
            check(r.sel("recv", "ORIGIN") and
                  "(origin=https://localhost:%d)" % port in r.err,
                  "ORIGIN frame not in -v\n" + r.describe())
        log("ORIGIN listing only localhost: 127.0.0.1 gets its own connection (%s)" % by_conn)
    port = free_port()
    with PyServer(tmp, port, both, both_key, origins=["https://localhost:%d" % port,
                                                      "https://127.0.0.1:%d" % port],
                  tag="-origin2") as srv:
        srv.mark()
        r = get(loom, "-k", "-v", *urls(port))
        expect(r, srv, 1, "ORIGIN with both")
        check(r.count("recv", "ORIGIN") == 1, "ORIGIN frame not in -v")
        log("ORIGIN listing both: one connection")

    # loom serve with the certificate for both names: its access log agrees
    port, hport = free_port(), free_port()
    alog = tmp.join("serve-access.log")
    site = tmp.join("site")
    os.mkdir(site)
    for n in ("localhost", "127.0.0.1"):
        tmp.write("site/" + n, n + "\n")
    env = dict(os.environ, XDG_CACHE_HOME=tmp.join("cache"))
    cmd = [loom, "serve", site, "--https", "127.0.0.1:%d" % port, "--http", "127.0.0.1:%d" % hport,
           "--workers", "1", "--cert", both, "--key", both_key, "--log-format", "loom", "--access-log", alog]
    for certs, n in (((both, both_key), 1), ((one, one_key), 2)):
        cmd[cmd.index("--cert") + 1], cmd[cmd.index("--key") + 1] = certs
        if os.path.exists(alog):
            os.unlink(alog)
        with Peer("loom-serve", cmd, ports=[port, hport], env=env,
                  out=tmp.join("serve%d.out" % n)):
            r = get(loom, "-k", *urls(port))
            lines = LogTail(alog).new(2)
            # its log names the peer's address only; a new connection's first
            # request is stream 1, a second request on it stream 3
            sids = sorted(re.search(r" stream=(\d+) ", l).group(1) for l in lines)
            check(r.summary["conns"] == n and sids == (["1", "3"] if n == 1 else ["1", "1"]),
                  "loom serve, certificate for %s: summary %s, access log %s" %
                  ("both" if n == 1 else "localhost", r.summary, lines))
    log("loom serve --cert: 1 connection with the certificate for both, 2 with localhost-only "
        "(its access log agrees)")


if __name__ == "__main__":
    main(run)
