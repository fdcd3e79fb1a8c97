#!/usr/bin/env python3
"""A page over HTTP/2 on one connection against HTTP/1.1 on six (and on
one), under emulated round-trip times and rates: `loom bench --page`
loading two sites from `loom serve`.

Sites (each served by its own `loom serve --workers 1`, TLS with a
self-signed ECDSA P-256 certificate, on a free loopback port):

  demo  loom serve's built-in demo site (no DIR, XDG_CACHE_HOME pointing
        into the temporary folder, so it is written fresh there):
        index.html, 100 small SVG images, /style.css and /app.js, the last
        two pushed (its push map).
  real  a page shaped like a real site, written by bench/pagegen.py: 81
        resources (stylesheets, scripts with two large bundles, content
        images, icons, fonts), about 2.2 MB.

For each site, rate (--rates, Mbit/s, default 10,100) and round-trip time
(--rtts, ms, default 0,20,50,100,200), one run of

  loom bench --page https://127.0.0.1:PORT/ -n LOADS --modes h2,h1x6,h1x1
             --rtt RTT --rate RATE --json FILE

(LOADS = --loads, default 3, the same for every mode, RTT and rate: the
medians always mean the same thing). loom bench --page loads the page like
a browser through its built-in relay, which adds the round-trip time and
the rate limit: h2 (one connection, ALPN h2), h1x6 (HTTP/1.1, up to six
connections), h1x1 (HTTP/1.1, one connection). The medians of each mode are
collected from the JSON file.

Then the h2 mode alone against h2o and nginx serving the same folders (the
demo site as loom wrote it, the generated page; one worker each, TLS, the
configurations of bench/common.py) at --compare-rtts (20,100) and 10 Mbit/s,
with loom serve again beside them (pushing as it does, and with loom
bench's --no-push): the method does not depend on the server. (h2o and
nginx push nothing and compress nothing by default: the body octets are
printed beside the times.)

Servers are pinned to core 1 and loom bench to core 0 (taskset), as in the
other benchmarks, when there are two cores or more. The loom binary is
copied first, so that one build is measured throughout.

Other programs on the machine delay some loads (the client's many round
trips each wait for a core): a run whose loads of one mode spread more than
--retry-spread (1.25: the slowest 25 % over the fastest) is run once more
and the run whose loads agree better kept; the header says how many were,
with the load average at the start and end, and a spread left is a note.

Checks: every run must exit 0, with failed == 0 in every mode, and with
exactly the expected resources found in the page (the demo's 102; the 81
pagegen.py returns); otherwise FAILED is printed, the rest still runs, and
the exit status is 1. Numbers that look physically wrong (a load faster
than its round trips or its octets at the rate allow, connection counts
that are not 1 / at most 6 / 1...) are printed as notes, not failures.

Output: the log on stderr; on stdout (and in --table, default
build-bench/pageload.md) markdown tables, per site and rate, per RTT: the
median page-load time (plt: from the start of the load to the last octet of
the last subresource) of each mode, the speed-ups of h2 (h1x6 plt / h2 plt,
h1x1 plt / h2 plt; above 1: h2 faster), the connections of each mode, and
the request header octets on the wire per request (the first on a
connection / the average of the others: HPACK against HTTP/1.1 text); then
the h2o/nginx comparison. An SVG chart (--svg, default docs/pageload.svg):
plt against RTT, one line per mode, one panel per site and rate. Every run's
JSON together in --raw (build-bench/pageload.json). The last line:

  summary: demo_h1x6=X demo_h1x1=X real_h1x6=X real_h1x1=X

the speed-ups of h2 (the other mode's median plt / h2's) at 100 ms and 10
Mbit/s (or the nearest RTT and rate that ran); nan for what did not run.

  bench/pageload.py LOOM [--loads N] [--rtts 0,20,50,100,200] [--rates 10,100]
                         [--sites demo,real] [--servers h2o,nginx]
                         [--compare-rtts 20,100] [--quick] [--table FILE]
                         [--svg FILE] [--raw FILE] [--retry-spread X]

--quick: --loads 1 --rtts 0,50,100 --rates 10 --compare-rtts 100 (about a
minute). The default run takes about 12 minutes: HTTP/1.1 on one
connection asks for each of the demo's 102 resources in turn, a round trip
each (about 21 s a load at 200 ms), and that mode alone is two thirds of
the time. Run by `make bench-pageload` (BENCH_FLAGS passes flags). A
benchmark, not a test: it asserts nothing about the speed-ups.
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (NGINX, free_port, h2o_conf, make_site, root_user, stop,  # noqa: E402
                    wait_port)
import pagegen  # noqa: E402

MODES = ("h2", "h1x6", "h1x1")
SITES = ("demo", "real")
PEERS = ("h2o", "nginx")
NAN = float("nan")
SERVER_CORE, CLIENT_CORE = 1, 0
SITE_TITLE = {"demo": "demo site (loom serve's built-in)", "real": "real-site page (pagegen.py)"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def numbers(text, kind=float):
    try:
        out = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of numbers, not %r" % text)
    if not out or any(x < 0 for x in out):
        raise argparse.ArgumentTypeError("a comma-separated list of numbers >= 0, not %r" % text)
    return out


def names(allowed):
    def parse(text):
        out = [x for x in text.split(",") if x]
        bad = [x for x in out if x not in allowed]
        if bad or not out:
            raise argparse.ArgumentTypeError("one or more of %s, not %r" % (
                ",".join(allowed), text))
        return [x for x in allowed if x in out]
    return parse


def fmt_num(v):
    return ("%g" % v) if v == int(v) else ("%.1f" % v)


def pinned(cmd, core):
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)] + cmd
    return cmd


# ---- servers

def start_server(kind, loom, tmp, root, cert, key, env=None):
    """(processes, TLS port) of loom serve / h2o / nginx serving root (loom:
    root None, its demo site)."""
    tls, clear = free_port(), free_port()
    if kind == "loom":
        cmd = [loom, "serve"] + ([root] if root else []) + [
            "--workers", "1", "--https", "127.0.0.1:%d" % tls, "--cert", cert, "--key", key]
    elif kind == "h2o":
        cmd = ["h2o", "-c", h2o_conf(tmp, tls, clear, cert, key, root)]
    else:
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX.format(tmp=tmp, tls=tls, clear=clear, h1=free_port(), cert=cert,
                                 key=key, root=root, user=root_user("nginx"),
                                 access="access_log off;"))
        cmd = ["nginx", "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "nginx-error.log")]
    errf = open(os.path.join(tmp, "%s-stderr.log" % kind), "ab")
    p = subprocess.Popen(pinned(cmd, SERVER_CORE), env=env, stdout=subprocess.DEVNULL,
                         stderr=errf)
    errf.close()
    try:
        wait_port(tls, p)
    except Exception:
        stop([p])
        raise
    return [p], tls


# ---- one run of loom bench --page

class Run:
    """One loom bench --page run: its command, exit status, JSON, problems."""

    def __init__(self, site, server, rtt, rate, modes, extra=()):
        self.site, self.server, self.rtt, self.rate = site, server, rtt, rate
        self.modes, self.extra = list(modes), list(extra)
        self.rc, self.data, self.secs = None, None, NAN
        self.failures, self.notes = [], []
        self.out = ""
        self.retried = False

    def label(self):
        return "%s/%s %s ms %s Mbit/s %s%s" % (self.site, self.server, fmt_num(self.rtt),
                                               fmt_num(self.rate), ",".join(self.modes),
                                               (" " + " ".join(self.extra)) if self.extra else "")

    def mode(self, m):
        return ((self.data or {}).get("modes") or {}).get(m)

    def med(self, m, key="plt_ms", stat="median"):
        d = self.mode(m)
        try:
            v = d[key]
            return float(v[stat] if isinstance(v, dict) else v)
        except (TypeError, KeyError, ValueError):
            return NAN


def spread(run):
    """The largest max/min of a mode's page-load times over the loads."""
    out = 1.0
    for m in run.modes:
        lo, hi = run.med(m, stat="min"), run.med(m, stat="max")
        if lo > 0 and not math.isnan(hi):
            out = max(out, hi / lo)
    return out


