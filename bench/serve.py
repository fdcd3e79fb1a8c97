#!/usr/bin/env python3
"""loom serve against h2o (the main peer), nghttpd and nginx, in one run.

Every server is started fresh for its turn with one worker (thread or
process), no access log, the same site (1k.txt, 1 KiB; 1m.bin, 1 MiB), a
TLS listener (TLS 1.3, the same self-signed ECDSA P-256 certificate) and a
cleartext h2c one. Every server process is pinned to core 1 (`taskset -c
1`), h2load to core 0 (`taskset -c 0`), so neither steals the other's core.
Each scenario is warmed up with a short h2load run, then run --rounds times
(default 3); the medians are reported, and the spread of the rounds for loom
and h2o. Every h2load run must have all its requests succeed (2xx) over h2
(TLS 1.3) or h2c, or the script stops with h2load's output.

Other programs running on the two cores (a build, a test suite) slow req/s
and MB/s a lot and CPU per request little. Each round measures that load
(the cores' busy time in /proc/stat less the server's and h2load's CPU, per
second of the round, in % of a core); a round above --max-other (25 %) is
run again, twice at most, after waiting for the cores to be quiet (20 s at
most, --quiet-wait, 120 s, over the run), and the least disturbed try kept.
The log on stderr shows every round; the output, the load of the rounds
kept, and which scenarios stayed disturbed.

  A  1 KiB file over TLS, h2load -n N -c 16 -m 32 (N = --requests, 100000):
     the SERVER's CPU seconds per 100k requests: user + system time of the
     server's processes (nginx: master and worker; any child counts) read
     just before and after each round from /proc/PID/stat (utime + stime,
     which cover every thread of a process, in clock ticks / SC_CLK_TCK)
     and, for precision, from the run time in ns of each thread
     (/proc/PID/task/TID/schedstat: the same utime + stime, not cut into
     10 ms ticks, which are 3-5 % of a 100k-request round). The ns figure is
     the one reported unless the two disagree (a warning, then stat's).
     Also req/s.
  B  A over h2c (prior knowledge, an http:// URL): server CPU per 100k.
  C  1 MiB file over TLS, h2load -n N/50 (2000) -c 4 -m 4: MB/s (10^6
     octets of everything h2load received, over its run time).
  D  1 KiB over TLS from 500 connections, one stream each, h2load -n N/5
     (20000) -c 500 -m 1 (TLS handshakes weigh): req/s.
  E  A with 20 more request headers of about 50 octets each (x-hdr-NN: and
     40 characters of value): server CPU per 100k.
  savings  h2load's header "space savings" of the A runs (its "traffic:"
     line), per server: how well each server's HPACK encoder compresses.
  idle  growth of resident memory (VmRSS of the server's processes) per idle
     HTTP/2 connection, --idle (2000) connections holding the preface,
     SETTINGS and the ACK of the server's SETTINGS, no request; over h2c and
     over TLS, measured on the fresh server before any load (after load,
     freed memory would be reused and hide the growth).
  mallocs  loom only: a separate `loom serve` with LD_PRELOAD of
     bench/malloc_count.c (built here with cc into the temporary folder),
     which counts malloc, calloc, realloc, reallocarray, posix_memalign,
     aligned_alloc, memalign, valloc and pvalloc calls and writes the count
     to a file every 50 ms (checked first on python3 allocating 10000 blocks).
     After a warm-up, h2load -n N -c 10 -m 10 over h2c, then over TLS;
     (allocations during the run) / N is reported with the raw counts.

The script raises its RLIMIT_NOFILE to the hard limit before it starts
anything (the servers and h2load inherit it); nginx gets worker_connections
and worker_rlimit_nofile to match.

Output: a table, one row per server; the spread of loom's and h2o's rounds;
loom's mallocs per request; and last a line

  summary: A_cpu=X B_cpu=X C_mbps=X D_rps=X E_cpu=X savings=P idle_h2c=N
           idle_tls=N mallocs_h2c=F mallocs_tls=F   (one line)

A_cpu, B_cpu and E_cpu are loom's server CPU per request over h2o's (lower
is better for loom); C_mbps and D_rps loom's over h2o's (higher is better);
savings is loom's header space savings in %; idle_* loom's octets per idle
connection; mallocs_* loom's allocations per request. What was not run
(--only, --servers) prints as nan. Targets: A_cpu, B_cpu, E_cpu <= 0.75;
C_mbps >= 1.2; D_rps >= 1.25; savings >= 94; idle_h2c <= 1000 and idle_tls
<= 16000; mallocs_h2c 0 and mallocs_tls <= 0.1.

  bench/serve.py LOOM [--requests N] [--rounds R] [--idle K] [--max-other P] [--quiet-wait S]
                      [--only A,B,C,D,E,idle,mallocs] [--servers loom,h2o,nghttpd,nginx]

The loom binary is copied first, so that one build is measured throughout
(its sha1 is printed). Run by `make bench-serve` (BENCH_FLAGS passes flags).
A default run takes about 2 minutes on an otherwise idle 2-core machine,
3-5 on a busy one (reruns, and --quiet-wait s at most spent waiting for
quiet cores before them). A benchmark, not a test: it asserts nothing
about loom's numbers.
"""
import argparse
import hashlib
import math
import os
import re
import resource
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (free_port, h2o_conf, make_site, root_user, stop, wait_port,  # noqa: E402
                    wait_quiet)

