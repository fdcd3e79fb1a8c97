"""What an operator meets in the first hour, without silent surprises:

- a second `loom serve` on a port a running one listens on fails with
  "address in use" (exit 4) instead of sharing the port through
  SO_REUSEPORT; the workers of one server still share it;
- an empty address (`--http :PORT`) listens on IPv4 and IPv6;
- plain HTTP sent to the TLS port is answered 400 in cleartext, saying so
  (as nginx does), and the port still speaks TLS;
- numbers are checked: ports over 65535, junk in numeric flags, values out
  of range: exit 2 and one line naming the flag;
- an unwritable cache folder says where it tried and why: exit 3 for the
  self-signed certificate, exit 6 for the demo site.

Real curl as the client; every server started here and stopped by PID."""
import os
import shutil
import socket

from serve_common import Server, check, free_port, main, make_site, make_tmp, read_to_end, run, start_refused


def numbers(loom, site):
    cases = [
        (["--http", "127.0.0.1:99999"], "--http"),
        (["--https", "127.0.0.1:65536"], "--https"),
        (["--http", "127.0.0.1:123456"], "--http"),
        (["--http", "127.0.0.1:-1"], "--http"),
        (["--http", "127.0.0.1:"], "--http"),
        (["--http", "80x"], "--http"),
        (["--workers", "0"], "--workers"),
        (["--workers", "5000"], "--workers"),
        (["--workers", "two"], "--workers"),
        (["--idle-timeout", "-1"], "--idle-timeout"),
        (["--idle-timeout", "1e3"], "--idle-timeout"),
        (["--idle-timeout", ""], "--idle-timeout"),
        (["--idle-timeout", " 5"], "--idle-timeout"),
        (["--settings-timeout", "0"], "--settings-timeout"),
        (["--header-timeout", "99999999999"], "--header-timeout"),
        (["--handshake-timeout", "10s"], "--handshake-timeout"),
        (["--grace", "abc"], "--grace"),
        (["--max-request-body", "1x"], "--max-request-body"),
        (["--tcp-notsent-lowat", "-1"], "--tcp-notsent-lowat"),
        (["--tcp-notsent-lowat", "2g"], "--tcp-notsent-lowat"),
    ]
    for args, flag in cases:
        start_refused(loom, [site] + args, 2, needles=(flag,))
    print("numbers: %d bad values refused with exit 2 and one line each" % len(cases))


def cache_unwritable(loom, site, tmp):
    # root may write anywhere: a HOME under a regular file cannot hold a folder
    blocker = os.path.join(tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("x\n")
    env = dict(os.environ)
    env.pop("XDG_CACHE_HOME", None)
    env["HOME"] = os.path.join(blocker, "home")
    where = os.path.join(blocker, "home", ".cache", "loom")
    line = start_refused(loom, [site, "--https", "127.0.0.1:0"], 3, env=env,
                         needles=(where, "--cert", "Not a directory"))
    print("unwritable cache, --https without --cert: exit 3: %s" % line)
    line = start_refused(loom, [], 6, env=env, needles=(where, "Not a directory"))
    print("unwritable cache, the demo: exit 6: %s" % line)


def port_in_use(loom, site):
    port = free_port()
    fixed = "127.0.0.1:%d" % port
    # three workers share the fixed port (SO_REUSEPORT among themselves)
    with Server(loom, site=site, extra=["--http", fixed], workers=3) as s:
        line = start_refused(loom, [site, "--http", fixed], 4, needles=("in use",))
        print("second loom serve on %s: exit 4: %s" % (fixed, line))
        line = start_refused(loom, [site, "--https", fixed, "--workers", "2"], 4,
                             needles=("in use",))
        # every connection still reaches the first server
        for i in range(20):
            p = run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                     "%{http_code}", "http://%s/index.html" % fixed], timeout=20)
            check(p.stdout == b"200", "request %d on the shared port: %r" % (i, p.stdout))
        print("20 fresh connections to %s all served by the first server" % fixed)
        check(s.proc.poll() is None, "the first server is still running")


def dual_stack(loom, site):
    port = free_port()
    with Server(loom, site=site, extra=["--http", ":%d" % port], workers=2):
        for host in ("127.0.0.1", "[::1]"):
            p = run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                     "%{http_version} %{http_code}", "http://%s:%d/index.html" % (host, port)],
                    timeout=20)
            check(p.stdout == b"2 200", "--http :%d reached over %s: %r" % (port, host, p.stdout))
    print("--http :PORT: one dual-stack listener, IPv4 and IPv6 both served")


def plain_http_on_tls(loom, site):
    with Server(loom, site=site) as s:
        port = s.https_port
        p = run(["curl", "-s", "-i", "--http1.1", "http://127.0.0.1:%d/index.html" % port],
                timeout=20)
        out = p.stdout.decode(errors="replace")
        check(p.returncode == 0, "curl over plain HTTP to the TLS port: exit %d, %r" %
              (p.returncode, out[:500]))
        check(out.startswith("HTTP/1.1 400"), "plain HTTP to the TLS port: %r" % out[:300])
        check("HTTPS" in out and "https://" in out, "the 400 says why: %r" % out[:500])
        # a raw socket: the answer comes, then the connection ends (no reset)
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        data = read_to_end(c)
        check(data.startswith(b"HTTP/1.1 400") and b"Connection: close" in data,
              "raw POST to the TLS port: %r" % data[:300])
        # and the port still speaks TLS
        p = run(["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                 "https://127.0.0.1:%d/index.html" % port], timeout=20)
        check(p.stdout == b"2 200", "TLS on the same port after: %r" % p.stdout)
        print("plain HTTP to the TLS port: 400 saying so; TLS still served there")


def test(argv):
    loom = argv[0]
    tmp = make_tmp("operators")
    try:
        site = make_site(tmp, [("index.html", "<!doctype html><title>ops</title>\n")])
        numbers(loom, site)
        cache_unwritable(loom, site, tmp)
        port_in_use(loom, site)
        dual_stack(loom, site)
        plain_http_on_tls(loom, site)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