def measure(a, loom, url, make, expected, site_octets, tmp):
    """A run; run again once when its loads spread more than --retry-spread
    (something else on the machine delayed some: every load of a mode does
    the same work), keeping the run whose loads agree better."""
    r = run_page(loom, url, make(), a.loads, tmp, expected, site_octets)
    if a.retry_spread and not r.failures and r.data and spread(r) > a.retry_spread:
        log("      loads spread %.2fx (%s): run again" % (spread(r), r.label()))
        r2 = run_page(loom, url, make(), a.loads, tmp, expected, site_octets)
        r2.retried = r.retried = True
        if r2.failures or spread(r2) < spread(r):
            r = r2
    if r.data and spread(r) > (a.retry_spread or 1.25):
        r.notes.append("loads spread %.2fx: min..max of a mode's plt (other load on the "
                       "machine?)" % spread(r))
    return r


def run_page(loom, url, run, loads, tmp, expected, site_octets):
    jpath = os.path.join(tmp, "run.json")
    if os.path.exists(jpath):
        os.unlink(jpath)
    cmd = [loom, "bench", "--page", url, "-n", str(loads), "--modes", ",".join(run.modes),
           "--rtt", fmt_num(run.rtt), "--rate", fmt_num(run.rate), "--json", jpath] + run.extra
    # generous: HTTP/1.1 on one connection, a round trip per resource, the
    # octets at the rate, 30 s more for each load
    n = len(expected) + 1
    limit = 120 + loads * len(run.modes) * (n * (run.rtt + 5) / 1000.0 * 3 +
                                           site_octets * 8 / (run.rate * 1e6 or 1e9) * 3 + 30)
    t0 = time.time()
    try:
        p = subprocess.run(pinned(cmd, CLIENT_CORE), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=limit)
        run.rc, run.out = p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        run.rc, run.out = -1, (e.stdout or b"").decode(errors="replace")
        run.failures.append("no end after %.0f s (killed)" % limit)
    run.secs = time.time() - t0
    if run.rc not in (0, -1):
        run.failures.append("exit status %d" % run.rc)
    try:
        with open(jpath) as f:
            run.data = json.load(f)
    except (OSError, ValueError) as e:
        run.failures.append("no JSON report (%s)" % e)
    if run.failures and run.out:
        run.failures.append("its output ends:\n      " +
                            "\n      ".join(run.out.rstrip().splitlines()[-12:]))
    if run.data is not None:
        check(run, expected, site_octets, loads)
    return run


