"""loom bench against loom serve (TLS h2, h2c, HTTP/1.1 over TLS and in
cleartext), each run's count checked against the server's access log.

Asserts:
- every protocol: -n requests all done and succeeded, and loom serve logged
  exactly that many requests (its access log);
- a 404 URI in the mix (two URIs round-robin): 2xx and 4xx counted right
  (half each), the 404s as "failed" (answers, not errors: exit 0), the log
  agrees on both;
- HPACK: request and response header octets on the wire well below the
  same heads as HTTP/1.1 text; over HTTP/1.1 the two are equal;
- --json: the schema (keys and types) and its figures agreeing with each
  other (done = succeeded + failed, status codes sum to done, percentiles
  ordered min <= p50 <= p90 <= p99 <= p99.9 <= max) and with the text;
- -D with --warm-up-time: runs about that long, requests counted only
  after the warm-up;
- --rate: the achieved rate within 10 % of the rate asked, latency counted
  from the intended send times (the JSON says so);
- on a terminal (a pty), one "progress:" line per second;
- memory does not grow with -n: peak RSS at -n 200000 within 25 % (and
  4 MB) of -n 10000;
- against h2load on the same server and the same load: both complete, and
  loom bench's mean latency is within a factor of 5 of h2load's (both are
  printed).

usage: bench_loom_serve.py path/to/loom"""
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import bench, expect_all, load_json  # noqa: E402
from get_common import Peer, Tmp, check, free_port, log, main, make_cert  # noqa: E402


def log_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def wait_log(path, want, timeout=10):
    """The access log once it has `want` lines (or after timeout)."""
    end = time.monotonic() + timeout
    while True:
        lines = log_lines(path)
        if len(lines) >= want or time.monotonic() > end:
            return lines
        time.sleep(0.05)


