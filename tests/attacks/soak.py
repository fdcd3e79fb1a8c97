#!/usr/bin/python3
"""make soak: one `loom serve` (the ASan build) for SOAK_MINUTES (30) under
normal load (`loom bench`, release build, open loop at a modest rate, h2c
and TLS in turn) and the normal client of tests/attacks (a GET every
100 ms), while the attack cases of tests/attacks run one after another
against it, round after round.

Reported: the server's resident memory every minute, its trend (the
median of the first five minutes after a three-minute warm-up against the
last five), the load's requests and errors, the attack rounds and their
cases' verdicts, and at the end LeakSanitizer's verdict (the server exits
on SIGTERM and its stderr must hold no sanitizer report). The attack
cases' own CPU and memory bounds are measured for one attack alone: under
the load running beside them they may not hold, so a case's failure is
listed, not fatal; what is fatal is a crash, a sanitizer report, a leak,
a normal fetch that fails, load errors, or memory that grows.

  soak.py LOOM_ASAN LOOM_RELEASE [--minutes N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack_common as ac  # noqa: E402
import continuation  # noqa: E402
import cve2019  # noqa: E402
import floods  # noqa: E402
import h1_smuggling  # noqa: E402
import hpack_bomb  # noqa: E402
import made_you_reset  # noqa: E402
import random_frames  # noqa: E402
import rapid_reset  # noqa: E402
import request_body  # noqa: E402
import slowloris  # noqa: E402
import stream_limits  # noqa: E402

WARMUP_S = 180          # memory settles (caches, arenas) before the trend is read
WINDOW_S = 300          # the trend compares two windows of this length
GROWTH_MAX = 0.10       # memory is flat when the later window is < 10 % above ...
GROWTH_MAX_KIB = 16384  # ... or less than 16 MiB above the earlier one
LOAD_RATE = 1000        # requests per second of normal load
LOAD_CHUNK_S = 60       # one loom bench run


def cases():
    """Every attack case of tests/attacks but EMFILE and idle memory (they
    need a server of their own): (test, name, fn)."""
    mods = (rapid_reset, made_you_reset, continuation, hpack_bomb, floods, cve2019,
            stream_limits, slowloris, request_body, h1_smuggling, random_frames)
    # slowloris/h1_keepalive wants silent keep-alive connections to outlive
    # 3 s; cve2019's buffering case wants --idle-timeout 3: one server
    # cannot have both, and the soak keeps the latter
    return [(m.__name__, name, fn) for m in mods for name, fn in m.CASES
            if (m.__name__, name) != ("slowloris", "h1_keepalive")]


class Load(threading.Thread):
    """loom bench in a loop, LOAD_CHUNK_S at a time, h2c and TLS in turn."""

    def __init__(self, bench, srv, tmp):
        super().__init__(daemon=True)
        self.bench, self.srv, self.tmp = bench, srv, tmp
        self.stop_ev = threading.Event()
        self.runs = []  # (scheme, done, ok, errored, timeout, exit code)
        self.proc = None

    def run(self):
        k = 0
        while not self.stop_ev.is_set():
            tls = k % 2 == 1
            k += 1
            url = ("https://127.0.0.1:%d/1k.bin" % self.srv.https_port if tls else
                   "http://127.0.0.1:%d/1k.bin" % self.srv.http_port)
            out = os.path.join(self.tmp, "bench.json")
            self.proc = subprocess.Popen(
                [self.bench, "bench", "-q", "-D", str(LOAD_CHUNK_S), "--rate", str(LOAD_RATE),
                 "-c", "4", "-m", "8", "--json", out, url],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, err = self.proc.communicate()
            rc = self.proc.returncode
            if rc < 0 and self.stop_ev.is_set():
                return  # the last run, stopped by us at the end
            try:
                with open(out) as f:
                    j = json.load(f)
                r = j["requests"]
                self.runs.append(("https" if tls else "http", r["done"], r["succeeded"],
                                  r["errored"], r["timeout"], rc))
            except (OSError, ValueError, KeyError):
                self.runs.append(("https" if tls else "http", 0, 0, -1, -1, rc))
                ac.log("load: loom bench exit %d, no JSON: %s" % (rc, err.decode()[-500:]))

    def stop(self):
        self.stop_ev.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
        self.join(timeout=LOAD_CHUNK_S + 30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loom_asan")
    ap.add_argument("loom_release")
    ap.add_argument("--minutes", type=float,
                    default=float(os.environ.get("SOAK_MINUTES", "30")))
    a = ap.parse_args()
    total = a.minutes * 60
    srv = ac.Server(os.path.abspath(a.loom_asan), tls=True,
                    extra=["--idle-timeout", str(cve2019.IDLE_TIMEOUT),
                           "--header-timeout", "%g" % slowloris.HEADER_TIMEOUT])
    tmp = tempfile.mkdtemp(prefix="loom-soak-")
    nc = load = None
    samples = []  # (seconds, RSS KiB)
    verdicts = {}  # (test, case) -> [pass count, fail count, last failure]
    fatal = []
    t_start = time.monotonic()
    try:
        srv.start()
        nc = ac.NormalClient(srv.http_port, srv.files["/1k.bin"])
        nc.start()
        nc.wait_first()
        load = Load(os.path.abspath(a.loom_release), srv, tmp)
        load.start()
        stop_sampling = threading.Event()

        def sample():
            while not stop_sampling.wait(5):
                try:
                    samples.append((time.monotonic() - t_start, ac.rss_kib(srv.pid)))
                except OSError:
                    return
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        all_cases = cases()
        rounds = 0
        next_minute = 60
        while time.monotonic() - t_start < total and srv.alive():
            rounds += 1
            for test, name, fn in all_cases:
                if time.monotonic() - t_start >= total or not srv.alive():
                    break
                run = ac.Run(srv.loom, srv, nc)
                try:
                    fn(run)
                    ok, why = True, ""
                except ac.TestFailure as e:
                    ok, why = False, str(e).splitlines()[0][:200]
                except Exception:
                    ok, why = False, traceback.format_exc().splitlines()[-1][:200]
                v = verdicts.setdefault((test, name), [0, 0, ""])
                v[0 if ok else 1] += 1
                if not ok:
                    v[2] = why
                try:
                    srv.check_clean("after %s/%s: " % (test, name))
                except ac.TestFailure as e:
                    fatal.append(str(e))
                    break
                el = time.monotonic() - t_start
                if el >= next_minute:
                    next_minute += 60
                    rss = samples[-1][1] if samples else 0
                    ac.log("soak: %.0f min, round %d, RSS %d KiB, load runs %d" %
                           (el / 60, rounds, rss, len(load.runs)))
        stop_sampling.set()
        load.stop()
        t_end = time.monotonic()
        try:
            ac.log("normal client over the soak: " + nc.check(t_start + 5, t_end - 5, "soak"))
        except ac.TestFailure as e:
            fatal.append(str(e))
        nc.stop()
        nc = None
        srv.check_clean("at the end: ") if srv.alive() else fatal.append("the server died")
        rss_end = ac.rss_kib(srv.pid) if srv.alive() else 0
        try:
            srv.stop()  # SIGTERM: exit 0, LeakSanitizer clean
            leak = "no leak, no sanitizer report, exit 0 on SIGTERM"
        except ac.TestFailure as e:
            fatal.append(str(e))
            leak = str(e)[:300]
    finally:
        if load and load.is_alive():
            load.stop()
        if nc:
            nc.stop()
        srv.cleanup()

    # ---- the report ----
    minutes = (t_end - t_start) / 60
    print("soak: %.1f minutes, loom serve (ASan) pid %d" % (minutes, srv.pid))
    print("RSS per minute (KiB):")
    by_min = {}
    for t, r in samples:
        by_min.setdefault(int(t // 60), []).append(r)
    print("  " + " ".join("%d:%d" % (m, max(v)) for m, v in sorted(by_min.items())))
    early = [r for t, r in samples if WARMUP_S <= t < WARMUP_S + WINDOW_S]
    late = [r for t, r in samples if t >= samples[-1][0] - WINDOW_S] if samples else []
    if early and late and samples[-1][0] >= WARMUP_S + 2 * WINDOW_S:
        e, l = statistics.median(early), statistics.median(late)
        flat = l <= e * (1 + GROWTH_MAX) or l - e <= GROWTH_MAX_KIB
        print("RSS trend: median %d KiB in minutes %d-%d, %d KiB in the last %d: %+.1f %% (%s)" %
              (e, WARMUP_S // 60, (WARMUP_S + WINDOW_S) // 60, l, WINDOW_S // 60,
               (l - e) * 100.0 / e, "flat" if flat else "GROWING"))
        if not flat:
            fatal.append("memory grows: %d KiB -> %d KiB" % (e, l))
    else:
        print("RSS trend: the run is too short for the windows (warm-up %d s, two %d s "
              "windows); end %d KiB" % (WARMUP_S, WINDOW_S, rss_end))
    done = sum(r[1] for r in load.runs)
    okd = sum(r[2] for r in load.runs)
    errs = sum(max(r[3], 0) + max(r[4], 0) for r in load.runs)
    bad = [r for r in load.runs if r[3] < 0 or r[5] not in (0,)]
    print("load: %d loom bench runs, %d requests done, %d succeeded, %d errored or timed out" %
          (len(load.runs), done, okd, errs))
    if errs or bad:
        fatal.append("load errors: %d errored/timed out, %d runs failed" % (errs, len(bad)))
    n_pass = sum(v[0] for v in verdicts.values())
    n_fail = sum(v[1] for v in verdicts.values())
    print("attacks: %d cases run (%d distinct), %d met every bound, %d did not (listed; a "
          "case's bounds are for the attack alone, not under load)" %
          (n_pass + n_fail, len(verdicts), n_pass, n_fail))
    for (test, name), v in sorted(verdicts.items()):
        if v[1]:
            print("  %s/%s: %d of %d: %s" % (test, name, v[1], v[0] + v[1], v[2]))
    print("end: " + leak)
    for f in fatal:
        print("FAIL: " + f)
    print("soak: %s" % ("ok" if not fatal else "FAILED"))
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
