#!/usr/bin/python3
"""loom serve's built-in demo site against nghttp (nghttp2's client).

 - `nghttp -nav -s https://.../`: the page and every asset it links (100
   images, /style.css, /app.js) come with status 200 over one connection;
   /style.css and /app.js arrive as server pushes (PUSH_PROMISE frames for
   exactly those two paths, promised on the page's stream); the access log
   shows all 103 responses, the pushed ones on even stream ids.
 - `nghttp -nav -s --no-push`: no PUSH_PROMISE, a 103 Early Hints with the
   preload links before the 200, all 103 resources fetched.
 - h2c by prior knowledge (`nghttp http://...`): the same, with pushes.
 - h2c by Upgrade (`nghttp -u http://...`): all 103 resources over the one
   upgraded connection (the pushes or the 103 hints).

Usage: serve_nghttp.py LOOM"""
import os
import re
import shutil

from serve_common import Server, check, main, make_tmp, run

ASSETS = ["/img/%02d.svg" % i for i in range(100)] + ["/style.css", "/app.js"]
PUSHED = {"/style.css", "/app.js"}


def parse(out):
    """nghttp -v output -> frames [(dir, type, stream_id, {headers})]; header
    lines precede the frame line they belong to for received frames and
    follow it for sent ones."""
    frames = []
    pending = {}
    cur = None
    for line in out.splitlines():
        m = re.match(r"\[\s*[\d.]+\] (send|recv) (\w+) frame <.*stream_id=(\d+)>", line)
        if m:
            d, typ, sid = m.group(1), m.group(2), int(m.group(3))
            hdrs = pending if d == "recv" else {}
            frames.append((d, typ, sid, hdrs))
            cur = hdrs if d == "send" else None
            pending = {}
            continue
        m = re.match(r"\[\s*[\d.]+\] recv \(stream_id=(\d+)\) ([^:]*|:[^:]+): (.*)$", line)
        if m:
            pending.setdefault(m.group(2), []).append(m.group(3))
            continue
        m = re.match(r"\s{10}(:?[a-z0-9-]+): (.*)$", line)
        if m and cur is not None:
            cur.setdefault(m.group(1), []).append(m.group(2))
    return frames