SERVER_CORE, CLIENT_CORE = 1, 0
SERVERS = ("loom", "h2o", "nghttpd", "nginx")
SCENARIOS = ("A", "B", "C", "D", "E", "idle", "mallocs")
NAN = float("nan")

NGINX = """{user}daemon off; worker_processes 1; worker_rlimit_nofile {nofile};
pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections {conns}; }}
http {{
  access_log off; keepalive_requests 10000000;
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  server {{
    listen 127.0.0.1:{tls} ssl http2; listen 127.0.0.1:{clear} http2;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
  }}
}}
"""

# 20 request headers of 50 octets each (name, ": ", 40 characters of value)
EXTRA_HEADERS = ["x-hdr-%02d: %s" % (i, ("v%02d-" % i + "abcdefghijklmnopqrstuvwxyz0123456789"
                                         "abcdefghijklmnopqrstuvwxyz")[:40]) for i in range(20)]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- the servers' processes: CPU time and resident memory

def proc_tree(roots):
    """The pids of roots and of all their descendants (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        parent[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
    out, todo = [], [r for r in roots if r in parent]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def thread_ns(pid, ns):
    """ns plus the run time of pid's live threads (None without schedstat;
    ns unchanged when pid has just ended)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return ns
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns += int(f.read().split()[0])
        except FileNotFoundError:
            if not os.path.exists("/proc/%d/task/%s" % (pid, tid)):
                continue  # the thread ended
            return None  # a kernel without schedstat
        except (OSError, ValueError, IndexError):
            return None
    return ns


def cpu_seconds(roots):
    """User + system CPU seconds of roots and their descendants, every thread
    of each, two ways: (from /proc/PID/stat, utime + stime + cutime + cstime
    in clock ticks, so in steps of 1/SC_CLK_TCK s; from the run time in ns of
    each live thread, /proc/PID/task/TID/schedstat, or None without it)."""
    ticks, ns = 0, 0
    for pid in proc_tree(roots):
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
        ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        if ns is not None:
            ns = thread_ns(pid, ns)
    return ticks / os.sysconf("SC_CLK_TCK"), (ns / 1e9 if ns is not None else None)


def cpu_delta(before, after):
    """The CPU seconds between two cpu_seconds() samples: the thread run
    times' (ns) where they agree with /proc/PID/stat's utime + stime (ticks:
    10 ms steps, too coarse for a run of 0.3 s), else stat's (a thread that
    ended in between takes its run time with it from schedstat, not from
    stat)."""
    by_stat = after[0] - before[0]
    if before[1] is None or after[1] is None:
        return by_stat
    by_ns = after[1] - before[1]
    if abs(by_ns - by_stat) > 3.0 / os.sysconf("SC_CLK_TCK") + 0.05 * by_stat:
        print("  warning: server CPU %.3f s by /proc/PID/stat, %.3f s by schedstat; taking "
              "stat's" % (by_stat, by_ns), file=sys.stderr, flush=True)
        return by_stat
    return by_ns


