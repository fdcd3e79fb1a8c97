"""loom serve's logs as operators use them:

- the access log in nginx's "combined" format by default (the regular
  expression log analysers use for it), JSON lines with --log-format json
  (protocol, stream, host, user agent, request time in microseconds);
- SIGUSR1 opens both logs again after a rotation (logrotate itself:
  rename, then the signal): no line lost, the new lines in the new file;
- the error log (--error-log, --log-level info): a failed TLS handshake and
  a protocol error we answered with GOAWAY, each one line with the
  client's address and the reason.

curl over h2, h2c and HTTP/1.1 and raw sockets as clients; every server
started here and stopped by PID."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from serve_common import Server, check, main, make_site, make_tmp, read_to_end, run

COMBINED = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
                      r'"(\S+) (\S+) (HTTP/[\d.]+)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$')


def lines_of(path, want, timeout=10):
    end = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                ls = f.read().splitlines()
        except FileNotFoundError:
            ls = []
        if len(ls) >= want or time.monotonic() > end:
            return ls
        time.sleep(0.05)


def get(url, *args):
    p = run(["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}"] + list(args) + [url],
            timeout=20)
    check(p.stdout == b"200", "curl %s: %r" % (url, p.stdout))


def combined(loom, site, tmp):
    log = os.path.join(tmp, "combined.log")
    with Server(loom, site=site, extra=["--access-log", log]) as s:
        get(s.https + "/a.txt", "--http2", "-A", "agent \"quoted\"", "-e", "https://ref.example/")
        get(s.http + "/a.txt?q=1", "--http1.1")
        ls = lines_of(log, 2)
    check(len(ls) == 2, "two lines: %r" % ls)
    m = [COMBINED.match(l) for l in ls]
    check(all(m), "combined format: %r" % ls)
    check(m[0].group(1) == "127.0.0.1" and m[0].group(3) == "GET" and m[0].group(4) == "/a.txt" and
          m[0].group(5) == "HTTP/2.0" and m[0].group(6) == "200" and m[0].group(7) == "6",
          "h2 line: %r" % ls[0])
    check(m[0].group(8) == "https://ref.example/" and m[0].group(9) == 'agent \\x22quoted\\x22',
          "referer and escaped user agent: %r" % ls[0])
    check(m[1].group(5) == "HTTP/1.1" and m[1].group(4) == "/a.txt?q=1" and m[1].group(8) == "-",
          "HTTP/1.1 line: %r" % ls[1])
    print("combined: %s" % ls[0])


def json_lines(loom, site, tmp):
    log = os.path.join(tmp, "json.log")
    with Server(loom, site=site, extra=["--access-log", log, "--log-format", "json"]) as s:
        get(s.https + "/a.txt", "--http2", "-A", "ua-\u00e9")
        get(s.http + "/a.txt", "--http2-prior-knowledge")
        get(s.http + "/a.txt", "--http1.1")
        ls = lines_of(log, 3)
    recs = [json.loads(l) for l in ls]
    check([r["protocol"] for r in recs] == ["h2", "h2c", "http/1.1"], "protocols: %r" % recs)
    for r in recs:
        check(r["status"] == 200 and r["bytes"] == 6 and r["path"] == "/a.txt" and
              r["method"] == "GET" and r["remote_addr"] == "127.0.0.1", "record %r" % r)
        check(isinstance(r["request_time_us"], int) and 0 <= r["request_time_us"] < 10_000_000,
              "request time in µs: %r" % r)
        check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", r["time"]), "time %r" % r)
        check(r["host"].startswith("127.0.0.1:"), "host %r" % r)
    check(recs[0]["stream"] % 2 == 1 and recs[2]["stream"] == 0, "streams %r" % recs)
    check(recs[0]["user_agent"] == "ua-\u00e9", "UTF-8 user agent %r" % recs[0])
    print("json: %s" % ls[0])


def rotation(loom, site, tmp):
    log = os.path.join(tmp, "rot.log")
    err = os.path.join(tmp, "rot-err.log")
    with Server(loom, site=site, extra=["--access-log", log, "--error-log", err,
                                        "--log-level", "info"]) as s:
        for _ in range(5):
            get(s.http + "/a.txt", "--http2-prior-knowledge")
        lines_of(log, 5)
        # logrotate itself, as contrib/loom.logrotate has it: rename, then
        # SIGUSR1 (no copytruncate)
        conf = os.path.join(tmp, "logrotate.conf")
        with open(conf, "w") as f:
            f.write("%s %s {\n    rotate 3\n    nocompress\n    missingok\n    sharedscripts\n"
                    "    postrotate\n        kill -USR1 %d\n    endscript\n}\n" %
                    (log, err, s.proc.pid))
        run(["logrotate", "-f", "-s", os.path.join(tmp, "logrotate.state"), conf], timeout=30,
            check_rc=0)
        lines_of(err, 1)  # the server says it reopened, in the new error log
        for _ in range(7):
            get(s.http + "/a.txt", "--http2-prior-knowledge")
        new = lines_of(log, 7)
    old = lines_of(log + ".1", 5)
    check(len(old) == 5 and len(new) == 7, "rotated: %d old lines, %d new (5 and 7)" %
          (len(old), len(new)))
    e = open(err).read()
    check("logs opened again" in e, "the new error log: %r" % e)
    print("SIGUSR1: 5 lines in the rotated file, 7 in the new one, none lost")


def errors(loom, site, tmp):
    err = os.path.join(tmp, "err.log")
    with Server(loom, site=site, extra=["--error-log", err, "--log-level", "info"]) as s:
        # a TLS handshake that fails: a ClientHello that is not one
        c = socket.create_connection(("127.0.0.1", s.https_port), timeout=5)
        c.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64)
        try:
            c.recv(100)
        except OSError:
            pass
        c.close()
        # a protocol error: DATA on stream 0 (RFC 9113 §6.1)
        c = socket.create_connection(("127.0.0.1", s.http_port), timeout=5)
        c.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]) +
                  bytes([0, 0, 1, 0, 0, 0, 0, 0, 0]) + b"x")
        read_to_end(c)
        ls = lines_of(err, 2)
    hs = [l for l in ls if "TLS handshake failed" in l]
    pe = [l for l in ls if "GOAWAY" in l and "PROTOCOL" in l]
    check(hs and "127.0.0.1" in hs[0] and "[info]" in hs[0], "handshake failure line: %r" % ls)
    check(pe and "127.0.0.1" in pe[0] and "DATA on stream 0" in pe[0],
          "protocol error line with its reason: %r" % ls)
    print("error log: %s | %s" % (hs[0], pe[0]))
    p = run([loom, "serve", site, "--log-format", "xml"], timeout=20, stdin=subprocess.DEVNULL)
    check(p.returncode == 2 and b"--log-format" in p.stderr, "bad --log-format: %d %r" %
          (p.returncode, p.stderr))


def test(argv):
    loom = argv[0]
    tmp = make_tmp("logs")
    try:
        site = make_site(tmp)
        combined(loom, site, tmp)
        json_lines(loom, site, tmp)
        rotation(loom, site, tmp)
        errors(loom, site, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