def stats(out):
    """The -s table: path -> (code, pushed)."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+\+\S+\s+(\*?)\s*\+\S+\s+\S+\s+(\d+)\s+\S+\s+(/\S*)$", line)
        if m:
            rows[m.group(4)] = (int(m.group(3)), m.group(2) == "*")
    return rows


def nghttp(url, extra=(), what=""):
    p = run(["nghttp", "-nav", "-s", "-t", "30"] + list(extra) + [url], timeout=40)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    check(p.returncode == 0, "%s: nghttp exited %d:\n%s" % (what, p.returncode, out[-3000:]))
    return out


def check_all_fetched(out, what, want_pushed):
    check(out.count("] Connected") == 1,
          "%s: nghttp connected %d times, wanted one connection" %
          (what, out.count("] Connected")))
    rows = stats(out)
    for path in ["/"] + ASSETS:
        check(path in rows, "%s: %s was not fetched; stats rows: %s" %
              (what, path, sorted(rows)))
        check(rows[path][0] == 200, "%s: %s got status %d" % (what, path, rows[path][0]))
    check(len(rows) == 103, "%s: %d resources, wanted 103" % (what, len(rows)))
    if want_pushed is not None:
        got = {p for p, (c, pushed) in rows.items() if pushed}
        check(got == want_pushed, "%s: pushed %s, wanted %s" % (what, sorted(got),
                                                               sorted(want_pushed)))
    return rows


def check_pushes(out, what):
    frames = parse(out)
    promises = [f for f in frames if f[0] == "recv" and f[1] == "PUSH_PROMISE"]
    paths = sorted(p for f in promises for p in f[3].get(":path", []))
    check(paths == sorted(PUSHED), "%s: PUSH_PROMISE for %s, wanted %s" %
          (what, paths, sorted(PUSHED)))
    # promised on the page's stream, before its final response's body
    page = [f for f in frames if f[0] == "send" and f[1] == "HEADERS"
            and f[3].get(":path") == ["/"]]
    check(len(page) == 1, "%s: the page request not found in nghttp -v" % what)
    for f in promises:
        check(f[2] == page[0][2], "%s: PUSH_PROMISE on stream %d, the page is stream %d" %
              (what, f[2], page[0][2]))


def check_no_push_103(out, what):
    frames = parse(out)
    check(not any(f[1] == "PUSH_PROMISE" for f in frames),
          "%s: a PUSH_PROMISE came though push is off" % what)
    heads = [f for f in frames if f[0] == "recv" and f[1] == "HEADERS"]
    hints = [f for f in heads if f[3].get(":status") == ["103"]]
    check(len(hints) == 1, "%s: %d responses with :status 103, wanted 1" % (what, len(hints)))
    link = ",".join(hints[0][3].get("link", []))
    for a in PUSHED:
        check("<%s>; rel=preload" % a in link, "%s: 103 link %r lacks %s" % (what, link, a))
    sid = hints[0][2]
    final = [i for i, f in enumerate(heads) if f[2] == sid and f[3].get(":status") == ["200"]]
    check(final and heads.index(hints[0]) < final[0],
          "%s: the 103 did not come before the page's 200" % what)


def test(argv):
    loom = argv[0]
    tmp = make_tmp("nghttp")
    try:
        log = os.path.join(tmp, "access.log")
        with Server(loom, tmp=tmp, extra=["--log-format", "loom", "--access-log", log]) as s:
            what = "h2 (TLS) with push"
            out = nghttp(s.https + "/", what=what)
            check("The negotiated protocol: h2" in out, "%s: ALPN did not pick h2" % what)
            check_all_fetched(out, what, PUSHED)
            check_pushes(out, what)

            what = "h2 (TLS) --no-push"
            out = nghttp(s.https + "/", ["--no-push"], what=what)
            check(re.search(r"SETTINGS_ENABLE_PUSH\(0x02\):0", out),
                  "%s: nghttp did not send ENABLE_PUSH 0" % what)
            check_all_fetched(out, what, set())
            check_no_push_103(out, what)

            what = "h2c prior knowledge with push"
            out = nghttp(s.http + "/", what=what)
            check("HTTP Upgrade" not in out, "%s: nghttp used Upgrade" % what)
            check_all_fetched(out, what, PUSHED)
            check_pushes(out, what)

            what = "h2c prior knowledge --no-push"
            out = nghttp(s.http + "/", ["--no-push"], what=what)
            check_all_fetched(out, what, set())
            check_no_push_103(out, what)

            what = "h2c Upgrade"
            out = nghttp(s.http + "/", ["-u"], what=what)
            check("HTTP Upgrade success" in out, "%s: the upgrade failed:\n%s" %
                  (what, out[:3000]))
            check_all_fetched(out, what, None)
            frames = parse(out)
            pushed = any(f[1] == "PUSH_PROMISE" for f in frames)
            hinted = any(f[3].get(":status") == ["103"] for f in frames if f[0] == "recv")
            check(pushed or hinted, "%s: neither pushes nor 103 Early Hints" % what)
        # the access log: every response of the first run, pushes on even ids
        lines = open(log).read().splitlines()
        first = [l for l in lines if " h2 " in l][:103]
        check(len(first) == 103, "access log: %d h2 lines, wanted at least 103" % len(first))
        for l in first:
            f = l.split()
            check(f[6] == "200", "access log: not 200: %r" % l)
            sid = int(f[3].split("=")[1])
            check((sid % 2 == 0) == (f[5] in PUSHED),
                  "access log: %s on stream %d (pushes are even)" % (f[5], sid))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