def check(run, expected, site_octets, loads):
    d = run.data
    got = []
    for r in d.get("resources") or []:
        u = urllib.parse.urlsplit(r.get("url", "") if isinstance(r, dict) else str(r))
        got.append(u.path + ("?" + u.query if u.query else ""))
    if sorted(got) != sorted(expected):
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        dup = sorted(p for p in set(got) if got.count(p) > 1)
        run.failures.append("resources found: %d, expected %d (missing %s; unexpected %s; "
                            "twice %s)" % (len(got), len(expected), missing[:5] or "none",
                                           extra[:5] or "none", dup[:5] or "none"))
    for key, want in (("rtt_ms", run.rtt), ("rate_mbit", run.rate), ("loads", loads)):
        if key in d and d[key] is not None and float(d[key]) != float(want):
            run.notes.append("JSON %s is %s, asked for %s" % (key, d[key], want))
    for m in run.modes:
        md = run.mode(m)
        if md is None:
            run.failures.append("mode %s missing from the JSON" % m)
            continue
        if md.get("failed"):
            run.failures.append("%s: %s resources failed per load (median); errors: %s" % (
                m, md.get("failed"), "; ".join(map(str, (md.get("errors") or [])[:3])) or "none"))
        elif md.get("errors"):
            run.notes.append("%s: errors listed with failed 0: %s" % (
                m, "; ".join(map(str, md["errors"][:3]))))
        plausible(run, m, md, len(expected), site_octets)