def rss_kb(roots):
    total = 0
    for pid in proc_tree(roots):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cores_busy():
    """Seconds cores SERVER_CORE and CLIENT_CORE have spent busy (not idle
    or waiting for I/O), from /proc/stat."""
    busy = 0
    with open("/proc/stat") as f:
        for line in f:
            name = line.split(" ", 1)[0]
            if name in ("cpu%d" % SERVER_CORE, "cpu%d" % CLIENT_CORE):
                v = [int(x) for x in line.split()[1:]]
                busy += sum(v[:8]) - v[3] - v[4]  # all but idle, iowait (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


# ---- h2load

def duration_s(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    if not m:
        raise RuntimeError("unreadable duration %r" % v)
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]


def h2load(url, n, c, m, headers=(), pids=None):
    """Runs h2load pinned to CLIENT_CORE; every request must succeed with a
    2xx. Returns req/s, MB/s, header space savings, the TLS protocol and
    cipher, and, given the server's pids, its CPU seconds per 100k requests."""
    cmd = ["taskset", "-c", str(CLIENT_CORE), "h2load", "-n", str(n), "-c", str(c), "-m", str(m)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    before = cpu_seconds(pids) if pids else None
    busy0, kids0, t0 = cores_busy(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    busy1, kids1, t1 = cores_busy(), resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    after = cpu_seconds(pids) if pids else None
    text = out.stdout
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", text)
    codes = re.search(r"status codes: (\d+) 2xx", text)
    fin = re.search(r"finished in (\S+), ([\d.]+) req/s", text)
    traffic = re.search(r"traffic: \S+ \((\d+)\) total, \S+ \((\d+)\) headers \(space savings "
                        r"([\d.]+)%\)", text)
    proto = re.search(r"Application protocol: (\S+)", text)
    if (out.returncode != 0 or not done or not codes or not fin or not traffic
            or int(done.group(3)) != n or int(codes.group(1)) != n
            or not proto or proto.group(1) not in ("h2", "h2c")):
        raise RuntimeError("h2load %s failed (exit %d):\n%s%s" % (
            " ".join(cmd[3:]), out.returncode, text, out.stderr))
    tlsv = re.search(r"TLS Protocol: (\S+)", text)
    cipher = re.search(r"Cipher: (\S+)", text)
    if url.startswith("https") and (not tlsv or tlsv.group(1) != "TLSv1.3"):
        raise RuntimeError("h2load %s: not TLS 1.3:\n%s" % (url, text))
    secs = duration_s(fin.group(1))
    server = cpu_delta(before, after) if pids else 0.0
    client = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    # CPU time on the two cores that neither the server nor h2load used,
    # per second of the run: another program's load, which slows req/s and
    # MB/s (CPU per request much less)
    other = max(0.0, busy1 - busy0 - server - client) / (t1 - t0) * 100
    return {"rps": float(fin.group(2)), "mbps": int(traffic.group(1)) / secs / 1e6,
            "savings": float(traffic.group(3)),
            "cpu100k": server * 100000.0 / n if pids else NAN, "other": other,
            "cpu_gb": server / (int(traffic.group(1)) / 1e9) if pids else NAN,
            "cpu100k_stat": (after[0] - before[0]) * 100000.0 / n if pids else NAN,
            "client": client / (t1 - t0) * 100,
            "tls": "%s %s" % (tlsv.group(1), cipher.group(1)) if tlsv and cipher else "h2c"}


# ---- idle connections

def idle_connections(port, k, tls=False):
    """k idle HTTP/2 connections (h2c, or TLS with ALPN h2): the client
    preface, an empty SETTINGS, and the ACK of the server's SETTINGS.
    Returns the sockets and how many got the server's first frames."""
    socks = []
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
    ack = bytes([0, 0, 0, 4, 1, 0, 0, 0, 0])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    try:
        for i in range(k):
            s = socket.create_connection(("127.0.0.1", port), 5)
            socks.append(s)
            if tls:
                s = socks[-1] = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(preface)
    except OSError as e:
        close_reset(socks)
        raise RuntimeError("idle connection %d of %d (%s) failed: %s" % (
            i + 1, k, "TLS" if tls else "h2c", e))
    answered = 0
    deadline = time.time() + 10
    for s in socks:  # read the server's SETTINGS so the handshake is done
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            if s.recv(4096):
                answered += 1
                s.sendall(ack)
        except OSError:
            pass
    return socks, answered


def still_open(socks):
    """How many of socks the server has not closed."""
    n = 0
    for s in socks:
        try:
            s.setblocking(False)
            n += s.recv(4096) != b""
        except (BlockingIOError, ssl.SSLWantReadError):
            n += 1
        except OSError:
            pass
    return n


def close_reset(socks):
    for s in socks:  # reset, not FIN: no TIME_WAIT on ports the next server may pick
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()


def measure_idle(pids, port, k, tls):
    time.sleep(0.3)
    before = rss_kb(pids)
    socks, answered = idle_connections(port, k, tls)
    time.sleep(0.5)
    after = rss_kb(pids)
    alive = still_open(socks)
    close_reset(socks)
    if answered != k or alive != k:
        raise RuntimeError("%d idle %s connections: %d got the server's SETTINGS, %d still open "
                           "at the measurement" % (k, "TLS" if tls else "h2c", answered, alive))
    return (after - before) * 1024.0 / k


# ---- the servers

def server_spec(name, loom, tmp, root, cert, key, nofile, idle):
    """[command, ...], TLS port, cleartext port."""
    tls, clear = free_port(), free_port()
    if name == "loom":
        return [[loom, "serve", root, "--workers", "1", "--https", "127.0.0.1:%d" % tls,
                 "--http", "127.0.0.1:%d" % clear, "--cert", cert, "--key", key]], tls, clear
    if name == "nghttpd":
        return [["nghttpd", "-n", "1", "-d", root, "-a", "127.0.0.1", str(tls), key, cert],
                ["nghttpd", "-n", "1", "-d", root, "-a", "127.0.0.1", "--no-tls", str(clear)]], \
            tls, clear
    if name == "h2o":
        # the idle timeout of loom's (h2o's is 10 s, less than opening the
        # idle connections may take), and room for --idle connections (h2o
        # stops accepting at max-connections, 1024)
        head = "http2-idle-timeout: 60\nmax-connections: %d\n" % (2 * idle + 1024)
        return [["h2o", "-c", h2o_conf(tmp, tls, clear, cert, key, root, head=head)]], tls, clear
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX.format(tmp=tmp, tls=tls, clear=clear, cert=cert, key=key, root=root,
                             user=root_user("nginx"), nofile=nofile,
                             conns=max(4096, 2 * idle + 1024)))
    return [["nginx", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "nginx-error.log")]], \
        tls, clear


