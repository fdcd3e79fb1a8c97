#!/usr/bin/env python3
"""loom serve --proxy against nghttpx, h2o, HAProxy and nginx as reverse
proxies, in one run, in front of the same backend.

The backend: nginx (one worker process, access log off, sendfile), serving
b/1k.txt (1 KiB) and b/100m.bin (100 MiB of random octets) over HTTP/1.1
keep-alive, pinned to core 0 (`taskset -c 0`) with h2load, so that the
proxy has core 1 to itself. It is started once and serves every proxy in
turn.

The proxies, one at a time, each started fresh for its turn, one worker
process or thread, pinned to core 1 (`taskset -c 1`), TLS 1.3 only where
the proxy can say so, the same self-signed ECDSA P-256 certificate, ALPN h2,
HTTP/1.1 keep-alive to the backend, no access log:

  loom     loom serve EMPTY --workers 1 --https ... --proxy /b=http://BACKEND
           (its defaults: at most 32 backend connections per worker,
           --proxy-max-conns; requests beyond wait for one)
  nghttpx  nghttpx -n1 (Debian nghttp2-proxy), frontend TLS, backend
           proto=http/1.1 (a main and a worker process)
  h2o      num-threads 1, proxy.reverse.url (h2o 2.2; a key-holding child
           process and a perl crash-log helper come with it)
  haproxy  nbthread 1, mode http, bind ... ssl alpn h2,http/1.1,
           http-reuse safe
  nginx    worker_processes 1, listen ssl http2, proxy_pass to an upstream
           with keepalive 1024 (the whole concurrency: connections to the
           backend are reused, never closed and reopened), proxy_http_version
           1.1, proxy_max_temp_file_size 0 (the 100 MiB file streams through
           memory buffers instead of going to a temporary file)

Only loom limits its backend connections (32); the others open one per
request in flight (about 512 here). The table shows how many connections
each had open to the backend and opened during the rounds (nginx's
stub_status on the backend), and h2load's own CPU per 100k requests (what
the proxy's way of writing costs its client).

For each proxy:

  big    --big-rounds (5) downloads of the 100 MiB file, each on a new connection
         (h2load -n 1 -c 1 -m 1 over TLS, on core 0) first, on the fresh
         process: MB/s (10^6 octets of body over h2load's time), the proxy's
         CPU seconds per GB, and its memory: VmHWM (the peak resident set
         since the start) of the process that did the work (the one with
         the most CPU time: for nginx the worker, for nghttpx its worker
         process) and of all the proxy's processes summed, and VmRSS before
         the first download (idle).
  small  a warm-up (--requests / 5, at least 5000), then --rounds rounds of
         h2load -n N -c 16 -m 32 (N = --requests, 100000, or the environment's
         BENCH_PROXY_REQUESTS) over TLS on core 0
         for the 1 KiB file: req/s and the proxy's CPU seconds per 100k
         requests: user + system time of all the proxy's processes and
         threads from /proc/PID/stat (and each thread's schedstat ns for
         precision, as bench/serve.py does), read just before and after the
         round; also the backend's CPU per 100k requests.

Every h2load run must end with every request succeeded with a 2xx over h2
and TLS 1.3 (TLS_AES_128_GCM_SHA256 for all, h2load --tls13-ciphers), and
exactly N x 1024 (or 100 MiB) octets of body received, or the proxy is
reported as FAILED with h2load's output (and the proxy's log), and the run
goes on with the next proxy; the script then exits 1 after its report. A
proxy that does not start is reported the same way.

Other programs on the two cores (a build, a test suite) slow req/s and
MB/s, and CPU per request a little: each round measures their load (the
cores' user + system time in /proc/stat less what the proxy, h2load and the
backend used) and a round above --max-other % of a core is rerun (twice at
most) after waiting for quiet cores, the least disturbed try kept, as in
bench/serve.py.

Medians of the rounds are reported; the last line is

  summary: proxy_cpu_vs_best=X vs_nghttpx=X vs_h2o=X vs_haproxy=X vs_nginx=X
           rss_vs_best=X mbps_vs_best=X        (one line)

proxy_cpu_vs_best is loom's proxy CPU per request over the lowest of the
peers' (lower is better; the target is <= 0.8), vs_PEER loom's over that
peer's; rss_vs_best loom's worker peak RSS in the download over the lowest
peer's; mbps_vs_best loom's download MB/s over the highest peer's (higher is
better). A proxy not run or failed prints nan.

  bench/proxy.py LOOM [--requests N] [--rounds R] [--big-rounds R]
                      [--proxies loom,nghttpx,...] [--only small,big]
                      [--max-other P] [--quiet-wait S] [--perf SECONDS]

--perf S: after the table, `perf record -g` (cpu-clock) on a fresh loom for
S seconds of the 1 KiB load, and its self time by library and by function
(perf report --no-children); needs linux-perf.

The loom binary is copied first, so that one build is measured throughout
(its sha1 is printed). Run by `make bench-proxy` (BENCH_FLAGS passes flags;
BENCH_FLAGS="--requests 20000 --rounds 1" for a quick run).
A default run takes about 1 minute on an idle 2-core machine (2-3 on a busy
one: reruns, and waits for quiet cores). A benchmark, not a test: it
asserts nothing about loom's numbers.
"""
import argparse
import hashlib
import http.client
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import free_port, make_site, root_user, wait_quiet  # noqa: E402
from serve import cpu_delta, cpu_seconds, duration_s, proc_tree, raise_nofile  # noqa: E402