def plausible(run, m, md, nres, site_octets):
    """Notes on numbers no real network could give."""
    rtt, rate = run.rtt, run.rate
    plt, ttfb = run.med(m), run.med(m, "ttfb_ms")
    conns = md.get("conns")
    want = {"h2": (1, 1), "h1x6": (2, 6), "h1x1": (1, 1)}.get(m)
    if conns is not None and want and not want[0] <= conns <= want[1]:
        run.notes.append("%s: %s connections per load (expected %s)" % (
            m, conns, "%d..%d" % want if want[0] != want[1] else want[0]))
    if conns is not None and md.get("tls_handshakes") not in (None, conns):
        run.notes.append("%s: %s TLS handshakes for %s connections" % (
            m, md.get("tls_handshakes"), conns))
    if not math.isnan(plt) and not math.isnan(ttfb) and ttfb > plt:
        run.notes.append("%s: ttfb %.0f ms after plt %.0f ms" % (m, ttfb, plt))
    if rtt > 0:
        # TCP's handshake, TLS 1.3's, the page's request: 3 round trips to
        # the first octet; a 4th at least for the subresources (those not
        # pushed); h1x1 one more per resource, h1x6 one per six
        if not math.isnan(ttfb) and ttfb < 2.9 * rtt:
            run.notes.append("%s: ttfb %.0f ms < 3 round trips (%.0f ms): TCP + TLS 1.3 + "
                             "request" % (m, ttfb, 3 * rtt))
        rounds = {"h2": 4, "h1x6": 3 + math.ceil(nres / 6.0), "h1x1": 3 + nres}[m]
        if m != "h2" and not math.isnan(plt) and plt < 0.9 * rounds * rtt:
            run.notes.append("%s: plt %.0f ms < %d round trips (%.0f ms)" % (
                m, plt, rounds, rounds * rtt))
        if m == "h2" and not math.isnan(plt) and plt < 0.9 * 3 * rtt:
            run.notes.append("h2: plt %.0f ms < 3 round trips" % plt)
    body = md.get("body_octets") or 0
    if rate > 0 and not math.isnan(plt) and body:
        floor = body * 8 / (rate * 1e6) * 1000
        if plt < 0.9 * floor:
            run.notes.append("%s: plt %.0f ms < its %d body octets at %s Mbit/s (%.0f ms)" % (
                m, plt, body, fmt_num(rate), floor))
    reqs, pushed = md.get("requests"), md.get("pushed") or 0
    if reqs is not None and reqs + pushed != nres + 1:
        run.notes.append("%s: requests %s + pushed %s != %d (the page and its resources)" % (
            m, reqs, pushed, nres + 1))


# ---- the tables