def start(cmds, tls, clear, env=None):
    procs = [subprocess.Popen(["taskset", "-c", str(SERVER_CORE)] + c, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for c in cmds]
    try:
        wait_port(tls, procs[0])
        wait_port(clear, procs[-1])
    except Exception:
        stop(procs)
        raise
    return procs


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_server(name, a, only, tmp, root, cert, key, nofile):
    cmds, tls, clear = server_spec(name, a.loom, tmp, root, cert, key, nofile, a.idle)
    env = dict(os.environ, XDG_CACHE_HOME=tmp)
    r = {}
    if "idle" in only:
        # h2c on a server of its own, then TLS first on the main one: memory
        # one kind of connection gave back is not there to be reused by the
        # other (that would flatter whichever is measured second)
        procs = start(cmds, tls, clear, env)
        try:
            r["idle_h2c"] = measure_idle([p.pid for p in procs], clear, a.idle, False)
        finally:
            stop(procs)
    procs = start(cmds, tls, clear, env)
    pids = [p.pid for p in procs]
    try:
        if "idle" in only:
            r["idle_tls"] = measure_idle(pids, tls, a.idle, True)
            log("  %s idle: h2c %.0f B, TLS %.0f B per connection" % (
                name, r["idle_h2c"], r["idle_tls"]))
            time.sleep(1)  # the reset connections torn down before any timing
        t = "https://127.0.0.1:%d" % tls
        c = "http://127.0.0.1:%d" % clear
        n = a.requests
        warm = max(n // 5, 5000)
        plan = {  # URL, -n, -c, -m, headers, the warm-up's -n
            "A": (t + "/1k.txt", n, 16, 32, (), warm),
            "B": (c + "/1k.txt", n, 16, 32, (), warm),
            "C": (t + "/1m.bin", max(n // 50, 200), 4, 4, (), 200),
            "D": (t + "/1k.txt", max(n // 5, 2000), 500, 1, (), 2000),
            "E": (t + "/1k.txt", n, 16, 32, EXTRA_HEADERS, warm),
        }
        for sc in ("A", "B", "C", "D", "E"):
            if sc not in only:
                continue
            url, reqs, conns, streams, hdrs, warm = plan[sc]
            h2load(url, warm, conns, streams, hdrs)  # warm up
            r[sc] = []
            for _ in range(a.rounds):
                # a round that another program disturbed is run again (twice at
                # most), and the least disturbed of the tries kept
                tries = [h2load(url, reqs, conns, streams, hdrs, pids)]
                while tries[-1]["other"] > a.max_other and len(tries) < 3:
                    wait_quiet(a, cores_busy)
                    tries.append(h2load(url, reqs, conns, streams, hdrs, pids))
                best = min(tries, key=lambda x: x["other"])
                best["tries"] = len(tries)
                r[sc].append(best)
            m = r[sc]
            log("  %s %s: cpu/100k %s (by stat's ticks %s), other load %s %% (tries %s), "
                "req/s %s, MB/s %s (%s)" % (
                name, sc, " ".join("%.3f" % x["cpu100k"] for x in m),
                " ".join("%.2f" % x["cpu100k_stat"] for x in m),
                " ".join("%.0f" % x["other"] for x in m), " ".join("%d" % x["tries"] for x in m),
                " ".join("%.0f" % x["rps"] for x in m), " ".join("%.0f" % x["mbps"] for x in m),
                m[0]["tls"]))
    finally:
        stop(procs)
    return r


def mallocs(a, tmp, root, cert, key):
    """loom's allocations per request over h2c and over TLS (LD_PRELOAD of
    bench/malloc_count.c)."""
    so = os.path.join(tmp, "malloc_count.so")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "malloc_count.c")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so, src, "-ldl", "-lpthread"],
                   check=True)
    count_file = os.path.join(tmp, "malloc_count")
    # does it count? Python allocates 10000 blocks of 4 KiB with malloc
    # (its own allocator takes only blocks of 512 octets or less)
    check = subprocess.run(
        ["/usr/bin/python3", "-c", "import time\n"
         "def n(): return int(open(%r).read().split()[0])\n"
         "time.sleep(0.2); a = n(); b = [bytearray(4096) for _ in range(10000)]\n"
         "time.sleep(0.2); print(a, n())" % (count_file + ".check")],
        env=dict(os.environ, LD_PRELOAD=so, MALLOC_COUNT_FILE=count_file + ".check"),
        capture_output=True, text=True, check=True)
    a0, a1 = (int(x) for x in check.stdout.split())
    log("  malloc_count check: python3 allocating 10000 x 4 KiB: %d -> %d (+%d)" % (
        a0, a1, a1 - a0))
    if not 10000 <= a1 - a0 < 20000:
        raise RuntimeError("malloc_count does not count: %d -> %d" % (a0, a1))
    cmds, tls, clear = server_spec("loom", a.loom, tmp, root, cert, key, 0, 0)
    env = dict(os.environ, XDG_CACHE_HOME=tmp, LD_PRELOAD=so, MALLOC_COUNT_FILE=count_file)
    procs = start(cmds, tls, clear, env)

    def count():
        with open(count_file) as f:
            return int(f.read().split()[0])

    out = {}
    try:
        time.sleep(0.2)
        at_start = count()
        if at_start <= 0:
            raise RuntimeError("malloc_count counted nothing in loom's start")
        n = a.requests
        for proto, url in (("h2c", "http://127.0.0.1:%d/1k.txt" % clear),
                           ("tls", "https://127.0.0.1:%d/1k.txt" % tls)):
            w0 = count()
            h2load(url, 10000, 10, 10)  # warm up
            time.sleep(0.2)
            w1 = count()
            h2load(url, n, 10, 10)
            time.sleep(0.2)
            w2 = count()
            out[proto] = (w2 - w1) / n
            out[proto + "_raw"] = (at_start, w0, w1, w2)
            log("  loom mallocs %s: %d at start, %d -> %d over the warm-up (10000 requests), "
                "%d -> %d over %d requests" % (proto, at_start, w0, w1, w1, w2, n))
    finally:
        stop(procs)
    return out


def med(r, sc, key):
    return statistics.median(x[key] for x in r[sc]) if sc in r else NAN


def main():
    ap = argparse.ArgumentParser(description="loom serve against h2o, nghttpd and nginx")
    ap.add_argument("loom")
    ap.add_argument("--requests", type=int, default=100000,
                    help="requests of A, B, E and mallocs (C: /50, D: /5)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=int, default=2000, help="idle connections")
    ap.add_argument("--max-other", type=float, default=25,
                    help="rerun (twice at most) a round during which other programs used more "
                    "than this %% of a core on the two cores")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="seconds in all to wait for quiet cores before rerunning rounds")
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help="comma-separated subset of " + ",".join(SCENARIOS))
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma-separated subset of " + ",".join(SERVERS))
    a = ap.parse_args()
    a.quiet_budget = a.quiet_wait
    only = {s.strip() for s in a.only.split(",") if s.strip()}
    only = {s.upper() if s.upper() in SCENARIOS else s.lower() for s in only}
    servers = [s.strip().lower() for s in a.servers.split(",") if s.strip()]
    bad = (only - set(SCENARIOS)) | (set(servers) - set(SERVERS))
    if bad:
        ap.error("unknown: " + ", ".join(sorted(bad)))
    servers = [s for s in SERVERS if s in servers]  # loom first, then h2o
    for tool in ["h2load"] + [s for s in servers if s != "loom"]:
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            sys.exit("bench/serve.py needs %s (tools/deps.sh bench)" % tool)
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin"
    nofile = raise_nofile()
    if nofile < a.idle + 200:
        sys.exit("RLIMIT_NOFILE %d is too low for --idle %d" % (nofile, a.idle))
    tmp = tempfile.mkdtemp(prefix="loom-bench-serve-")
    t0 = time.time()
    results = {}
    malloc = {}
    try:
        # a copy: the whole run measures one build, even if the tree is
        # rebuilt meanwhile
        with open(a.loom, "rb") as f:
            digest = hashlib.sha1(f.read()).hexdigest()[:12]
        shutil.copy2(a.loom, os.path.join(tmp, "loom"))
        a.loom = os.path.join(tmp, "loom")
        root, cert, key = make_site(tmp)
        with open(os.path.join(root, "1m.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
        for name in servers if only & {"A", "B", "C", "D", "E", "idle"} else ():
            log("%s ..." % name)
            results[name] = run_server(name, a, only, tmp, root, cert, key, nofile)
            time.sleep(0.5)
        if "mallocs" in only and "loom" in servers:
            log("loom with malloc_count ...")
            malloc = mallocs(a, tmp, root, cert, key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("loom serve vs h2o, nghttpd and nginx: one worker each on core %d, h2load on core %d, "
          "TLS 1.3 (ECDSA P-256), medians of %d rounds; loom binary sha1 %s" % (
              SERVER_CORE, CLIENT_CORE, a.rounds, digest))
    n = a.requests
    print("  A: 1 KiB over TLS, -n %d -c 16 -m 32; B: the same over h2c; C: 1 MiB over TLS, "
          "-n %d -c 4 -m 4;" % (n, max(n // 50, 200)))
    print("  D: 1 KiB over TLS, -n %d -c 500 -m 1; E: A with 20 headers of 50 octets; "
          "cpu: server CPU s per 100k requests;" % max(n // 5, 2000))
    print("  savings: h2load's header space savings in A; idle: resident memory growth per idle "
          "connection (%d connections)" % a.idle)
    cols = ("A cpu/100k", "A req/s", "B cpu/100k", "C MB/s", "D req/s", "E cpu/100k",
            "savings %", "idle h2c B", "idle TLS B")
    print("%-8s" % "server" + "".join("%12s" % c for c in cols))
    table = {}
    for name, r in results.items():
        row = [med(r, "A", "cpu100k"), med(r, "A", "rps"), med(r, "B", "cpu100k"),
               med(r, "C", "mbps"), med(r, "D", "rps"), med(r, "E", "cpu100k"),
               med(r, "A", "savings"), r.get("idle_h2c", NAN), r.get("idle_tls", NAN)]
        table[name] = row
        fmt = ["%.3f", "%.0f", "%.3f", "%.0f", "%.0f", "%.3f", "%.1f", "%.0f", "%.0f"]
        print("%-8s" % name + "".join("%12s" % (f % v) for f, v in zip(fmt, row)))
    for name, r in results.items():
        tls = [r[sc][0]["tls"] for sc in ("A", "C", "D", "E") if sc in r]
        if tls or "B" in r:
            print("  %s: %s; B req/s %.0f, E req/s %.0f; server CPU s: C %.2f per GB, "
                  "D %.3f per 100k" % (
                      name, tls[0] if tls else "", med(r, "B", "rps"), med(r, "E", "rps"),
                      med(r, "C", "cpu_gb"), med(r, "D", "cpu100k")))
    what = {"A": ("cpu100k", "%.3f"), "B": ("cpu100k", "%.3f"), "C": ("mbps", "%.0f"),
            "D": ("rps", "%.0f"), "E": ("cpu100k", "%.3f")}
    for name in ("loom", "h2o"):
        r = results.get(name)
        if not r:
            continue
        parts = []
        for sc, (key, f) in what.items():
            if sc in r:
                vs = [x[key] for x in r[sc]]
                m = statistics.median(vs)
                spread = (max(vs) - min(vs)) / m * 100 if m else NAN
                parts.append("%s %s (%.1f%%)" % (sc, "/".join(f % v for v in vs), spread))
        if parts:
            print("rounds %-5s %s" % (name + ":", "; ".join(parts)))
    # h2load's own core: when it is busy all the time, req/s and MB/s are
    # h2load's limit, not the server's (the server's CPU per request or per
    # GB still compares the servers)
    for name in ("loom", "h2o"):
        r = results.get(name)
        if r and any(sc in r for sc in "ABCDE"):
            print("h2load's core busy, median %%, %-5s %s" % (name + ":", "; ".join(
                "%s %.0f" % (sc, med(r, sc, "client")) for sc in "ABCDE" if sc in r)))
    other = [(x["other"], name, sc) for name, r in results.items()
             for sc in ("A", "B", "C", "D", "E") if sc in r for x in r[sc]]
    if other:
        reruns = sum(x["tries"] - 1 for r in results.values()
                     for sc in ("A", "B", "C", "D", "E") if sc in r for x in r[sc])
        print("other programs' load on cores %d-%d during the rounds kept: median %.0f %%, max "
              "%.0f %% (%s %s) of a core (%d rounds rerun for more than %.0f %%); req/s and MB/s "
              "suffer from it, CPU per request much less" % (
                  min(SERVER_CORE, CLIENT_CORE), max(SERVER_CORE, CLIENT_CORE),
                  statistics.median(o[0] for o in other), max(other)[0], max(other)[1],
                  max(other)[2], reruns, a.max_other))
        disturbed = ["%s %s" % (name, sc) for name, r in results.items()
                     for sc in ("A", "B", "C", "D", "E")
                     if sc in r and med(r, sc, "other") > a.max_other]
        if disturbed:
            print("disturbed (median round over %.0f %% other load even after reruns; its req/s "
                  "and MB/s are low): %s" % (a.max_other, ", ".join(disturbed)))
    if malloc:
        print("loom mallocs per request (-n %d -c 10 -m 10, after a warm-up): h2c %.4f "
              "(%d allocations), TLS %.4f (%d allocations)" % (
                  n, malloc["h2c"], malloc["h2c_raw"][3] - malloc["h2c_raw"][2],
                  malloc["tls"], malloc["tls_raw"][3] - malloc["tls_raw"][2]))

    def ratio(i):
        lo, h = table.get("loom"), table.get("h2o")
        if not lo or not h or not h[i] or math.isnan(h[i]):
            return NAN
        return lo[i] / h[i]

    loom = table.get("loom", [NAN] * 9)
    print("elapsed %.0f s" % (time.time() - t0))
    print("summary: A_cpu=%.3f B_cpu=%.3f C_mbps=%.3f D_rps=%.3f E_cpu=%.3f savings=%.1f "
          "idle_h2c=%.0f idle_tls=%.0f mallocs_h2c=%.4f mallocs_tls=%.4f" % (
              ratio(0), ratio(2), ratio(3), ratio(4), ratio(5), loom[6], loom[7], loom[8],
              malloc.get("h2c", NAN), malloc.get("tls", NAN)))


if __name__ == "__main__":
    sys.exit(main())