PROXY_CORE, CLIENT_CORE = 1, 0
PROXIES = ("loom", "nghttpx", "h2o", "haproxy", "nginx")
PHASES = ("small", "big")
BIG = 100 << 20
SMALL = 1024
CIPHER = "TLS_AES_128_GCM_SHA256"
NAN = float("nan")

BACKEND = """{user}daemon off; worker_processes 1; worker_rlimit_nofile {nofile};
pid {tmp}/backend.pid; error_log {tmp}/backend-error.log;
events {{ worker_connections 8192; }}
http {{
  access_log off; keepalive_requests 100000000; keepalive_timeout 600s; sendfile on;
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  server {{
    listen 127.0.0.1:{port} backlog=4096; root {root};
    location = /backend-status {{ stub_status; }}
  }}
}}
"""

NGINX = """{user}daemon off; worker_processes 1; worker_rlimit_nofile {nofile};
pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 100000000;
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  upstream backend {{
    server 127.0.0.1:{backend}; keepalive 1024; keepalive_requests 100000000;
    keepalive_timeout 600s;
  }}
  server {{
    listen 127.0.0.1:{port} ssl http2;
    ssl_protocols TLSv1.3; ssl_certificate {cert}; ssl_certificate_key {key};
    location / {{
      proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }}
  }}
}}
"""

H2O = """{user}pid-file: {tmp}/h2o.pid
error-log: {tmp}/h2o-error.log
num-threads: 1
max-connections: 4096
listen:
  host: 127.0.0.1
  port: {port}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    minimum-version: TLSv1.3
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        proxy.reverse.url: http://127.0.0.1:{backend}/
"""

HAPROXY = """global
  nbthread 1
  maxconn {maxconn}
  ssl-default-bind-options ssl-min-ver TLSv1.3
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse safe
frontend front
  bind 127.0.0.1:{port} ssl crt {pem} alpn h2,http/1.1
  default_backend back
backend back
  server b1 127.0.0.1:{backend}
"""

NGHTTPX = """frontend=127.0.0.1,{port}
backend=127.0.0.1,{backend};;proto=http/1.1
private-key-file={key}
certificate-file={cert}
workers=1
no-ocsp=yes
tls-min-proto-version=TLSv1.3
backend-keep-alive-timeout=600s
errorlog-file={tmp}/nghttpx-error.log
"""