def ratio(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else NAN


def cell(v, f="%.0f"):
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f % v


def hdr_cell(md):
    if not md:
        return "nan"
    first, rest = md.get("req_header_first"), md.get("req_header_rest_avg")
    return "%s / %s" % (cell(first, "%d") if first is not None else "nan",
                        cell(rest, "%.1f") if rest is not None else "nan")


def size_text(octets):
    return "%.0f KB" % (octets / 1e3) if octets < 1e6 else "%.1f MB" % (octets / 1e6)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def site_line(site, info):
    return "%s: index.html and %d resources, %s" % (
        SITE_TITLE[site], info["n"], size_text(info["octets"]))


def tables(a, grid, comp, info, wall, digest):
    L = []
    L.append("# A page over HTTP/2 (1 connection) vs HTTP/1.1 (6 connections, 1 connection)")
    L.append("")
    L.append("loom bench --page through its relay (the RTT and rate emulated, per direction), "
             "against loom serve (1 worker, TLS, self-signed ECDSA P-256); median of %d loads "
             "per mode, every mode the same. plt: page-load time in ms, start to the last "
             "octet of the last subresource. Speed-up: the other mode's plt / h2's (above 1: h2 "
             "faster). conns: connections per load. Request header octets on the wire: the "
             "first request on a connection / the average of the later ones. loom %s; run of "
             "%.0f s; load average %s at the start, %s at the end; %d of %d runs were run "
             "twice, their loads spread more than %gx (the better agreeing kept)." % (
                 a.loads, digest, wall, a.load_before, loadavg(), a.retried, a.nruns,
                 a.retry_spread))
    for site in a.sites:
        L.append("")
        L.append("## " + site_line(site, info[site]))
        for rate in a.rates:
            L.append("")
            L.append("### %s Mbit/s" % fmt_num(rate))
            L.append("")
            L.append("| RTT ms | h2 plt | h1x6 plt | h1x1 plt | h2 speed-up vs h1x6 | vs h1x1 "
                     "| conns h2 / h1x6 / h1x1 | req header octets h2 | h1x6 | h1x1 |")
            L.append("|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|")
            for rtt in a.rtts:
                r = grid.get((site, rate, rtt))
                if r is None:
                    continue
                p = {m: r.med(m) for m in MODES}
                conns = " / ".join(cell((r.mode(m) or {}).get("conns"), "%g")
                                   if (r.mode(m) or {}).get("conns") is not None else "nan"
                                   for m in MODES)
                L.append("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    fmt_num(rtt), " FAILED" if r.failures else "", cell(p["h2"]),
                    cell(p["h1x6"]), cell(p["h1x1"]),
                    cell(ratio(p["h1x6"], p["h2"]), "%.2f×"),
                    cell(ratio(p["h1x1"], p["h2"]), "%.2f×"), conns,
                    hdr_cell(r.mode("h2")), hdr_cell(r.mode("h1x6")), hdr_cell(r.mode("h1x1"))))
    if comp:
        L.append("")
        L.append("## The server makes no difference: h2 against h2o and nginx")
        L.append("")
        L.append("The h2 mode alone, %d loads, %s Mbit/s. loom serve: from the runs above "
                 "(pushing the demo's style.css and app.js), and again with loom bench "
                 "--no-push; h2o and nginx (1 worker, TLS, their defaults: no push, no "
                 "compression) serving the same folders. plt median in ms; body: KB of "
                 "response bodies per load." % (a.loads, fmt_num(a.compare_rate)))
        L.append("")
        servers = ["loom", "loom --no-push"] + a.servers
        L.append("| site | RTT ms | " + " | ".join(servers) + " | body KB " +
                 " / ".join(servers) + " |")
        L.append("|---|---:|" + "---:|" * len(servers) + "---|")
        for site in a.sites:
            for rtt in a.compare_rtts:
                rs = [grid.get((site, a.compare_rate, rtt))] + \
                     [comp.get((site, s, rtt)) for s in ["loom"] + a.servers]
                L.append("| %s | %s | %s | %s |" % (
                    site, fmt_num(rtt),
                    " | ".join(cell(r.med("h2")) + (" FAILED" if r.failures else "")
                               if r else "nan" for r in rs),
                    " / ".join(cell(((r.mode("h2") or {}).get("body_octets") or NAN) / 1000.0)
                               if r else "nan" for r in rs)))
    return "\n".join(L) + "\n"


# ---- the chart

def nice_step(top, n=5):
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


STYLE = {"h2": ("#0072B2", "", "circle", "HTTP/2, 1 connection"),
         "h1x6": ("#E69F00", "9 5", "square", "HTTP/1.1, 6 connections"),
         "h1x1": ("#B0306E", "3 4", "triangle", "HTTP/1.1, 1 connection")}


