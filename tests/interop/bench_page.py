"""`loom bench --page` (issue 16) against `loom serve`, each started here on
free loopback ports:

- the scanner finds exactly what a browser would fetch: the demo page's 102
  resources, the generated real-site page's 80 (bench/pagegen.py says which,
  in document order), and a page of tricky markup (case, quotes, comments,
  character references, relative paths, rels that load nothing), all
  checked against Python's own HTML parser;
- every mode fetches every resource with the bodies on disk (sha256), the
  number of connections the mode says (counted by the server: its
  loom_connections_accepted_total), push taken over h2 and refused with
  --no-push, header octets after the first request falling to a few octets
  over h2 (HPACK) but not over HTTP/1.1;
- the emulated link's round-trip time shows in the page-load time;
- bad input is reported, not a crash: a page that is not HTML, a missing
  subresource, an unreachable second origin, a host that does not resolve,
  a server that never answers (--timeout)."""
import html.parser
import json
import os
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from serve_common import (Server, check, file_sha256, free_port, main,  # noqa: E402
                          make_tmp, run)
import pagegen  # noqa: E402


class Ref(html.parser.HTMLParser):
    """What a browser fetches, by Python's HTML parser (independent of loom's
    scanner): stylesheets, preloads and icons, scripts with src, images."""

    def __init__(self, base):
        super().__init__()
        self.base = base
        self.found = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        ref, kind = None, None
        if tag == "link":
            rel = a.get("rel", "").lower().split()
            if "stylesheet" in rel:
                ref, kind = a.get("href"), "style"
            elif {"preload", "modulepreload", "icon"} & set(rel):
                ref, kind = a.get("href"), "other"
        elif tag == "script":
            ref, kind = a.get("src"), "script"
        elif tag == "img":
            ref, kind = a.get("src"), "image"
        if ref:
            url = urllib.parse.urljoin(self.base, ref.strip())
            url = urllib.parse.urldefrag(url)[0]
            if url.startswith(("http://", "https://")) and url not in [u for u, _ in self.found]:
                self.found.append((url, kind))


def reference(base, page):
    p = Ref(base)
    p.feed(page)
    p.close()
    return p.found


def listed(loom, url, env=None):
    r = run([loom, "bench", "--page", url, "--list", "--no-relay"], timeout=60, env=env)
    check(r.returncode == 0, "--list %s exited %d: %s" % (url, r.returncode, r.stderr.decode()))
    out = []
    for line in r.stdout.decode().splitlines():
        kind, u = line.split(" ", 1)
        out.append((u, kind))
    return out


def bench(loom, url, args, want_rc=0, timeout=120):
    tmp = make_tmp("page")
    js = os.path.join(tmp, "out.json")
    cmd = [loom, "bench", "--page", url, "--json", js] + list(args)
    r = run(cmd, timeout=timeout)
    out = r.stdout.decode() + r.stderr.decode()
    check(r.returncode == want_rc, "%s exited %d (wanted %d):\n%s" %
          (" ".join(cmd), r.returncode, want_rc, out))
    with open(js) as f:
        return json.load(f), out


def accepted(s):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    body = urllib.request.urlopen(s.https + "/status/metrics", context=ctx, timeout=10).read()
    for line in body.decode().splitlines():
        if line.startswith("loom_connections_accepted_total"):
            return int(line.split()[1])
    raise AssertionError("no loom_connections_accepted_total in /status/metrics")


def check_bodies(res, root, origin, modes):
    for r in res:
        if not r["url"].startswith(origin):
            continue
        path = urllib.parse.urlsplit(r["url"]).path
        f = os.path.join(root, path.lstrip("/"))
        want = file_sha256(f)
        for m in modes:
            check(r["sha256"].get(m) == want,
                  "%s over %s: body sha256 %s, the file's %s" % (r["url"], m,
                                                                   r["sha256"].get(m), want))


TRICKY = """<!DOCTYPE html><HTML><HEAD>
<LINK REL="StyleSheet" HREF="/a.css">
<link rel='preload' as=font href='fonts/f.woff2' crossorigin>
<link rel=canonical href=/not-loaded.html>
<link rel="alternate icon" href="./sub/../ic.png">
<!-- <img src=/in-a-comment.png> <script src=/nor-this.js></script> -->
<script>var s = "<img src=/in-a-string.png>"; if (1 < 2) {}</script>
<script async src="js/app.js?v=1&amp;x=2#frag"></script>
</HEAD><body>
<a href=/page2.html>not loaded</a>
<img alt="x > y" src=/img/a.png>
<IMG SRC = "img/b.png" >
<img src="/img/a.png">
<img src="  /img/c%20d.png  ">
<img src=/img/sl&#47;ash.png>
</body></HTML>
"""