class Failed(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- processes

def starttime(pid):
    """The start time of a live process (None when gone or a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        v = s[s.rindex(")") + 2:].split()
        return None if v[0] in ("Z", "X") else int(v[19])
    except (OSError, ValueError, IndexError):
        return None


class Started:
    """A command pinned to a core, its output in a log file, stopped with
    every descendant it made (by PID, each checked by its start time)."""

    def __init__(self, name, cmd, core, logpath, env=None):
        self.name, self.logpath = name, logpath
        self.out = open(logpath, "ab")
        self.p = subprocess.Popen(["taskset", "-c", str(core)] + cmd, env=env,
                                  stdout=self.out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        self.known = {}  # pid -> start time, every descendant seen

    def pids(self):
        tree = proc_tree([self.p.pid])
        for pid in tree:
            if pid not in self.known:
                self.known[pid] = starttime(pid)
        return tree

    def log_tail(self, n=30):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def wait_port(self, port, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.p.poll() is not None:
                raise Failed("%s exited (status %d) before listening on %d:\n%s" % (
                    self.name, self.p.returncode, port, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                self.pids()
                return
            except OSError:
                time.sleep(0.05)
        raise Failed("%s did not listen on %d within %d s:\n%s" % (
            self.name, port, timeout, self.log_tail()))

    def stop(self):
        self.pids()
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                log("  %s did not end on SIGTERM in 10 s: SIGKILL" % self.name)
                self.p.kill()
                self.p.wait()
        # its other processes (nghttpx's worker, h2o's helpers) end after it:
        # 5 s, then SIGKILL
        left = {pid: st for pid, st in self.known.items() if pid != self.p.pid and st is not None}
        end = time.monotonic() + 5
        while left and time.monotonic() < end:
            left = {pid: st for pid, st in left.items() if starttime(pid) == st}
            if left:
                time.sleep(0.05)
        for pid in left:
            log("  %s: process %d still there 5 s after the stop: SIGKILL" % (self.name, pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.out.close()


# ---- measurements

def cores_busy():
    """User + nice + system + steal seconds of cores PROXY_CORE and
    CLIENT_CORE (/proc/stat); interrupts and softirqs, which loopback
    networking makes plenty of and which the processes' own times do not
    count, are left out."""
    busy = 0
    with open("/proc/stat") as f:
        for line in f:
            name = line.split(" ", 1)[0]
            if name in ("cpu%d" % PROXY_CORE, "cpu%d" % CLIENT_CORE):
                v = [int(x) for x in line.split()[1:]]
                busy += v[0] + v[1] + v[2] + v[7]
    return busy / os.sysconf("SC_CLK_TCK")


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        v = s[s.rindex(")") + 2:].split()
        return int(v[11]) + int(v[12])
    except (OSError, ValueError, IndexError):
        return 0


def backend_conns(port):
    """The connections the backend has accepted, and has open (nginx's
    stub_status, less the connection that asks)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/backend-status")
        text = c.getresponse().read().decode()
    finally:
        c.close()
    active = re.search(r"Active connections: (\d+)", text)
    m = re.search(r"\n\s*(\d+) (\d+) (\d+)", text)
    if not active or not m:
        raise Failed("the backend's stub_status is unreadable: %r" % text)
    return int(m.group(1)) - 1, int(active.group(1)) - 1


def h2load(url, n, c, m, size, proxy=None, backend=None, timeout=300):
    """h2load pinned to CLIENT_CORE; raises Failed unless every request
    succeeded with a 2xx over h2 and TLS 1.3 with n x size octets of body."""
    cmd = ["taskset", "-c", str(CLIENT_CORE), "h2load", "--tls13-ciphers=" + CIPHER,
           "-n", str(n), "-c", str(c), "-m", str(m), url]
    # the roots: cpu_seconds() adds their descendants (each process once)
    pp = [proxy.p.pid] if proxy else []
    bp = [backend.p.pid] if backend else []
    for x in (proxy, backend):
        if x:
            x.pids()  # (remembered for the stop)
    p0, b0 = cpu_seconds(pp) if pp else None, cpu_seconds(bp) if bp else None
    busy0, kids0, t0 = cores_busy(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        so = e.stdout or ""
        so = so.decode(errors="replace") if isinstance(so, bytes) else so
        raise Failed("%s: no end after %d s:\n%s" % (" ".join(cmd[3:]), timeout, so[-3000:]))
    busy1, kids1, t1 = cores_busy(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    p1, b1 = cpu_seconds(pp) if pp else None, cpu_seconds(bp) if bp else None
    text = out.stdout
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                     r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    fin = re.search(r"finished in (\S+), ([\d.]+) req/s", text)
    traffic = re.search(r"traffic: \S+ \((\d+)\) total, \S+ \((\d+)\) headers \(space savings "
                        r"([\d.]+)%\), \S+ \((\d+)\) data", text)
    proto = re.search(r"Application protocol: (\S+)", text)
    tlsv = re.search(r"TLS Protocol: (\S+)", text)
    cipher = re.search(r"Cipher: (\S+)", text)
    why = []
    if out.returncode != 0:
        why.append("exit %d" % out.returncode)
    if not done or int(done.group(3)) != n:
        why.append("%s of %d requests succeeded" % (done.group(3) if done else "?", n))
    if not codes or int(codes.group(1)) != n:
        why.append("%s of %d were 2xx" % (codes.group(1) if codes else "?", n))
    if not traffic or int(traffic.group(4)) != n * size:
        why.append("%s octets of body, not %d" % (traffic.group(4) if traffic else "?", n * size))
    if not proto or proto.group(1) != "h2":
        why.append("protocol %s, not h2" % (proto.group(1) if proto else "?"))
    if not tlsv or tlsv.group(1) != "TLSv1.3" or not cipher or cipher.group(1) != CIPHER:
        why.append("TLS %s %s" % (tlsv.group(1) if tlsv else "?",
                                  cipher.group(1) if cipher else "?"))
    if why or not fin:
        raise Failed("%s: %s:\n%s%s" % (" ".join(cmd[3:]), "; ".join(why) or "no report",
                                                 text[-3000:], out.stderr[-2000:]))
    secs = duration_s(fin.group(1))
    pcpu = cpu_delta(p0, p1) if pp else 0.0
    bcpu = cpu_delta(b0, b1) if bp else 0.0
    client = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    other = max(0.0, busy1 - busy0 - pcpu - bcpu - client) / (t1 - t0) * 100
    return {"rps": float(fin.group(2)), "secs": secs,
            "mbps": int(traffic.group(4)) / secs / 1e6,
            "cpu100k": pcpu * 1e5 / n, "bcpu100k": bcpu * 1e5 / n, "cpu": pcpu,
            "client100k": client * 1e5 / n, "other": other,
            "savings": float(traffic.group(3)), "hdr_octets": int(traffic.group(2)) / n}


def measured(a, fn):
    """fn() run again (twice at most) while other programs' load is above
    --max-other; the least disturbed try, with its number of tries."""
    tries = [fn()]
    while tries[-1]["other"] > a.max_other and len(tries) < 3:
        wait_quiet(a, cores_busy)
        tries.append(fn())
    best = min(tries, key=lambda x: x["other"])
    best["tries"] = len(tries)
    return best


# ---- the proxies

def proxy_spec(name, a, tmp, cert, key, backend, nofile):
    """The command of a proxy and its TLS port (its configuration written)."""
    port = free_port()
    user = root_user("nginx")
    if name == "loom":
        return [a.loom, "serve", os.path.join(tmp, "empty"), "--workers", "1",
                "--https", "127.0.0.1:%d" % port, "--cert", cert, "--key", key,
                "--proxy", "/b=http://127.0.0.1:%d" % backend,
                "--error-log", os.path.join(tmp, "loom-error.log")], port
    if name == "nghttpx":
        conf = os.path.join(tmp, "nghttpx.conf")
        with open(conf, "w") as f:
            f.write(NGHTTPX.format(port=port, backend=backend, cert=cert, key=key, tmp=tmp))
        return ["nghttpx", "--conf=" + conf], port
    if name == "h2o":
        conf = os.path.join(tmp, "h2o.conf")
        with open(conf, "w") as f:
            f.write(H2O.format(port=port, backend=backend, cert=cert, key=key, tmp=tmp,
                               user=root_user("h2o")))
        return ["h2o", "-c", conf], port
    if name == "haproxy":
        pem = os.path.join(tmp, "cert+key.pem")
        with open(pem, "w") as f:
            f.write(open(cert).read() + open(key).read())
        conf = os.path.join(tmp, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(HAPROXY.format(port=port, backend=backend, pem=pem,
                                   maxconn=max(1000, min(8192, (nofile - 200) // 2))))
        return ["haproxy", "-db", "-f", conf], port
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX.format(port=port, backend=backend, cert=cert, key=key, tmp=tmp,
                             user=user, nofile=nofile))
    return ["nginx", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "nginx-error.log")], port


def big_phase(a, r, proxy, backend, url):
    pids = proxy.pids()
    r["rss_idle_kb"] = sum(status_kb(p, "VmRSS") for p in pids)
    rounds = []
    for _ in range(a.big_rounds):
        rounds.append(measured(a, lambda: h2load(url, 1, 1, 1, BIG, proxy, backend)))
    pids = proxy.pids()
    hwm = {p: status_kb(p, "VmHWM") for p in pids}
    worker = max(pids, key=proc_cpu)
    r["rss_peak_kb"] = hwm[worker]
    r["rss_all_kb"] = sum(hwm.values())
    r["procs"] = len(pids)
    r["big"] = rounds
    log("  %s 100 MiB: MB/s %s, CPU s/GB %s, other load %s %% (tries %s); peak RSS %.1f MiB "
        "(worker), %.1f MiB (all %d processes), idle %.1f MiB" % (
            proxy.name, " ".join("%.0f" % x["mbps"] for x in rounds),
            " ".join("%.2f" % (x["cpu"] / (BIG / 1e9)) for x in rounds),
            " ".join("%.0f" % x["other"] for x in rounds),
            " ".join(str(x["tries"]) for x in rounds),
            r["rss_peak_kb"] / 1024, r["rss_all_kb"] / 1024, len(pids), r["rss_idle_kb"] / 1024))


def small_phase(a, r, proxy, backend, url, backend_port):
    n = a.requests
    acc0 = backend_conns(backend_port)[0]
    h2load(url, max(n // 5, 5000), 16, 32, SMALL)  # warm-up
    acc1 = backend_conns(backend_port)[0]
    rounds = []
    for _ in range(a.rounds):
        rounds.append(measured(a, lambda: h2load(url, n, 16, 32, SMALL, proxy, backend)))
    acc2, r["backend_open"] = backend_conns(backend_port)
    r["backend_new"] = acc2 - acc1
    r["small"] = rounds
    r["rss_after_kb"] = sum(status_kb(p, "VmRSS") for p in proxy.pids())
    log("  %s 1 KiB: CPU s/100k %s, req/s %s, backend CPU s/100k %s, h2load CPU s/100k %s, "
        "other load %s %% (tries %s); backend connections: %d opened in the warm-up, %d in the "
        "rounds, %d open after; header savings %.1f %%" % (
            proxy.name, " ".join("%.3f" % x["cpu100k"] for x in rounds),
            " ".join("%.0f" % x["rps"] for x in rounds),
            " ".join("%.3f" % x["bcpu100k"] for x in rounds),
            " ".join("%.3f" % x["client100k"] for x in rounds),
            " ".join("%.0f" % x["other"] for x in rounds),
            " ".join(str(x["tries"]) for x in rounds),
            acc1 - acc0, r["backend_new"], r["backend_open"], rounds[0]["savings"]))


def run_proxy(name, a, phases, tmp, cert, key, backend, backend_port, nofile):
    r = {}
    cmd, port = proxy_spec(name, a, tmp, cert, key, backend_port, nofile)
    env = dict(os.environ, XDG_CACHE_HOME=tmp)
    proxy = Started(name, cmd, PROXY_CORE, os.path.join(tmp, name + ".out"), env)
    try:
        proxy.wait_port(port)
        base = "https://127.0.0.1:%d/b/" % port
        if "big" in phases:  # first: VmHWM is the peak since the start
            big_phase(a, r, proxy, backend, base + "100m.bin")
        if "small" in phases:
            small_phase(a, r, proxy, backend, base + "1k.txt", backend_port)
        if proxy.p.poll() is not None:
            raise Failed("%s exited (status %d) during the run:\n%s" % (
                name, proxy.p.returncode, proxy.log_tail()))
    except Failed as e:
        r["error"] = str(e)
        log("  %s FAILED: %s" % (name, e))
    finally:
        proxy.stop()
    return r


def perf_profile(a, tmp, cert, key, backend, backend_port, nofile):
    """perf record -g on a fresh loom during a.perf s of the 1 KiB load;
    returns perf report's top lines."""
    if not shutil.which("perf"):
        return "perf not found (apt-get install linux-perf)"
    cmd, port = proxy_spec("loom", a, tmp, cert, key, backend_port, nofile)
    proxy = Started("loom", cmd, PROXY_CORE, os.path.join(tmp, "loom-perf.out"),
                    dict(os.environ, XDG_CACHE_HOME=tmp))
    data = os.path.join(tmp, "perf.data")
    try:
        proxy.wait_port(port)
        url = "https://127.0.0.1:%d/b/1k.txt" % port
        h2load(url, 20000, 16, 32, SMALL)
        rec = subprocess.Popen(["perf", "record", "-g", "-o", data, "-p", str(proxy.p.pid),
                                "--", "sleep", str(a.perf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        time.sleep(0.3)
        end = time.monotonic() + a.perf
        while time.monotonic() < end - 0.5:
            h2load(url, 20000, 16, 32, SMALL)
        rec.wait(a.perf + 30)
    finally:
        proxy.stop()
    out = []
    for sort, limit in (("dso", "0.5"), ("dso,symbol", "0.7")):
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g",
                              "none", "--percent-limit", limit, "--sort", sort],
                             capture_output=True, text=True)
        out += [re.sub(r"[\s-]+$", "", x) for x in rep.stdout.splitlines()
                if x.strip() and not x.startswith("#")]
    return "\n".join(out)


def med(rounds, key):
    return statistics.median(x[key] for x in rounds) if rounds else NAN


def main():
    ap = argparse.ArgumentParser(description="loom serve --proxy against nghttpx, h2o, "
                                 "HAProxy and nginx")
    ap.add_argument("loom")
    ap.add_argument("--requests", type=int,
                    default=int(os.environ.get("BENCH_PROXY_REQUESTS", "100000")),
                    help="requests per 1 KiB round (default 100000, or $BENCH_PROXY_REQUESTS)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the 1 KiB load (3)")
    ap.add_argument("--big-rounds", type=int, default=5,
                    help="downloads of the 100 MiB file (5; a fifth of a second each)")
    ap.add_argument("--proxies", default=",".join(PROXIES),
                    help="comma-separated subset of " + ",".join(PROXIES))
    ap.add_argument("--only", default=",".join(PHASES), help="small, big or both")
    ap.add_argument("--max-other", type=float, default=25,
                    help="rerun (twice at most) a round during which other programs used more "
                    "than this %% of a core on the two cores")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="seconds in all to wait for quiet cores before rerunning rounds")
    ap.add_argument("--perf", type=float, default=0,
                    help="seconds of perf record -g on loom under the 1 KiB load (0: none)")
    a = ap.parse_args()
    a.quiet_budget = a.quiet_wait
    phases = {s.strip().lower() for s in a.only.split(",") if s.strip()}
    proxies = [s.strip().lower() for s in a.proxies.split(",") if s.strip()]
    bad = (phases - set(PHASES)) | (set(proxies) - set(PROXIES))
    if bad or a.requests < 1 or a.rounds < 1 or a.big_rounds < 1:
        ap.error("unknown or bad: " + ", ".join(sorted(bad)))
    proxies = [s for s in PROXIES if s in proxies]
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin"
    need = {"h2load": "nghttp2-client", "nginx": "nginx", "taskset": "util-linux",
            "openssl": "openssl"}
    need.update({p: {"nghttpx": "nghttp2-proxy"}.get(p, p) for p in proxies if p != "loom"})
    missing = [pkg for tool, pkg in need.items() if not shutil.which(tool)]
    if missing:
        sys.exit("bench/proxy.py needs the Debian packages: %s" % " ".join(sorted(set(missing))))
    nofile = raise_nofile()
    tmp = tempfile.mkdtemp(prefix="loom-bench-proxy-")
    t0 = time.time()
    results, backend, profile = {}, None, None
    try:
        with open(a.loom, "rb") as f:
            digest = hashlib.sha1(f.read()).hexdigest()[:12]
        shutil.copy2(a.loom, os.path.join(tmp, "loom"))
        a.loom = os.path.join(tmp, "loom")
        root, cert, key = make_site(tmp)
        os.makedirs(os.path.join(tmp, "empty"))
        os.makedirs(os.path.join(root, "b"))
        with open(os.path.join(root, "b", "1k.txt"), "wb") as f:
            f.write(b"x" * SMALL)
        if "big" in phases:
            with open(os.path.join(root, "b", "100m.bin"), "wb") as f:
                for _ in range(BIG >> 20):
                    f.write(os.urandom(1 << 20))
        backend_port = free_port()
        conf = os.path.join(tmp, "backend.conf")
        with open(conf, "w") as f:
            f.write(BACKEND.format(tmp=tmp, port=backend_port, root=root, nofile=nofile,
                                   user=root_user("nginx")))
        backend = Started("backend nginx", ["nginx", "-p", tmp, "-c", conf, "-e",
                                            os.path.join(tmp, "backend-error.log")],
                          CLIENT_CORE, os.path.join(tmp, "backend.out"))
        try:
            backend.wait_port(backend_port)
        except Failed as e:
            print("FAILED: the backend: %s" % e)
            return 1
        for name in proxies:
            log("%s ..." % name)
            results[name] = run_proxy(name, a, phases, tmp, cert, key, backend, backend_port,
                                      nofile)
            time.sleep(0.3)
        if a.perf > 0 and "loom" in proxies:
            log("perf record on loom ...")
            profile = perf_profile(a, tmp, cert, key, backend, backend_port, nofile)
        loom_errors = ""
        try:
            with open(os.path.join(tmp, "loom-error.log"), errors="replace") as f:
                loom_errors = f.read()
        except OSError:
            pass
    finally:
        if backend:
            backend.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    n = a.requests
    print("reverse proxies in front of one nginx backend (HTTP/1.1 keep-alive, 1 worker, core %d, "
          "with h2load): one worker each on core %d, h2load on core %d, TLS 1.3 %s ECDSA P-256, "
          "medians of %d rounds (downloads: of %d); loom binary sha1 %s" % (
              CLIENT_CORE, PROXY_CORE, CLIENT_CORE, CIPHER, a.rounds, a.big_rounds, digest))
    print("  small: 1 KiB, h2load -n %d -c 16 -m 32; cpu: the proxy's CPU s per 100k requests "
          "(all its processes and threads); big: 100 MiB, h2load -n 1 -c 1 -m 1" % n)
    cols = ("cpu/100k", "req/s", "be cpu/100k", "be conns", "be new", "h2load cpu", "hdr B/resp",
            "MB/s", "cpu s/GB", "RSS MiB", "RSS all", "RSS idle")
    print("%-8s" % "proxy" + "".join("%12s" % c for c in cols))
    table, failed = {}, []
    for name in proxies:
        r = results.get(name, {})
        s, b = r.get("small"), r.get("big")
        row = [med(s, "cpu100k"), med(s, "rps"), med(s, "bcpu100k"),
               r.get("backend_open", NAN), r.get("backend_new", NAN), med(s, "client100k"),
               med(s, "hdr_octets"), med(b, "mbps"),
               med(b, "cpu") / (BIG / 1e9) if b else NAN,
               r.get("rss_peak_kb", NAN) / 1024, r.get("rss_all_kb", NAN) / 1024,
               r.get("rss_idle_kb", NAN) / 1024]
        table[name] = row
        fmt = ("%.3f", "%.0f", "%.3f", "%.0f", "%.0f", "%.3f", "%.0f", "%.0f", "%.2f", "%.1f",
               "%.1f", "%.1f")
        line = "%-8s" % name + "".join("%12s" % (f % v) for f, v in zip(fmt, row))
        if "error" in r:
            failed.append(name)
            line += "   FAILED (see below)"
        print(line)
    print("  be: the backend's (nginx's) CPU per 100k requests, the connections the proxy had "
          "open to it after the rounds, and opened during them; h2load cpu: the client's CPU s "
          "per 100k requests; hdr B/resp: h2load's header octets per response; MB/s, cpu s/GB: "
          "the download; RSS MiB: VmHWM of the proxy's busiest process after the downloads (a "
          "fresh process), RSS all: summed over its processes, RSS idle: VmRSS of them all before")
    for name in proxies:
        r = results.get(name, {})
        parts = []
        for ph, key, f in (("small", "cpu100k", "%.3f"), ("small", "rps", "%.0f"),
                           ("big", "mbps", "%.0f")):
            if r.get(ph):
                vs = [x[key] for x in r[ph]]
                m = statistics.median(vs)
                parts.append("%s %s (spread %.1f%%)" % (
                    key, "/".join(f % v for v in vs), (max(vs) - min(vs)) / m * 100 if m else NAN))
        if parts:
            print("rounds %-8s %s" % (name + ":", "; ".join(parts)))
    other = [(x["other"], name, ph) for name, r in results.items() for ph in PHASES
             for x in r.get(ph) or []]
    if other:
        print("other programs' load on cores 0-1 during the rounds kept: median %.0f %%, max "
              "%.0f %% (%s %s) of a core; %d rounds rerun for more than %.0f %%" % (
                  statistics.median(o[0] for o in other), max(other)[0], max(other)[1],
                  max(other)[2], sum(x["tries"] - 1 for r in results.values() for ph in PHASES
                                     for x in r.get(ph) or []), a.max_other))
    for name in failed:
        print("FAILED %s: %s" % (name, results[name]["error"]))
    if loom_errors.strip():
        lines = loom_errors.strip().splitlines()
        print("loom's error log: %d lines; the first ones:\n  %s" % (
            len(lines), "\n  ".join(lines[:10])))
    if profile:
        print("perf (loom, %.0f s of the 1 KiB load; self time by library, then by function):\n%s"
              % (a.perf, profile))

    def best(i, low=True):
        vals = [table[p][i] for p in proxies if p != "loom" and p not in failed
                and not math.isnan(table[p][i])]
        return (min(vals) if low else max(vals)) if vals else NAN

    def ratio(x, y):
        return x / y if y and not math.isnan(y) and not math.isnan(x) else NAN

    loom = table.get("loom") if "loom" not in failed else None
    loom = loom or [NAN] * 12
    parts = ["proxy_cpu_vs_best=%.3f" % ratio(loom[0], best(0))]
    for p in PROXIES[1:]:
        parts.append("vs_%s=%.3f" % (p, ratio(loom[0], table[p][0]) if p in table
                                       and p not in failed else NAN))
    parts.append("rss_vs_best=%.3f" % ratio(loom[9], best(9)))
    parts.append("mbps_vs_best=%.3f" % ratio(loom[7], best(7, low=False)))
    print("elapsed %.0f s" % (time.time() - t0))
    print("summary: " + " ".join(parts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