def marker(kind, x, y, colour):
    if kind == "circle":
        return '<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s"/>' % (x, y, colour)
    if kind == "square":
        return '<rect x="%.1f" y="%.1f" width="8" height="8" fill="%s"/>' % (x - 4, y - 4, colour)
    return '<path d="M%.1f %.1fl5 8.5h-10z" fill="%s"/>' % (x, y - 5.5, colour)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_chart(a, grid, info):
    cols, rows = list(a.sites), list(a.rates)
    W = 900
    top, pw, ph, gap = 96, (W - 40) / len(cols), 318, 24
    H = int(top + rows.__len__() * (ph + gap) + 10)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">' % (W, H, W, H),
         '<rect width="%d" height="%d" fill="white"/>' % (W, H),
         '<text x="%d" y="26" text-anchor="middle" font-size="17" font-weight="bold">Page-load '
         'time against round-trip time: HTTP/2 on one connection, HTTP/1.1 on six or one</text>'
         % (W // 2),
         '<text x="%d" y="46" text-anchor="middle" fill="#444">loom bench --page (emulated RTT '
         'and rate) against loom serve over TLS; median of %d loads per point</text>'
         % (W // 2, a.loads)]
    # the legend
    lx = W / 2 - 330
    for i, m in enumerate(MODES):
        colour, dash, mk, name = STYLE[m]
        x = lx + i * 230
        o.append('<line x1="%.1f" y1="68" x2="%.1f" y2="68" stroke="%s" stroke-width="2.5"%s/>'
                 % (x, x + 40, colour, ' stroke-dasharray="%s"' % dash if dash else ""))
        o.append(marker(mk, x + 20, 68, colour))
        o.append('<text x="%.1f" y="72.5" font-size="13">%s</text>' % (x + 48, name))
    xmax = max(a.rtts) or 1
    for ri, rate in enumerate(rows):
        for ci, site in enumerate(cols):
            x0 = 20 + ci * pw + 64
            y0 = top + ri * (ph + gap) + 26
            w, h = pw - 64 - 18, ph - 26 - 64
            pts = {m: [(rtt, grid[(site, rate, rtt)].med(m)) for rtt in a.rtts
                       if (site, rate, rtt) in grid] for m in MODES}
            vals = [v for m in MODES for _, v in pts[m] if not math.isnan(v)]
            ymax = max(vals) if vals else 1
            step = nice_step(ymax)
            ytop = step * math.ceil(ymax * 1.04 / step) if ymax > 0 else 1
            o.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="14" '
                     'font-weight="bold">%s, %s Mbit/s</text>' % (
                         x0 + w / 2, y0 - 10, esc(SITE_TITLE[site].split(" (")[0] + " (%d "
                                                  "resources, %s)" % (
                                                      info[site]["n"],
                                                      size_text(info[site]["octets"]))),
                         fmt_num(rate)))
            o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" '
                     'stroke="#999"/>' % (x0, y0, w, h))

            def X(v):
                return x0 + w * v / xmax

            def Y(v):
                return y0 + h - h * v / ytop

            t = 0.0
            while t <= ytop + 1e-9:
                y = Y(t)
                o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>' % (
                    x0, y, x0 + w, y))
                o.append('<text x="%.1f" y="%.1f" text-anchor="end" fill="#333">%s</text>' % (
                    x0 - 6, y + 4, "{:,}".format(int(round(t))).replace(",", " ")))
                t += step
            for rtt in a.rtts:
                x = X(rtt)
                o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>' % (
                    x, y0, x, y0 + h))
                o.append('<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%s</text>' % (
                    x, y0 + h + 16, fmt_num(rtt)))
            o.append('<text x="%.1f" y="%.1f" text-anchor="middle">round-trip time (ms)</text>' % (
                x0 + w / 2, y0 + h + 34))
            o.append('<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">'
                     'page-load time (ms)</text>' % (x0 - 54, y0 + h / 2))
            for m in MODES:
                colour, dash, mk, _ = STYLE[m]
                good = [(x, v) for x, v in pts[m] if not math.isnan(v)]
                if len(good) > 1:
                    o.append('<polyline fill="none" stroke="%s" stroke-width="2.5" '
                             'stroke-linejoin="round"%s points="%s"/>' % (
                                 colour, ' stroke-dasharray="%s"' % dash if dash else "",
                                 " ".join("%.1f,%.1f" % (X(x), Y(v)) for x, v in good)))
                for x, v in good:
                    o.append(marker(mk, X(x), Y(v), colour))
            # the speed-ups at 100 ms (or the nearest RTT run), under the axis
            at = nearest([rtt for rtt in a.rtts if (site, rate, rtt) in grid], 100)
            if at is not None:
                r = grid[(site, rate, at)]
                s6, s1 = ratio(r.med("h1x6"), r.med("h2")), ratio(r.med("h1x1"), r.med("h2"))
                o.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12.5" '
                         'fill="#0072B2">at %s ms: h2 %s× as fast as h1x6, %s× as fast as '
                         'h1x1</text>' % (x0 + w / 2, y0 + h + 54, fmt_num(at), cell(s6, "%.1f"),
                                          cell(s1, "%.1f")))
    o.append("</svg>")
    return "\n".join(o) + "\n"