def test(argv):
    loom = argv[0]
    # the demo site: 100 images, a stylesheet and a script (both pushed)
    with Server(loom, workers=1, extra=["--status", "/status"]) as s:
        demo = os.path.join(s.cache, "loom", "demo-site")
        with open(os.path.join(demo, "index.html")) as f:
            page = f.read()
        ref = reference(s.https + "/", page)
        got = listed(loom, s.https + "/")
        check(len(ref) == 102, "Python's parser finds %d resources in the demo page" % len(ref))
        check(got == ref, "--list on the demo page:\n%s\nPython's parser:\n%s" % (got, ref))

        # each mode apart, counted on the server: cold loads open afresh
        counts = {}
        for mode, per_load in (("h2", 1), ("h1x6", 6), ("h1x1", 1)):
            before = accepted(s)
            j, out = bench(loom, s.https + "/", ["--modes", mode, "-n", "2"])
            after = accepted(s)
            m = j["modes"][mode]
            counts[mode] = after - before - 1  # the metrics request's own
            check(m["conns"] == per_load and m["tls_handshakes"] == per_load,
                  "%s: %s connections, %s handshakes per load (wanted %d)\n%s" %
                  (mode, m["conns"], m["tls_handshakes"], per_load, out))
            check(counts[mode] == 2 * per_load,
                  "%s: the server accepted %d connections for 2 loads (wanted %d)" %
                  (mode, counts[mode], 2 * per_load))
            check(m["failed"] == 0 and not m["errors"], "%s: failures %s" % (mode, m["errors"]))
            check(len(j["resources"]) == 102, "%s: %d resources" % (mode, len(j["resources"])))
            check_bodies(j["resources"], demo, s.https, [mode])
            if mode == "h2":
                # style.css and app.js pushed (the demo's push map), the rest asked for
                check(m["pushed"] == 2 and m["requests"] == 101,
                      "h2: %s pushed, %s requests" % (m["pushed"], m["requests"]))
                check(m["req_header_rest_avg"] < 40,
                      "h2: later requests' headers %s octets (HPACK should make them small)" %
                      m["req_header_rest_avg"])
            else:
                check(m["pushed"] == 0 and m["requests"] == 103,
                      "%s: %s pushed, %s requests" % (mode, m["pushed"], m["requests"]))
                check(m["req_header_rest_avg"] > 150,
                      "%s: later requests' headers %s octets (HTTP/1.1 text repeats them)" %
                      (mode, m["req_header_rest_avg"]))

        # push refused: every resource asked for; warm: one connection for 3 loads
        before = accepted(s)
        j, out = bench(loom, s.https + "/", ["--modes", "h2", "-n", "3", "--no-push", "--warm"])
        n = accepted(s) - before - 1
        check(n == 1, "h2 --warm -n 3: the server accepted %d connections (wanted 1)" % n)
        m = j["modes"]["h2"]
        check(m["pushed"] == 0 and m["requests"] == 103 and m["failed"] == 0,
              "--no-push: %s pushed, %s requests, %s failed" % (m["pushed"], m["requests"],
                                                                 m["failed"]))

        # over h2c and HTTP/1.1 in cleartext, all three modes in one run
        j, out = bench(loom, s.http + "/", ["-n", "1"])
        check(set(j["modes"]) == {"h2", "h1x6", "h1x1"}, "modes %s" % list(j["modes"]))
        check_bodies(j["resources"], demo, s.http, ["h2", "h1x6", "h1x1"])
        check("summary: h2_vs_h1x6=" in out and "h2_vs_h1x1=" in out, "no summary line:\n" + out)

    # ---- the generated site, tricky markup, errors ----
    site = make_tmp("page-site")
    paths, total = pagegen.generate(site)
    other = Server(loom, site=make_tmp("page-other"), workers=1)
    with open(os.path.join(other.site, "x.js"), "w") as f:
        f.write("// from another origin\n")
    with other:
        dead = free_port()
        with open(os.path.join(site, "tricky.html"), "w") as f:
            f.write(TRICKY)
        for p in ("a.css", "fonts/f.woff2", "ic.png", "js/app.js", "img/a.png",
                  "img/b.png", "img/c d.png", "img/sl/ash.png"):
            os.makedirs(os.path.dirname(os.path.join(site, p)), exist_ok=True)
            with open(os.path.join(site, p), "w") as f:
                f.write("content of %s\n" % p)
        with open(os.path.join(site, "small.html"), "w") as f:
            f.write("<html><link rel=stylesheet href=/a.css><img src=/img/a.png></html>\n")
        with open(os.path.join(site, "missing.html"), "w") as f:
            f.write("<html><img src=/img/a.png><img src=/img/missing.png></html>\n")
        with open(os.path.join(site, "origins.html"), "w") as f:
            f.write("<html><img src=/img/a.png><script src=%s/x.js></script>"
                    "<script src=http://127.0.0.1:%d/dead.js></script>"
                    "<img src=http://no-such-host.invalid/x.png></html>\n" % (other.http, dead))
        with open(os.path.join(site, "plain.txt"), "w") as f:
            f.write("<img src=/img/a.png> but this is text/plain\n")
        with Server(loom, site=site, workers=1) as s:
            # the real-site page: exactly the 80 resources pagegen wrote, in order
            got = listed(loom, s.https + "/")
            want = [s.https + p for p in paths]
            check([u for u, _ in got] == want,
                  "--list on the generated page:\n%s\npagegen:\n%s" % (got, want))
            with open(os.path.join(site, "index.html")) as f:
                ref = reference(s.https + "/", f.read())
            check(got == ref, "the generated page: loom's scanner and Python's parser differ")
            j, out = bench(loom, s.https + "/", ["-n", "1"])
            for mode in ("h2", "h1x6", "h1x1"):
                m = j["modes"][mode]
                check(m["failed"] == 0 and m["body_octets"] >= total,
                      "%s: %s failed, %s body octets (the resources alone are %d)" %
                      (mode, m["failed"], m["body_octets"], total))
            check_bodies(j["resources"], site, s.https, ["h2", "h1x6", "h1x1"])
            # --compressed: loom serve compresses the text (the page too,
            # which the scanner reads decoded): every resource found, fewer
            # octets on the wire
            jc, out = bench(loom, s.https + "/", ["-n", "1", "--modes", "h2,h1x1", "--compressed"])
            check(len(jc["resources"]) == len(paths), "--compressed: %d resources found (of %d)" %
                  (len(jc["resources"]), len(paths)))
            for mode in ("h2", "h1x1"):
                m, plain = jc["modes"][mode], j["modes"][mode]
                check(m["failed"] == 0 and m["requests"] == plain["requests"] and
                      m["body_octets"] < 0.9 * plain["body_octets"],
                      "--compressed over %s: %s requests, %s body octets (%s without)" %
                      (mode, m["requests"], m["body_octets"], plain["body_octets"]))

            # loom serve's first TLS records fit a TCP segment each: the
            # 30 KB page's first octets are decrypted 3 round trips after
            # the connect (TCP, TLS 1.3, the request), not 4 (a 16 KiB
            # record straddling the initial window of 10 segments waits a
            # round trip for its tail)
            j, out = bench(loom, s.https + "/", ["--modes", "h2", "-n", "1", "--rtt", "200"])
            ttfb = j["modes"]["h2"]["ttfb_ms"]["median"]
            check(600 <= ttfb < 700, "h2 at RTT 200 ms: the page's first byte after %.0f ms "
                  "(wanted 3 round trips)" % ttfb)

            # tricky markup, against Python's parser
            got = listed(loom, s.https + "/tricky.html")
            with open(os.path.join(site, "tricky.html")) as f:
                ref = reference(s.https + "/tricky.html", f.read())
            check(got == ref, "tricky.html: loom's scanner\n%s\nPython's parser\n%s" % (got, ref))
            check(len(ref) == 8, "tricky.html: Python's parser finds %d" % len(ref))

            # the link's delay shows: h1x1 over TLS at RTT 100 ms, a page and
            # two resources one after the other
            j, out = bench(loom, s.https + "/small.html",
                           ["--modes", "h1x1", "-n", "1", "--rtt", "100"])
            plt = j["modes"]["h1x1"]["plt_ms"]["median"]
            check(300 <= plt < 1500, "h1x1 at RTT 100 ms: a 3-request page took %.0f ms" % plt)
            j0, _ = bench(loom, s.https + "/small.html", ["--modes", "h1x1", "-n", "1"])
            check(j0["modes"]["h1x1"]["plt_ms"]["median"] < plt / 3,
                  "at RTT 0 the page took %.0f ms, at 100 ms %.0f" %
                  (j0["modes"]["h1x1"]["plt_ms"]["median"], plt))

            # bad input: a missing subresource
            j, out = bench(loom, s.https + "/missing.html", ["-n", "1"], want_rc=1)
            check("missing.png: 404" in out, "the 404 is not reported:\n" + out)
            for mode in ("h2", "h1x6", "h1x1"):
                check(j["modes"][mode]["failed"] == 1, "%s: %s failed" %
                      (mode, j["modes"][mode]["failed"]))
            check_bodies([r for r in j["resources"] if "missing" not in r["url"]], site,
                         s.https, ["h2"])
            # another origin served, one unreachable, one that does not resolve
            for relay in ([], ["--no-relay"]):
                j, out = bench(loom, s.https + "/origins.html", ["-n", "1"] + relay, want_rc=1)
                for mode in ("h2", "h1x6", "h1x1"):
                    m = j["modes"][mode]
                    check(m["failed"] == 2, "%s%s: %s failed (wanted the dead and the "
                          "unresolvable one)\n%s" % (mode, relay, m["failed"], out))
                check("/dead.js" in out and "no-such-host.invalid" in out and
                      "cannot resolve" in out, "the bad origins are not reported:\n" + out)
                xs = [r for r in j["resources"] if r["url"].endswith("/x.js")]
                check(len(xs) == 1 and not xs[0]["same_origin"] and
                      xs[0]["sha256"].get("h2") == file_sha256(os.path.join(other.site, "x.js")),
                      "the other origin's script: %s" % xs)
                if relay:
                    check("refused" in out.lower(), "--no-relay: no 'refused':\n" + out)
            # a page that is not HTML
            j, out = bench(loom, s.https + "/plain.txt", ["-n", "1"], want_rc=1)
            check("not an HTML page" in out and "text/plain" in out,
                  "a text page is not reported as such:\n" + out)
            check(len(j["resources"]) == 0, "a text page's 'links' were followed")
            # an origin that does not answer at all, and usage errors
            r = run([loom, "bench", "--page", "http://127.0.0.1:%d/" % dead, "-n", "1"],
                    timeout=60)
            # (through the relay, which accepts and then resets the client's
            # connection when its own is refused: a reset or a close)
            check(r.returncode == 1 and b"http://127.0.0.1:%d/: " % dead in r.stdout and
                  any(w in r.stdout for w in (b"refused", b"reset by peer", b"closed the conn")),
                  "an unreachable page: exit %d\n%s%s" % (r.returncode, r.stdout.decode(),
                                                         r.stderr.decode()))
            # a server that takes connections and never answers: each
            # load ends at --timeout, reported, and the run goes on
            mute = socket.socket()
            mute.bind(("127.0.0.1", 0))
            mute.listen(64)  # never accepted: connects complete in the backlog
            t0 = time.monotonic()
            r = run([loom, "bench", "--page", "http://127.0.0.1:%d/" % mute.getsockname()[1],
                     "-n", "2", "--timeout", "1", "--no-relay"], timeout=60)
            took = time.monotonic() - t0
            mute.close()
            check(r.returncode == 1 and b"not done when the load timed out (1 s)" in r.stdout and
                  took < 20, "a mute server: exit %d after %.1f s\n%s%s" %
                  (r.returncode, took, r.stdout.decode(), r.stderr.decode()))
            for bad, needle in ((["--rtt", "-5"], b"--rtt"), (["--modes", "h3"], b"h3"),
                                (["--loss", "60"], b"--loss"), (["--bogus"], b"--bogus")):
                r = run([loom, "bench", "--page", s.https + "/"] + bad, timeout=30)
                check(r.returncode == 2 and needle in r.stderr,
                      "%s: exit %d, %s" % (bad, r.returncode, r.stderr.decode()))
            r = run([loom, "bench", "--page", "ftp://x/"], timeout=30)
            check(r.returncode == 3, "ftp:// exit %d" % r.returncode)


if __name__ == "__main__":
    main(test)
