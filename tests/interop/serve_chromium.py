#!/usr/bin/python3
"""loom serve's demo site in headless Chromium (Debian package chromium),
over https with the self-signed certificate.

 1. `chromium --headless --dump-dom --log-net-log=...`: the page's app.js
    writes, from PerformanceResourceTiming, data-resources="102" and
    data-protocols='{"h2":102}' on <body> (100 images, style.css, app.js,
    all over h2), and the navigation itself went over h2. Chromium's NetLog
    shows one TCP connection and one HTTP/2 session to the server, and a
    103 Early Hints on the page's stream (Chromium does not take pushes).
    The server's access log has the page and all 102 assets, 200, over h2.
 2. `chromium --headless --screenshot --window-size=1024,768`: a valid PNG
    of 1024x768 and more than 5 KB, kept as a test artifact (second
    argument, else $LOOM_SCREENSHOT, else ./serve_chromium.png; ctest keeps
    it as build-debug/tests/serve_chromium.png).

If Chromium is missing or cannot run here, the test FAILS, saying so.

Usage: serve_chromium.py LOOM [SCREENSHOT.png]"""
import html
import json
import os
import re
import shutil
import signal
import struct
import subprocess

from serve_common import Server, TestFailure, check, main, make_tmp

ASSETS = ["/img/%02d.svg" % i for i in range(100)] + ["/style.css", "/app.js"]
CHROME_TIMEOUT = 60


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    raise TestFailure("Chromium is not installed: this test needs the Debian package "
                      "chromium (run tools/deps.sh test as root, or apt-get install chromium)")


def chromium(exe, tmp, url, extra, what):
    """Runs headless Chromium in its own process group with a fresh profile;
    on timeout kills that group (ours) and fails."""
    profile = make_tmp("chromium-profile")
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    env.pop("ASAN_OPTIONS", None)
    env.pop("UBSAN_OPTIONS", None)
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--ignore-certificate-errors", "--disable-dev-shm-usage",
            "--user-data-dir=" + profile] + list(extra) + [url]
    try:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            out, err = p.communicate(timeout=CHROME_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate(timeout=10)
            raise TestFailure("%s: Chromium did not finish within %d s" % (what, CHROME_TIMEOUT))
        finally:
            # helpers (renderer, GPU, zygote) left in Chromium's own group
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    err = err.decode(errors="replace")
    check(p.returncode == 0, "%s: Chromium could not run here (exit %d):\n%s" %
          (what, p.returncode, err[-3000:]))
    return out.decode(errors="replace"), err


def check_netlog(path, port, what):
    check(os.path.isfile(path), "%s: Chromium wrote no NetLog" % what)
    with open(path) as f:
        d = json.load(f)
    names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    types = {v: k for k, v in d["constants"]["logSourceType"].items()}
    phase_begin = d["constants"]["logEventPhase"]["PHASE_BEGIN"]
    target = "127.0.0.1:%d" % port
    sockets, in_use, sessions, hints = {}, set(), set(), 0
    for e in d["events"]:
        n = names.get(e["type"])
        p = e.get("params") or {}
        sid = e["source"]["id"]
        if n == "TCP_CONNECT" and e.get("phase") == phase_begin:
            sockets[sid] = p.get("address_list", [])
        if n == "SOCKET_IN_USE" and e.get("phase") == phase_begin:
            in_use.add(sid)
        if types.get(e["source"]["type"]) == "HTTP2_SESSION" and n == "HTTP2_SESSION" and \
                p.get("host") == target:
            sessions.add(sid)
        if n == "HTTP2_SESSION_RECV_HEADERS" and ":status: 103" in p.get("headers", []):
            hints += 1
            check(any("</style.css>; rel=preload" in h for h in p["headers"]),
                  "%s: the 103 lacks the preload links: %r" % (what, p["headers"]))
    ours = [s for s, addrs in sockets.items() if target in addrs]
    used = [s for s in ours if s in in_use]
    # Chromium may race a second TCP connect while the first TLS handshake
    # is pending (it does not know yet that the server speaks h2) and then
    # drops it unused ("Switching to HTTP2 session"): only sockets that
    # carried requests count.
    check(len(used) == 1, "%s: requests went over %d TCP connections (%d opened), wanted 1" %
          (what, len(used), len(ours)))
    check(len(sessions) == 1, "%s: %d HTTP/2 sessions, wanted 1" % (what, len(sessions)))
    check(hints == 1, "%s: %d 103 Early Hints seen by Chromium, wanted 1" % (what, hints))
    return len(ours)


def check_png(path, what):
    check(os.path.isfile(path), "%s: no screenshot written at %s" % (what, path))
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s: %s is not a PNG" % (what, path))
    check(data[12:16] == b"IHDR", "%s: %s has no IHDR chunk" % (what, path))
    w, h = struct.unpack(">II", data[16:24])
    check((w, h) == (1024, 768), "%s: screenshot is %dx%d, wanted 1024x768" % (what, w, h))
    check(len(data) > 5 * 1024, "%s: screenshot is only %d octets (blank page?)" %
          (what, len(data)))
    check(data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"), "%s: PNG truncated" % what)
    return len(data)


def test(argv):
    loom = argv[0]
    shot = os.path.abspath(argv[1] if len(argv) > 1 else
                           os.environ.get("LOOM_SCREENSHOT", "serve_chromium.png"))
    exe = find_chromium()
    tmp = make_tmp("chromium")
    try:
        log = os.path.join(tmp, "access.log")
        netlog = os.path.join(tmp, "netlog.json")
        with Server(loom, tmp=tmp, extra=["--log-format", "loom", "--access-log", log]) as s:
            what = "dump-dom"
            dom, _ = chromium(exe, tmp, s.https + "/",
                              ["--dump-dom", "--virtual-time-budget=3000",
                               "--log-net-log=" + netlog, "--net-log-capture-mode=Default"], what)
            m = re.search(r"<body([^>]*)>", dom)
            check(m, "%s: no <body> in Chromium's DOM:\n%s" % (what, dom[:2000]))
            attrs = dict((k, html.unescape(v)) for k, v in
                         re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
            check(attrs.get("data-resources") == "102",
                  "%s: data-resources %r, wanted 102 (body %s)" %
                  (what, attrs.get("data-resources"), m.group(0)))
            protos = json.loads(attrs.get("data-protocols", "{}"))
            check(protos == {"h2": 102}, "%s: protocols %r, wanted all 102 over h2" %
                  (what, protos))
            check("page over h2;" in dom, "%s: the page itself did not come over h2" % what)
            opened = check_netlog(netlog, s.https_port, what)

            what = "screenshot"
            if os.path.exists(shot):
                os.unlink(shot)
            chromium(exe, tmp, s.https + "/",
                     ["--screenshot=" + shot, "--window-size=1024,768",
                      "--hide-scrollbars"], what)
            size = check_png(shot, what)
        lines = [l.split() for l in open(log).read().splitlines()]
        first = {}
        for f in lines:
            check(f[2] == "h2", "access log: not over h2: %r" % " ".join(f))
            first.setdefault(f[5], f[6])
        for path in ["/"] + ASSETS:
            check(first.get(path) == "200", "access log: %s status %r" % (path, first.get(path)))
        print("chromium: 102 resources over h2 on one connection (%d opened); screenshot %s "
              "(%d octets)" % (opened, shot, size))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