def peak_rss_kb(loom, args):
    """ru_maxrss of one loom bench run, from its own rusage."""
    p = subprocess.Popen([loom, "bench", "-q"] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    check(p.returncode == 0, "loom bench %s: exit %d" % (args, p.returncode))
    return ru.ru_maxrss


def progress_on_pty(loom, url):
    """Runs loom bench -D 3.5 on a pseudo-terminal; returns its output."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(loom, [loom, "bench", "-D", "3.5", "-c", "2", "-m", "4", url])
    out = b""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 1)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode(errors="replace")


def run(loom, argv):
    tmp = Tmp("bench-serve")
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    root = tmp.join("site")
    os.mkdir(root)
    with open(os.path.join(root, "1k.txt"), "wb") as f:
        f.write(b"x" * 1024)
    tls, clear = free_port(), free_port()
    alog = tmp.join("access.log")
    cmd = [loom, "serve", root, "--workers", "1", "--https", "127.0.0.1:%d" % tls,
           "--http", "127.0.0.1:%d" % clear, "--cert", cert, "--key", key, "--log-format", "loom", "--access-log", alog]
    env = dict(os.environ, XDG_CACHE_HOME=tmp.path)
    with Peer("loom-serve", cmd, ports=[tls, clear], env=env, out=tmp.join("serve.out")):
        https = "https://127.0.0.1:%d" % tls
        http = "http://127.0.0.1:%d" % clear
        logged = 0
        for what, args, url in (("TLS h2", [], https), ("h2c", [], http),
                                ("HTTP/1.1 over TLS", ["--h1"], https),
                                ("HTTP/1.1 in cleartext", ["--h1"], http)):
            n = 3000
            r = bench(loom, "-n", n, "-c", 4, "-m", 8, *args, url + "/1k.txt")
            expect_all(r, n, what)
            lines = wait_log(alog, logged + n)
            new = lines[logged:]
            check(len(new) == n, "%s: loom serve logged %d requests, loom bench did %d" %
                  (what, len(new), n))
            proto = "http/1.1" if args else ("h2c" if url == http else "h2")
            check(all(" %s " % proto in l for l in new), "%s: logged as %s?\n%s" % (
                what, proto, "\n".join(new[:3])))
            logged += n
            hd = r.headers
            if args:
                check(hd["req_wire"] == hd["req_text"] and hd["resp_wire"] == hd["resp_text"],
                      "%s: HTTP/1.1 heads are their own text: %s" % (what, hd))
            else:
                check(hd["req_wire"] * 3 < hd["req_text"] and hd["resp_wire"] * 2 < hd["resp_text"],
                      "%s: HPACK saves little: %s" % (what, hd))
            log("%s: %d requests, the server logged %d; headers %s" % (what, n, len(new), hd))

        # a 404 in the mix: counted as answers
        n = 2000
        jpath = tmp.join("mix.json")
        r = bench(loom, "-n", n, "-c", 2, "-m", 10, "--json", jpath, https + "/1k.txt",
                  https + "/missing.txt")
        check(r.req["done"] == n and r.req["succeeded"] == n // 2 and
              r.req["failed"] == n // 2 and r.req["errored"] == 0,
              "404 mix: requests %s\n%s" % (r.req, r.describe()))
        check(r.status["2xx"] == n // 2 and r.status["4xx"] == n // 2,
              "404 mix: status %s" % r.status)
        lines = wait_log(alog, logged + n)[logged:]
        logged += n
        got404 = sum(1 for l in lines if " 404 " in l)
        got200 = sum(1 for l in lines if " 200 " in l)
        check(len(lines) == n and got404 == n // 2 and got200 == n // 2,
              "404 mix: the server logged %d (%d 200, %d 404)" % (len(lines), got200, got404))
        log("a 404 in the mix: 2xx %d, 4xx %d, exit 0; the server's log agrees" %
            (r.status["2xx"], r.status["4xx"]))

        # the JSON
        j = load_json(jpath)
        for key, typ in (("tool", str), ("version", str), ("target", str), ("protocol", str),
                         ("clients", int), ("streams", int), ("threads", int),
                         ("duration_s", float), ("requests", dict), ("status", dict),
                         ("traffic", dict), ("latency_us", dict), ("connect_us", dict),
                         ("ttfb_us", dict), ("rps_per_client", dict), ("rps", float),
                         ("bytes_per_s", float)):
            check(isinstance(j.get(key), typ), "json: %s is %r" % (key, j.get(key)))
        q, lat = j["requests"], j["latency_us"]
        check(q["done"] == q["succeeded"] + q["failed"] == n, "json requests %s" % q)
        check(sum(j["status"].values()) == q["done"], "json status %s" % j["status"])
        check(q == {k: r.req[k] for k in q}, "json %s differs from the text %s" % (q, r.req))
        check(lat["count"] == n and lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <=
              lat["p999"] <= lat["max"] and lat["from_intended_time"] is False,
              "json latency %s" % lat)
        for k in ("request_headers", "response_headers"):
            h = j["traffic"][k]
            check(h["wire"] < h["http1_text"] and 0 < h["savings_pct"] < 100, "json %s %s" % (k, h))
        check(j["protocol"] == "h2" and j["clients"] == 2 and j["streams"] == 10,
              "json run: %s" % {k: j[k] for k in ("protocol", "clients", "streams")})
        log("--json: schema and figures agree")

        # -D with a warm-up
        t0 = time.monotonic()
        jpath = tmp.join("d.json")
        r = bench(loom, "-D", 2, "--warm-up-time", 1, "-c", 2, "-m", 4, "--json", jpath,
                  http + "/1k.txt")
        took = time.monotonic() - t0
        j = load_json(jpath)
        check(2.5 <= took <= 10, "-D 2 after 1 s of warm-up took %.1f s" % took)
        check(1.8 <= j["duration_s"] <= 2.6, "-D 2: measured %.2f s" % j["duration_s"])
        check(r.req["done"] > 100 and r.req["errored"] == 0, "-D: %s" % r.req)
        lines = wait_log(alog, 0)
        served = len(lines) - logged
        check(served > r.req["done"], "-D: the warm-up's requests were counted "
              "(server %d, bench %d)" % (served, r.req["done"]))
        logged = len(lines)
        log("-D 2 --warm-up-time 1: %.1f s in all, %d requests measured of %d served" % (
            took, r.req["done"], served))

        # --rate: open loop
        jpath = tmp.join("rate.json")
        r = bench(loom, "--rate", 400, "-D", 3, "-c", 4, "-m", 4, "--json", jpath,
                  https + "/1k.txt")
        j = load_json(jpath)
        achieved = j["requests"]["done"] / j["duration_s"]
        check(abs(achieved - 400) <= 40, "--rate 400: achieved %.1f req/s" % achieved)
        check(j["latency_us"]["from_intended_time"] is True and j["rate"] == 400,
              "--rate: json %s" % j["latency_us"])
        log("--rate 400 for 3 s: %.1f req/s, p99 %d us from intended send times" % (
            achieved, j["latency_us"]["p99"]))

        # progress on a terminal
        out = progress_on_pty(loom, http + "/1k.txt")
        lines = [l for l in out.splitlines() if l.startswith("progress:")]
        check(3 <= len(lines) <= 5, "pty: %d progress lines\n%s" % (len(lines), out[-2000:]))
        check(all(re.search(r"progress:\s+[\d.]+s\s+\d+ done\s+\d+ req/s\s+\d+ errors", l)
                  for l in lines), "pty: progress lines %s" % lines)
        log("on a terminal: %d progress lines, e.g. %r" % (len(lines), lines[0].strip()))
        p = subprocess.run([loom, "bench", "-D", "1", http + "/1k.txt"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        check(b"progress:" not in p.stderr, "progress lines without a terminal")

        # memory does not grow with -n
        small = peak_rss_kb(loom, ["-n", "10000", "-c", "4", "-m", "16", http + "/1k.txt"])
        large = peak_rss_kb(loom, ["-n", "200000", "-c", "4", "-m", "16", http + "/1k.txt"])
        check(large <= small * 1.25 + 4096, "peak RSS %d KB at -n 200000, %d KB at -n 10000" %
              (large, small))
        log("peak RSS: %d KB at -n 10000, %d KB at -n 200000" % (small, large))

        # h2load on the same server, the same load
        n = 20000
        r = bench(loom, "-n", n, "-c", 8, "-m", 16, https + "/1k.txt")
        p = subprocess.run(["h2load", "-n", str(n), "-c", "8", "-m", "16", https + "/1k.txt"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        h = p.stdout.decode()
        m = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", h)
        mine = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", r.out)
        check(m and mine and "%d succeeded" % n in h, "h2load: %s" % h[-1500:])

        def us(v):
            x = re.match(r"([\d.]+)(us|ms|s)$", v)
            return float(x.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[x.group(2)]

        a, b = us(mine.group(1)), us(m.group(1))
        check(b / 5 <= a <= b * 5, "mean latency: loom bench %s, h2load %s" % (mine.group(1),
                                                                               m.group(1)))
        log("same load: mean latency loom bench %s, h2load %s" % (mine.group(1), m.group(1)))


if __name__ == "__main__":
    main(run)