# ---- main

def expected_demo(root):
    exp = ["/style.css", "/app.js"] + ["/img/%02d.svg" % i for i in range(100)]
    missing = [p for p in exp if not os.path.isfile(os.path.join(root, p[1:]))]
    if missing:
        raise RuntimeError("the demo site in %s lacks %s: has it changed? (update "
                           "expected_demo())" % (root, missing[:5]))
    return exp


def nearest(values, want):
    return min(values, key=lambda v: (abs(v - want), v)) if values else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("loom")
    ap.add_argument("--loads", type=int, default=None, help="loads per mode and point (3)")
    ap.add_argument("--rtts", type=numbers, default=None, help="ms (0,20,50,100,200)")
    ap.add_argument("--rates", type=numbers, default=None, help="Mbit/s (10,100)")
    ap.add_argument("--sites", type=names(SITES), default=list(SITES))
    ap.add_argument("--servers", type=names(PEERS + ("none",)), default=list(PEERS),
                    help="peers of the h2 comparison (h2o,nginx; none)")
    ap.add_argument("--compare-rtts", type=numbers, default=None, help="ms (20,100)")
    ap.add_argument("--compare-rate", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--table", default="build-bench/pageload.md")
    ap.add_argument("--svg", default="docs/pageload.svg")
    ap.add_argument("--raw", default="build-bench/pageload.json")
    ap.add_argument("--retry-spread", type=float, default=1.25,
                    help="run a point again when a mode's slowest load is this many times "
                         "its fastest (0: never)")
    a = ap.parse_args()
    a.servers = [s for s in a.servers if s != "none"]
    q = a.quick
    a.loads = a.loads or (1 if q else 3)
    a.rtts = sorted(set(a.rtts or ([0, 50, 100] if q else [0, 20, 50, 100, 200])))
    a.rates = sorted(set(a.rates or ([10] if q else [10, 100])))
    a.compare_rtts = sorted(set(a.compare_rtts or ([100] if q else [20, 100])))
    if a.loads < 1:
        ap.error("--loads must be 1 or more")
    for tool in ["openssl"] + a.servers:
        if not shutil.which(tool):
            sys.exit("bench/pageload.py needs %s (tools/deps.sh bench)" % tool)
    said = "".join(subprocess.run([a.loom, "bench"] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT).stdout.decode(errors="replace")
                   for args in (["--help"], ["--page"]))
    if "--page" not in said:
        sys.exit("%s bench has no --page (build it from a tree that has it)" % a.loom)

    tmp = tempfile.mkdtemp(prefix="loom-bench-pageload-")
    a.load_before = loadavg()
    t0 = time.time()
    grid, comp, info, runs = {}, {}, {}, []
    procs = []
    try:
        with open(a.loom, "rb") as f:
            digest = hashlib.sha1(f.read()).hexdigest()[:12]
        shutil.copy2(a.loom, os.path.join(tmp, "loom"))
        loom = os.path.join(tmp, "loom")
        log("loom %s (sha1 %s), copied to %s" % (a.loom, digest, tmp))
        _, cert, key = make_site(tmp)
        roots, expected = {}, {}
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "xdg"))
        if "real" in a.sites:
            roots["real"] = os.path.join(tmp, "real")
            expected["real"], _ = pagegen.generate(roots["real"])
        n_runs = len(a.sites) * (len(a.rtts) * len(a.rates) + len(a.compare_rtts) *
                                 (1 + len(a.servers)))
        done = 0
        for site in a.sites:
            procs, port = start_server("loom", loom, tmp, roots.get(site), cert, key, env)
            if site == "demo":
                roots["demo"] = os.path.join(tmp, "xdg", "loom", "demo-site")
                expected["demo"] = expected_demo(roots["demo"])
            octets = sum(os.path.getsize(os.path.join(roots[site], p[1:]))
                         for p in expected[site])
            info[site] = {"n": len(expected[site]), "octets": octets + os.path.getsize(
                os.path.join(roots[site], "index.html"))}
            log("%s: %s, on https://127.0.0.1:%d/ (loom serve)" % (
                site, site_line(site, info[site]), port))
            url = "https://127.0.0.1:%d/" % port
            todo = [(rate, rtt, list(MODES), [], grid, (site, rate, rtt))
                    for rate in a.rates for rtt in a.rtts]
            todo += [(a.compare_rate, rtt, ["h2"], ["--no-push"], comp, (site, "loom", rtt))
                     for rtt in a.compare_rtts]
            for rate, rtt, modes, extra, into, k in todo:
                r = measure(a, loom, url, lambda: Run(site, "loom", rtt, rate, modes, extra),
                            expected[site], info[site]["octets"], tmp)
                into[k] = r
                runs.append(r)
                done += 1
                report(r, done, n_runs, t0)
            stop(procs)
            procs = []
            for server in a.servers:
                procs, port = start_server(server, loom, tmp, roots[site], cert, key)
                url = "https://127.0.0.1:%d/" % port
                for rtt in a.compare_rtts:
                    r = measure(a, loom, url,
                                lambda: Run(site, server, rtt, a.compare_rate, ["h2"]),
                                expected[site], info[site]["octets"], tmp)
                    comp[(site, server, rtt)] = r
                    runs.append(r)
                    done += 1
                    report(r, done, n_runs, t0)
                stop(procs)
                procs = []
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.time() - t0
    a.retried, a.nruns = sum(r.retried for r in runs), len(runs)

    text = tables(a, grid, comp, info, wall, digest)
    print(text, end="")
    for path, content in ((a.table, text), (a.svg, svg_chart(a, grid, info) if grid else None),
                          (a.raw, json.dumps([{"site": r.site, "server": r.server,
                                               "rtt_ms": r.rtt, "rate_mbit": r.rate,
                                               "extra": r.extra, "exit": r.rc,
                                               "retried": r.retried,
                                               "seconds": round(r.secs, 2), "json": r.data}
                                              for r in runs], indent=1) + "\n")):
        if path and content is not None:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
    print("\nwritten: %s, %s, %s; wall time %.0f s (%.1f min)" % (a.table, a.svg, a.raw, wall,
                                                                 wall / 60))
    notes = [(r, n) for r in runs for n in r.notes]
    if notes:
        print("\nnotes (numbers that look odd; not failures):")
        for r, n in notes:
            print("  %s: %s" % (r.label(), n))
    failed = [r for r in runs if r.failures]
    if failed:
        print("\nFAILED: %d of %d runs" % (len(failed), len(runs)))
        for r in failed:
            for f in r.failures:
                print("  %s: %s" % (r.label(), f))
    rate = nearest(a.rates, 10)
    rtt = nearest(a.rtts, 100)
    parts = []
    for site in SITES:
        r = grid.get((site, rate, rtt))
        for m in ("h1x6", "h1x1"):
            parts.append("%s_%s=%s" % (site, m, cell(ratio(r.med(m), r.med("h2")), "%.2f")
                                       if r else "nan"))
    print("summary: " + " ".join(parts) + ("" if (rate, rtt) == (10, 100) else
                                           "   (at %s ms, %s Mbit/s)" % (fmt_num(rtt),
                                                                        fmt_num(rate))))
    return 1 if failed else 0


def report(r, done, total, t0):
    el = time.time() - t0
    log("  [%d/%d %4.0f s] %-38s %s  (%.1f s)%s" % (
        done, total, el, r.label(), "  ".join("%s %s" % (m, cell(r.med(m))) for m in r.modes),
        r.secs, "  FAILED: " + r.failures[0] if r.failures else ""))
    for n in r.notes:
        log("      note: " + n)


if __name__ == "__main__":
    sys.exit(main())
