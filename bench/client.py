#!/usr/bin/env python3
"""loom bench against h2load: the same server loaded in turn by each, with
the same -n/-c/-m, and the client CPU each spent per request.

The server is h2o (the fastest peer here), one thread, pinned to core 1;
the load generator is pinned to core 0, one thread. For each scenario and
tool, --rounds runs (medians reported, the spread shown), the tools
alternating run by run:

  tls_small   1 KiB over TLS (ALPN h2), -c 16 -m 32
  h2c_small   1 KiB over h2c (prior knowledge), -c 16 -m 32
  conns500    1 KiB over TLS, 500 connections, -m 1 (handshakes dominate)
  h1          1 KiB over HTTP/1.1 keep-alive, cleartext, -c 16 (h2load --h1)

Client CPU is the load generator's user + system time (its rusage, every
thread), per 100k requests, shown split too. Each run must have every request succeed.
The last line: summary: tls_small=X h2c_small=X conns500=X h1=X, each X
h2load's client CPU per request over loom bench's (higher: loom bench is
cheaper). Mean latencies of both are printed side by side.

  bench/client.py LOOM [--requests N] [--rounds R]

Run by `make bench-client`.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import make_site, parse_load, run_measured, start_h2o, stop  # noqa: E402

SERVER_CORE, CLIENT_CORE = 1, 0


def scenarios(tls, clear, n):
    t = "https://127.0.0.1:%d/1k.txt" % tls
    c = "http://127.0.0.1:%d/1k.txt" % clear
    return [
        ("tls_small", ["-n", str(n), "-c", "16", "-m", "32"], [], t),
        ("h2c_small", ["-n", str(n), "-c", "16", "-m", "32"], [], c),
        ("conns500", ["-n", str(max(n // 5, 5000)), "-c", "500", "-m", "1"], [], t),
        ("h1", ["-n", str(n), "-c", "16"], ["--h1"], c),
    ]


def one(tool, loom, args, extra, url):
    cmd = (["h2load"] + args + extra + [url]) if tool == "h2load" else \
          ([loom, "bench", "-q"] + args + extra + [url])
    out, err, rc, cpu = run_measured(cmd, CLIENT_CORE)
    r = parse_load(out)
    n = int(args[args.index("-n") + 1])
    if r["ok"] != n:
        raise RuntimeError("%s: %d of %d requests succeeded (exit %d)\n%s%s" % (
            tool, r["ok"], n, rc, out[-1500:], err[-1500:]))
    r["cpu100k"] = (cpu[0] + cpu[1]) * 100000.0 / n
    r["user100k"] = cpu[0] * 100000.0 / n
    r["sys100k"] = cpu[1] * 100000.0 / n
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loom")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not shutil.which("h2load") or not shutil.which("h2o"):
        sys.exit("bench/client.py needs h2load and h2o (tools/deps.sh bench)")
    tmp = tempfile.mkdtemp(prefix="loom-bench-client-")
    server = None
    try:
        root, cert, key = make_site(tmp)
        server, tls, clear = start_h2o(tmp, root, cert, key, SERVER_CORE)
        results = {}
        for name, args, extra, url in scenarios(tls, clear, a.requests):
            one("h2load", a.loom, ["-n", "2000"] + args[2:], extra, url)  # warm up
            runs = {"h2load": [], "loom": []}
            for _ in range(a.rounds):
                for tool in ("h2load", "loom"):
                    runs[tool].append(one(tool, a.loom, args, extra, url))
            results[name] = runs
            print("%-10s done" % name, file=sys.stderr, flush=True)
    finally:
        if server:
            stop([server])
        shutil.rmtree(tmp, ignore_errors=True)

    print("loom bench vs h2load: h2o (1 thread, core %d) loaded by each (1 thread, core %d), "
          "1 KiB file, %d rounds each, medians" % (SERVER_CORE, CLIENT_CORE, a.rounds))
    print("%-10s %-7s %14s %13s %12s %14s %s" % ("scenario", "tool", "client CPU s", "user + sys",
                                                 "req/s", "mean latency",
                                                 "CPU s per 100k, each round"))
    print("%-10s %-7s %14s" % ("", "", "per 100k"))
    ratios = {}
    for name, runs in results.items():
        med = {}
        for tool in ("h2load", "loom"):
            rs = runs[tool]
            med[tool] = statistics.median(r["cpu100k"] for r in rs)
            print("%-10s %-7s %14.3f %6.3f+%6.3f %12.0f %12.0fus  %s" % (
                name, tool if tool == "h2load" else "loom", med[tool],
                statistics.median(r["user100k"] for r in rs),
                statistics.median(r["sys100k"] for r in rs),
                statistics.median(r["rps"] for r in rs),
                statistics.median(r["mean_us"] for r in rs),
                " ".join("%.3f" % r["cpu100k"] for r in rs)))
        ratios[name] = med["h2load"] / med["loom"]
    print("summary: " + " ".join("%s=%.2f" % (k, v) for k, v in ratios.items()))


if __name__ == "__main__":
    sys.exit(main())
