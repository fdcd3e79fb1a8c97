#!/usr/bin/env python3
"""loom serve against nghttpd, h2o and nginx, side by side in one run.

Each server gets one worker (thread or process) pinned to core 1 (h2load
runs on core 0, so neither steals the other's core), no access log, the same
1 KiB file, a TLS listener (the same self-signed certificate) and a
cleartext h2c one. For each server and protocol, h2load sends -n requests
over -c connections with -m streams each; the median req/s of --rounds
rounds is reported with loom's ratio to each peer. Then each server holds
--idle idle HTTP/2 connections (handshake done, no request) and the growth
of its resident memory per connection is reported.

  bench/serve.py LOOM [--requests N] [--rounds R] [--idle K]

The last line: summary: PEER_tls=X PEER_h2c=X PEER_idle=X PEER_idle_tls=X for each peer,
every X higher-is-better for loom (req/s loom / peer; idle memory peer /
loom).

Run by `make bench-serve`. A benchmark, not a test: it asserts nothing
beyond every request succeeding.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import H2O, free_port, wait_port  # noqa: E402

NGINX = """{user}daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 10000000;
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  server {{
    listen 127.0.0.1:{tls} ssl http2; listen 127.0.0.1:{clear} http2;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
  }}
}}
"""


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def h2load(url, n, c, m):
    out = subprocess.run(["taskset", "-c", "0", "h2load", "-n", str(n), "-c", str(c), "-m", str(m), url],
                         capture_output=True, text=True, timeout=300)
    text = out.stdout
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", text)
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text)
    if not ok or not rps or int(ok.group(1)) != n:
        raise RuntimeError("h2load against %s failed:\n%s%s" % (url, text, out.stderr))
    return float(rps.group(1))


def idle_connections(port, k, tls=False):
    """k idle HTTP/2 connections (h2c, or TLS with ALPN h2): the client
    preface and an empty SETTINGS."""
    socks = []
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    for _ in range(k):
        s = socket.create_connection(("127.0.0.1", port), 5)
        if tls:
            s = ctx.wrap_socket(s, server_hostname="localhost")
        s.sendall(preface)
        socks.append(s)
    for s in socks:  # read the server's SETTINGS so the handshake is done
        s.settimeout(5)
        try:
            s.recv(4096)
        except OSError:
            pass
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loom")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=int, default=500)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="loom-bench-")
    try:
        root = os.path.join(tmp, "site")
        os.mkdir(root)
        with open(os.path.join(root, "1k.txt"), "wb") as f:
            f.write(b"x" * 1024)
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        for d in ("cb", "px", "fc", "uw", "sc"):
            os.mkdir(os.path.join(tmp, d))

        def spec(name):
            tls, clear = free_port(), free_port()
            env = dict(os.environ, XDG_CACHE_HOME=tmp)
            if name == "loom":
                cmd = [a.loom, "serve", root, "--workers", "1", "--https", "127.0.0.1:%d" % tls,
                       "--http", "127.0.0.1:%d" % clear, "--cert", cert, "--key", key]
                return [(cmd, None)], tls, clear, env
            if name == "nghttpd":
                return [(["nghttpd", "-n", "1", "-d", root, "-a", "127.0.0.1", str(tls), key, cert],
                         None),
                        (["nghttpd", "-n", "1", "-d", root, "-a", "127.0.0.1", "--no-tls",
                          str(clear)], None)], tls, clear, env
            if name == "h2o":
                conf = os.path.join(tmp, "h2o.conf")
                with open(conf, "w") as f:
                    f.write(H2O.format(tmp=tmp, tls=tls, clear=clear, cert=cert, key=key,
                                       root=root, access="",
                                       user="user: root\n" if os.getuid() == 0 else ""))
                return [(["h2o", "-c", conf], None)], tls, clear, env
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX.format(tmp=tmp, tls=tls, clear=clear, cert=cert, key=key, root=root,
                                     user="user root;\n" if os.getuid() == 0 else ""))
            return [(["nginx", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "nginx-error.log")],
                     None)], tls, clear, env

        servers = [s for s in ("loom", "nghttpd", "h2o", "nginx")
                   if s == "loom" or shutil.which(s) or os.path.exists("/usr/sbin/" + s)]
        results = {}
        for name in servers:
            cmds, tls, clear, env = spec(name)
            procs = [subprocess.Popen(["taskset", "-c", "1"] + c, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for c, _ in cmds]
            try:
                wait_port(tls, procs[0])
                wait_port(clear, procs[-1])
                r = {}
                # memory per idle connection first, on a fresh server (after
                # load, freed memory would be reused and hide the growth)
                pids = []
                for p in procs:
                    pids += [p.pid] + children(p.pid)
                for what, port, tls_on in (("idle", clear, False), ("idle_tls", tls, True)):
                    time.sleep(0.3)
                    before = rss_kb(pids)
                    socks = idle_connections(port, a.idle, tls_on)
                    time.sleep(0.5)
                    after = rss_kb(pids)
                    for s in socks:  # reset, not FIN: no TIME_WAIT on ports the next
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,  # server may pick
                                     struct.pack("ii", 1, 0))
                        s.close()
                    r[what] = (after - before) * 1024.0 / a.idle
                time.sleep(0.3)
                for proto, url in (("h2 (TLS)", "https://127.0.0.1:%d/1k.txt" % tls),
                                   ("h2c", "http://127.0.0.1:%d/1k.txt" % clear)):
                    h2load(url, 2000, 10, 10)  # warm up
                    r[proto] = statistics.median(
                        h2load(url, a.requests, 10, 10) for _ in range(a.rounds))
                results[name] = r
            finally:
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                for p in procs:
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
            time.sleep(0.5)

        print("loom serve vs peers: one worker each, h2load -n %d -c 10 -m 10 on a 1 KiB file, "
              "median of %d rounds; idle: resident memory growth per idle HTTP/2 connection (%d "
              "connections)" % (a.requests, a.rounds, a.idle))
        print("%-10s %14s %14s %16s %16s" % ("server", "h2 (TLS) req/s", "h2c req/s",
                                            "idle h2c B/conn", "idle TLS B/conn"))
        for name, r in results.items():
            print("%-10s %14.0f %14.0f %16.0f %16.0f" % (name, r["h2 (TLS)"], r["h2c"], r["idle"],
                                                        r["idle_tls"]))
        loom = results["loom"]
        for name, r in results.items():
            if name == "loom":
                continue
            print("loom / %-8s TLS %.2fx, h2c %.2fx, idle memory %.2fx" % (
                name, loom["h2 (TLS)"] / r["h2 (TLS)"], loom["h2c"] / r["h2c"],
                (loom["idle"] / r["idle"]) if r["idle"] > 0 else float("nan")))
        # one line, every ratio "higher is better for loom": throughput
        # loom / peer, idle memory peer / loom
        parts = []
        for name, r in results.items():
            if name == "loom":
                continue
            parts += ["%s_tls=%.2f" % (name, loom["h2 (TLS)"] / r["h2 (TLS)"]),
                      "%s_h2c=%.2f" % (name, loom["h2c"] / r["h2c"]),
                      "%s_idle=%.2f" % (name, r["idle"] / loom["idle"] if loom["idle"] > 0
                                        else float("nan")),
                      "%s_idle_tls=%.2f" % (name, r["idle_tls"] / loom["idle_tls"]
                                            if loom["idle_tls"] > 0 else float("nan"))]
        print("summary: " + " ".join(parts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
