"""loom get -L (redirects) against three servers started here, nginx (Debian
nginx 1.22, `return 30x`), h2o (Debian h2o 2.2, its `redirect:` handler)
and `loom serve` (a folder without its trailing slash answers 301 to
`/dir/`), over TLS with ALPN h2 and in cleartext; and the HTTP/1.1 fallback
against HTTP/1.1-only servers (`python3 -m http.server`, an nginx TLS server
without http2). Every command is also run with curl, which is the reference:
loom get must print what curl prints.

A capture server of this test (a Python http.server in a thread) stands
behind nginx's and h2o's /cap (proxy_pass, proxy.reverse.url): it records
the method, body, Authorization and Cookie of each request that a redirect
led to, for loom get and for curl.

Asserts:
- 301, 302, 303, 307, 308 (nginx and h2o), a path-relative and an
  absolute-path Location (nginx), a folder's 301 (loom serve), redirects to
  another origin (nginx -> h2o, h2o -> nginx, HTTP/1.1 -> h2), a 3-hop chain
  and a 3-origin tour (nginx -> h2o -> loom serve): `-L` outputs only the
  final body (= the file) and exits 0; `-w '%{http_code} %{num_redirects}
  %{url_effective}'` is the final status, the number of redirects and the
  final URL; without -L the 3xx is the response (its own body, exit 0);
  stdout identical to curl's for the same command;
- `-i -L` shows every hop's head: the status lines are curl -i -L's
  (`HTTP/2 301` ... `HTTP/2 200`), then the final body;
- over TLS h2, cleartext h2c by prior knowledge (nginx, --h2c) and by
  Upgrade (h2o, loom serve), and HTTP/1.1 (python http.server, nginx TLS
  without h2);
- -d (POST): 301, 302, 303 are followed with a GET without a body, 307 and
  308 repeat the POST with its body (what the capture server received, and
  the same as curl); a path-relative Location (`../../cap?x=1`) is resolved
  with its dot segments removed (RFC 3986 5.2.4): the target is asked for
  /cap?x=1, as curl asks;
- --max-redirs 2 on a 3-hop chain (nginx, h2o, the 3-origin tour): exit 47
  and one line on stderr, as curl exits 47; --max-redirs 3 follows it; a
  loop: exit 47 with --max-redirs 5 and with the default 50;
- Authorization (-u or -H) and a -H Cookie are kept on a same-origin
  redirect and dropped on a redirect to another origin (as curl does);
- HTTP/1.1 fallback: python http.server (`-p HTTP/1.1`, and its default
  that answers in HTTP/1.0) and nginx TLS without http2: exit 0, body
  intact, %{http_version} and -i's status line as curl says them (1.1, or
  1.0); --http2-only exits 16 (one line); --h2c (prior knowledge) against
  python http.server (which answers the preface with a bare HTML 505
  page) and nginx's cleartext HTTP/1.1 listener exits 16 saying the server
  "answered in HTTP/1.1".

curl 7.88.1 fails a redirect on a reused h2c prior-knowledge connection
(curl issue #10634), so for nginx's h2c port curl is asked the same
locations on nginx's HTTP/1.1 cleartext port, and for loom serve's
cleartext port by Upgrade.

Every section runs even when another fails; the failures are listed at
the end (exit 1).

usage: get_redirects.py path/to/loom"""
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (Peer, TestFailure, Tmp, check, free_port, get, log, main,  # noqa: E402
                        make_cert, one_line_error)

CURL_TIMEOUT = 30
WFMT = "%{http_code} %{num_redirects} %{url_effective}\\n"
POST_DATA = "hello=world&n=42"

NGINX_LOCATIONS = """
    location = /r301 {{ return 301 /target.txt; }}
    location = /r302 {{ return 302 /target.txt; }}
    location = /r303 {{ return 303 /target.txt; }}
    location = /r307 {{ return 307 /target.txt; }}
    location = /r308 {{ return 308 /target.txt; }}
    location = /a/b/rel {{ return 302 ../../target.txt; }}
    location = /abspath {{ absolute_redirect off; return 302 /target.txt; }}
    location = /to-h2o {{ return 302 https://127.0.0.1:{ht}/target.txt; }}
    location = /to-h2 {{ return 301 https://127.0.0.1:{nt}/target.txt; }}
    location = /chain1 {{ return 302 /chain2; }}
    location = /chain2 {{ return 302 /chain3; }}
    location = /chain3 {{ return 302 /target.txt; }}
    location = /loop1 {{ return 302 /loop2; }}
    location = /loop2 {{ return 302 /loop1; }}
    location = /tour {{ return 302 https://127.0.0.1:{ht}/tour; }}
    location = /a/b/relcap {{ return 307 ../../cap?x=1; }}
    location = /m301 {{ return 301 /cap; }}
    location = /m302 {{ return 302 /cap; }}
    location = /m303 {{ return 303 /cap; }}
    location = /m307 {{ return 307 /cap; }}
    location = /m308 {{ return 308 /cap; }}
    location = /same {{ return 302 /cap; }}
    location = /cross {{ return 302 https://127.0.0.1:{ht}/cap; }}
    location = /cap {{ proxy_pass http://127.0.0.1:{cap}; }}
"""

NGINX_CONF = """user root;
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  include /etc/nginx/mime.types;
  access_log {tmp}/nginx-access.log;
  ssl_certificate {cert}; ssl_certificate_key {key};
  root {root};
  server {{
    listen 127.0.0.1:{nt} ssl http2;
    listen 127.0.0.1:{nc} http2;
{locations}
  }}
  server {{
    listen 127.0.0.1:{nh} ssl;
    listen 127.0.0.1:{n1};
{locations}
  }}
}}
"""

H2O_CONF = """user: root
pid-file: {tmp}/h2o.pid
error-log: {tmp}/h2o-error.log
access-log: {tmp}/h2o-access.log
listen:
  host: 127.0.0.1
  port: {ht}
  ssl:
    certificate-file: {cert}
    key-file: {key}
listen:
  host: 127.0.0.1
  port: {hc}
hosts:
  default:
    paths:
      /h301:
        redirect: {{status: 301, url: /target.txt}}
      /h302:
        redirect: {{status: 302, url: /target.txt}}
      /h303:
        redirect: {{status: 303, url: /target.txt}}
      /h307:
        redirect: {{status: 307, url: /target.txt}}
      /h308:
        redirect: {{status: 308, url: /target.txt}}
      /to-nginx:
        redirect: {{status: 302, url: "https://127.0.0.1:{nt}/target.txt"}}
      /hchain1:
        redirect: {{status: 301, url: /hchain2}}
      /hchain2:
        redirect: {{status: 302, url: /hchain3}}
      /hchain3:
        redirect: {{status: 307, url: /target.txt}}
      /tour:
        redirect: {{status: 307, url: "https://127.0.0.1:{lt}/sub"}}
      /hm302:
        redirect: {{status: 302, url: /cap}}
      /hm307:
        redirect: {{status: 307, url: /cap}}
      /cap:
        proxy.reverse.url: "http://127.0.0.1:{cap}/cap"
      /:
        file.dir: {root}
"""


# ---- the capture server (behind nginx's and h2o's /cap) ----

class Capture:
    """Records each request: method, path, body, Authorization, Cookie."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        cap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = b""
                    while True:
                        n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if n == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(n)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _any(self):
                body = self._body()
                rec = dict(method=self.command, path=self.path, body=body,
                           authorization=self.headers.get_all("Authorization"),
                           cookie=self.headers.get_all("Cookie"))
                with cap.lock:
                    cap.records.append(rec)
                reply = ("captured %s %d\n" % (self.command, len(body))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_HEAD = _any

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def take(self):
        with self.lock:
            out, self.records = self.records, []
        return out


# ---- running curl ----

class CurlResult:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def describe(self):
        return "curl %s\nexit %d\nstderr:\n%s" % (" ".join(self.args), self.rc, self.err[-2000:])


def curl(*args):
    cmd = ["curl", "-sS", "-k", "--max-time", "20"] + list(args)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CURL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise TestFailure("curl did not finish within %ss: %s" % (CURL_TIMEOUT, " ".join(cmd)))
    return CurlResult(list(args), p.returncode, p.stdout, p.stderr.decode(errors="replace"))


def status_lines(out):
    """The status lines of a -i output as 'VERSION CODE' (no reason
    phrase), the 101 of an Upgrade left out."""
    lines = []
    for l in out.split(b"\n"):
        m = re.match(rb"^(HTTP/[0-9.]+) ([0-9]{3})\b", l)
        if m and not (m.group(1) == b"HTTP/1.1" and m.group(2) == b"101"):
            lines.append((m.group(1) + b" " + m.group(2)).decode())
    return lines


def wline(code, n, url):
    return ("%d %d %s\n" % (code, n, url)).encode()


# ---- the checks ----

class Proto:
    """How to reach a server: loom get's flags, curl's flags, the HTTP
    version a -i status line names. ref=(base, curl_base): curl asks
    curl_base instead of base (the same server configuration on another
    listener) and its output is read with base put back; for h2c by prior
    knowledge, where curl 7.88.1 fails a request on a reused connection
    ("Error in the HTTP2 framing layer", curl issue #10634, fixed in 8.0)."""

    def __init__(self, name, loom, curl, version, ref=None):
        self.name, self.loom, self.curl, self.version, self.ref = name, loom, curl, version, ref

    def on(self, base, curl_base, curl_flags):
        return Proto(self.name, self.loom, curl_flags, self.version, (base, curl_base))


TLS = Proto("tls h2", ["-k"], ["--http2"], "HTTP/2")
H2C = Proto("h2c prior knowledge", ["-k", "--h2c"], ["--http2-prior-knowledge"], "HTTP/2")
UPG = Proto("h2c upgrade", ["-k"], ["--http2"], "HTTP/2")
H1 = Proto("http/1.1", ["-k"], [], "HTTP/1.1")
H1TLS = Proto("tls http/1.1", ["-k"], [], "HTTP/1.1")


def rcurl(proto, url, *args):
    """curl ARGS URL as proto says (see Proto.ref)."""
    if not proto.ref:
        return curl(*proto.curl, *args, url)
    base, cbase = proto.ref
    check(url.startswith(base), "%s is not on %s" % (url, base))
    c = curl(*proto.curl, *args, cbase + url[len(base):])
    c.out = c.out.replace(cbase.encode(), base.encode())
    return c


def same_status_lines(proto, a, b):
    """Status lines alike: all of them, or only the codes when curl asked
    another listener (proto.ref)."""
    if proto.ref:
        return [x.split()[1] for x in a] == [x.split()[1] for x in b]
    return a == b


def check_redirect(loom, proto, url, final_url, final_body, statuses, versions=None):
    """One redirect (or chain) followed with -L: the final body only, -w,
    the 3xx without -L, -i -L's status lines; each compared with curl's.
    statuses: the status of each response (the 3xx ones, then the final)."""
    what = "%s %s" % (proto.name, url)
    nred = len(statuses) - 1
    versions = versions or [proto.version] * len(statuses)

    # -L: only the final body, and -w after it
    r = get(loom, *proto.loom, "-L", url, expect=None)
    check(r.rc == 0 and r.out == final_body,
          "%s: -L: exit %d, stdout %r (wanted exit 0 and the %d octets of the final body "
          "%r)\n%s" % (what, r.rc, r.out[:300], len(final_body), final_body[:60], r.describe()))
    c = rcurl(proto, url, "-L")
    check(c.rc == 0 and c.out == r.out, "%s: -L: curl printed %r (exit %d), loom get %r\n%s" %
          (what, c.out[:300], c.rc, r.out[:300], c.describe()))

    want = final_body + wline(statuses[-1], nred, final_url)
    r = get(loom, *proto.loom, "-L", "-w", WFMT, url, expect=None)
    check(r.rc == 0 and r.out == want,
          "%s: -L -w: exit %d, stdout ends with %r (wanted %r)\n%s" %
          (what, r.rc, r.out[-200:], want[-200:], r.describe()))
    c = rcurl(proto, url, "-L", "-w", WFMT)
    check(c.out == r.out, "%s: -L -w: curl printed ...%r, loom get ...%r" %
          (what, c.out[-200:], r.out[-200:]))

    # without -L: the 3xx is the response
    r = get(loom, *proto.loom, "-w", WFMT, url, expect=None)
    c = rcurl(proto, url, "-w", WFMT)
    want_w = wline(statuses[0], 0, url)
    check(r.rc == 0 and r.out.endswith(want_w),
          "%s: without -L: exit %d, stdout %r (wanted the %d response, then %r)\n%s" %
          (what, r.rc, r.out[-300:], statuses[0], want_w, r.describe()))
    check(c.rc == 0 and c.out == r.out,
          "%s: without -L: curl printed %r, loom get %r" % (what, c.out[-300:], r.out[-300:]))
    check(r.out[:-len(want_w)] != final_body,
          "%s: without -L: the final body was printed, not the %d's" % (what, statuses[0]))

    # -i -L: every hop's head, then the final body
    r = get(loom, *proto.loom, "-i", "-L", url, expect=None)
    c = rcurl(proto, url, "-i", "-L")
    want_sl = ["%s %d" % (v, s) for v, s in zip(versions, statuses)]
    got_sl = status_lines(r.out)
    check(r.rc == 0 and got_sl == want_sl,
          "%s: -i -L: exit %d, status lines %s (wanted %s)\n%s" %
          (what, r.rc, got_sl, want_sl, r.describe()))
    check(r.out.endswith(b"\r\n\r\n" + final_body) or r.out.endswith(b"\n\n" + final_body),
          "%s: -i -L: the output does not end with the head's blank line then the final body: "
          "...%r" % (what, r.out[-150:]))
    check(same_status_lines(proto, status_lines(c.out), got_sl),
          "%s: -i -L: curl's status lines %s, loom get's %s" %
          (what, status_lines(c.out), got_sl))


def check_max_redirs(loom, proto, url, hops, final_body):
    """A chain of `hops` redirects: --max-redirs hops-1 exits 47 with one
    line (as curl exits 47); --max-redirs hops follows it."""
    what = "%s %s" % (proto.name, url)
    r = get(loom, *proto.loom, "-L", "--max-redirs", str(hops - 1), url, expect=None)
    one_line_error(r, 47, r"redirect")
    c = rcurl(proto, url, "-L", "--max-redirs", str(hops - 1))
    check(c.rc == 47, "%s: curl --max-redirs %d exits %d" % (what, hops - 1, c.rc))
    check(r.out == c.out, "%s: --max-redirs %d: loom get printed %r, curl %r" %
          (what, hops - 1, r.out[:200], c.out[:200]))
    r = get(loom, *proto.loom, "-L", "--max-redirs", str(hops), "-w", WFMT, url, expect=None)
    check(r.rc == 0 and r.out.startswith(final_body),
          "%s: --max-redirs %d (= the hops): exit %d, stdout %r\n%s" %
          (what, hops, r.rc, r.out[:200], r.describe()))
    check(r.out.split(b"\n")[-2].split()[:2] == [b"200", str(hops).encode()],
          "%s: --max-redirs %d: -w %r" % (what, hops, r.out[-200:]))


def one_line_error_v(r, code, pattern):
    """one_line_error() for a -v run: the frame trace left out."""
    lines = [l for l in r.err.splitlines() if l.startswith("loom get: ")]
    check(r.rc == code, "exit status %d, wanted %d\n%s" % (r.rc, code, r.describe()))
    check(len(lines) == 1 and re.search(pattern, lines[0]),
          "wanted one 'loom get: ...' line matching %r, got %s" % (pattern, lines))


def capture_one(cap, what, run):
    """Runs run() (loom get or curl); the capture server saw exactly one
    request: returns it."""
    cap.take()
    res = run()
    recs = cap.take()
    check(len(recs) == 1, "%s: the capture server saw %d requests, wanted 1: %s (exit %d)" %
          (what, len(recs), recs, res.rc))
    return res, recs[0]


def check_methods(loom, cap, proto, base, paths, target="/cap"):
    """-d POST_DATA -L: 301/302/303 -> GET without a body, 307/308 -> POST
    with the body; what the capture server received (method, body, the
    path: target), the same for curl."""
    for code, path in paths:
        url = base + path
        what = "%s -d -L %s (%d)" % (proto.name, url, code)
        post = code in (307, 308)
        r, got = capture_one(cap, what, lambda: get(loom, *proto.loom, "-L", "-d", POST_DATA,
                                                    url, expect=None))
        c, cgot = capture_one(cap, what + " [curl]", lambda: rcurl(proto, url, "-L", "-d",
                                                                  POST_DATA))
        check(r.rc == 0 and c.rc == 0, "%s: exit %d (curl %d)\n%s" % (what, r.rc, c.rc,
                                                                       r.describe()))
        want = ("POST", POST_DATA.encode()) if post else ("GET", b"")
        check((got["method"], got["body"]) == want,
              "%s: the target received %s with body %r, wanted %s with %r" %
              (what, got["method"], got["body"], want[0], want[1]))
        check((cgot["method"], cgot["body"]) == (got["method"], got["body"]),
              "%s: curl sent %s %r, loom get %s %r" %
              (what, cgot["method"], cgot["body"], got["method"], got["body"]))
        check(got["path"] == cgot["path"] == target,
              "%s: the target was asked for %r (curl: %r), wanted %r" %
              (what, got["path"], cgot["path"], target))
        check(r.out == c.out, "%s: loom get printed %r, curl %r" % (what, r.out, c.out))


def check_credentials(loom, cap, proto, same_url, cross_url):
    """Authorization (-u, -H) and -H Cookie: kept on a same-origin
    redirect, dropped on a cross-origin one; as curl does."""
    basic = "Basic dXNlcjpwdw=="  # user:pw
    variants = [
        ("-u user:pw, -H Cookie", ["-u", "user:pw", "-H", "Cookie: c=1"], [basic], ["c=1"]),
        ("-H Authorization, -H Cookie", ["-H", "Authorization: Bearer tok", "-H",
                                         "Cookie: c=2; d=3"], ["Bearer tok"], ["c=2; d=3"]),
    ]
    for label, extra, auth, cookie in variants:
        for url, same in ((same_url, True), (cross_url, False)):
            what = "%s -L %s %s (%s)" % (proto.name, label, url,
                                         "same origin" if same else "another origin")
            r, got = capture_one(cap, what, lambda: get(loom, *proto.loom, "-L", *extra, url,
                                                        expect=None))
            c, cgot = capture_one(cap, what + " [curl]", lambda: rcurl(proto, url, "-L",
                                                                      *extra))
            check(r.rc == 0, "%s: exit %d\n%s" % (what, r.rc, r.describe()))
            seen = (got["authorization"], got["cookie"])
            want = (auth, cookie) if same else (None, None)
            check(seen == want, "%s: the target received Authorization %s, Cookie %s; "
                  "wanted %s, %s" % (what, seen[0], seen[1], want[0], want[1]))
            check((cgot["authorization"], cgot["cookie"]) == seen,
                  "%s: curl sent Authorization %s, Cookie %s; loom get %s, %s" %
                  (what, cgot["authorization"], cgot["cookie"], seen[0], seen[1]))


def curl_version(v):
    """curl 7.88 writes %{http_version} 1.0 as "1"."""
    return "1.0" if v == "1" else v


def check_h1_fallback(loom, what, proto, url, body, h1version):
    """An HTTP/1.x-only server: exit 0, the body, %{http_version} and -i's
    status line as curl says them; --http2-only exits 16 with one line."""
    fmt = "%{http_code} %{http_version}"
    c = rcurl(proto, url, "-w", fmt)
    check(c.rc == 0 and c.out[:len(body)] == body and
          curl_version(c.out[len(body):].decode().split()[-1]) == h1version,
          "%s: curl: exit %d, %r (the test's premise)" % (what, c.rc, c.out[-100:]))
    r = get(loom, *proto.loom, "-w", fmt, url, expect=None)
    check(r.rc == 0 and r.out[:len(body)] == body,
          "%s: exit %d, stdout %r, wanted the body (%d octets)\n%s" %
          (what, r.rc, r.out[:100], len(body), r.describe()))
    problems = []
    want = body + ("200 %s" % h1version).encode()
    if r.out != want:
        problems.append("-w '%s' printed %r after the body, wanted %r (curl: %r)" %
                        (fmt, r.out[len(body):], want[len(body):], c.out[len(body):]))
    r = get(loom, *proto.loom, "-i", url, expect=None)
    c = rcurl(proto, url, "-i")
    if not (r.rc == 0 and r.out.endswith(body) and
            status_lines(r.out) == status_lines(c.out) == ["HTTP/%s 200" % h1version]):
        problems.append("-i: exit %d, status lines %s (curl: %s), wanted ['HTTP/%s 200']" %
                        (r.rc, status_lines(r.out), status_lines(c.out), h1version))
    check(not problems, "%s: %s" % (what, "; ".join(problems)))
    r = get(loom, *proto.loom, "--http2-only", url, expect=None)
    one_line_error(r, 16, r"h2|HTTP/2|upgrade")
    check(r.out == b"", "%s: --http2-only printed %r" % (what, r.out[:100]))


# ---- the test ----

def run(loom, argv):
    tmp = Tmp("redirects")
    target = b"the target of the redirects " + os.urandom(8).hex().encode() + b"\n"
    index = b"<!doctype html><p>the folder's index</p>\n"
    tmp.write("www/target.txt", target)
    tmp.write("www/sub/index.html", index)
    root = tmp.join("www")
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    nt, nc, nh, n1, ht, hc, lt, lc, p10, p11 = (free_port() for _ in range(10))
    cap = Capture().start()
    locs = NGINX_LOCATIONS.format(ht=ht, nt=nt, cap=cap.port)
    nconf = tmp.write("nginx.conf", NGINX_CONF.format(tmp=tmp.path, cert=cert, key=key,
                                                       root=root, nt=nt, nc=nc, nh=nh, n1=n1,
                                                       locations=locs))
    hconf = tmp.write("h2o.conf", H2O_CONF.format(tmp=tmp.path, cert=cert, key=key, root=root,
                                                  ht=ht, hc=hc, nt=nt, lt=lt, cap=cap.port))
    env = dict(os.environ, XDG_CACHE_HOME=tmp.join("cache"))
    peers = [
        Peer("nginx", ["nginx", "-p", tmp.path, "-c", nconf, "-e", tmp.join("nginx-error.log")],
             ports=[nt, nc, nh, n1], out=tmp.join("nginx.out")),
        Peer("h2o", ["h2o", "-c", hconf], ports=[ht, hc], out=tmp.join("h2o.out")),
        Peer("loom-serve", [loom, "serve", root, "--https", "127.0.0.1:%d" % lt, "--http",
                            "127.0.0.1:%d" % lc, "--workers", "1", "--cert", cert, "--key",
                            key], ports=[lt, lc], env=env, out=tmp.join("serve.out")),
        Peer("http.server-1.0", ["/usr/bin/python3", "-m", "http.server", "-b", "127.0.0.1",
                                 "-d", root, str(p10)], ports=[p10], out=tmp.join("p10.out")),
        Peer("http.server-1.1", ["/usr/bin/python3", "-m", "http.server", "-b", "127.0.0.1",
                                 "-d", root, "-p", "HTTP/1.1", str(p11)], ports=[p11],
             out=tmp.join("p11.out")),
    ]
    failures = []

    def section(name, fn, *a):
        try:
            fn(*a)
            log("ok: " + name)
        except TestFailure as e:
            failures.append("%s: %s" % (name, e))
            log("FAILED: %s: %s" % (name, str(e).splitlines()[0]))

    started = []
    try:
        for p in peers:
            started.append(p.start())
        N, NC = "https://127.0.0.1:%d" % nt, "http://127.0.0.1:%d" % nc
        NH, N1 = "https://127.0.0.1:%d" % nh, "http://127.0.0.1:%d" % n1
        H, HC = "https://127.0.0.1:%d" % ht, "http://127.0.0.1:%d" % hc
        L, LC = "https://127.0.0.1:%d" % lt, "http://127.0.0.1:%d" % lc
        P10, P11 = "http://127.0.0.1:%d" % p10, "http://127.0.0.1:%d" % p11

        # nginx
        def nginx_codes():
            for code in (301, 302, 303, 307, 308):
                check_redirect(loom, TLS, N + "/r%d" % code, N + "/target.txt", target,
                               [code, 200])
        section("nginx tls: 301 302 303 307 308 followed, like curl", nginx_codes)
        section("nginx tls: a path-relative Location (../../target.txt)", check_redirect, loom,
                TLS, N + "/a/b/rel", N + "/target.txt", target, [302, 200])
        section("nginx tls: an absolute-path Location (/target.txt)", check_redirect, loom, TLS,
                N + "/abspath", N + "/target.txt", target, [302, 200])
        section("nginx tls: to another origin (h2o)", check_redirect, loom, TLS, N + "/to-h2o",
                H + "/target.txt", target, [302, 200])
        section("nginx tls: a 3-hop chain", check_redirect, loom, TLS, N + "/chain1",
                N + "/target.txt", target, [302, 302, 302, 200])
        # curl's reference for nginx's h2c port: the same locations on its
        # HTTP/1.1 cleartext port (see Proto.ref)
        NH2C = H2C.on(NC, N1, [])
        section("nginx h2c (prior knowledge): 301, 307 and a relative Location", lambda: [
            check_redirect(loom, NH2C, NC + p, NC + "/target.txt", target, [s, 200])
            for p, s in (("/r301", 301), ("/r307", 307), ("/a/b/rel", 302))])
        section("nginx tls without h2: 301, and HTTP/1.1 -> h2 on another origin",
                lambda: [check_redirect(loom, H1TLS, NH + "/r301", NH + "/target.txt", target,
                                        [301, 200]),
                         check_redirect(loom, H1TLS, NH + "/to-h2", N + "/target.txt", target,
                                        [301, 200], ["HTTP/1.1", "HTTP/2"])])
        section("nginx cleartext HTTP/1.1 (Upgrade ignored): 302", check_redirect, loom, H1,
                N1 + "/r302", N1 + "/target.txt", target, [302, 200])

        # h2o
        def h2o_codes():
            for code in (301, 302, 303, 307, 308):
                check_redirect(loom, TLS, H + "/h%d" % code, H + "/target.txt", target,
                               [code, 200])
        section("h2o tls: redirect: handler 301 302 303 307 308", h2o_codes)
        section("h2o tls: to another origin (nginx)", check_redirect, loom, TLS, H + "/to-nginx",
                N + "/target.txt", target, [302, 200])
        section("h2o tls: a 3-hop chain (301, 302, 307)", check_redirect, loom, TLS,
                H + "/hchain1", H + "/target.txt", target, [301, 302, 307, 200])
        section("h2o h2c (Upgrade): 302 and 308", lambda: [
            check_redirect(loom, UPG, HC + "/h%d" % s, HC + "/target.txt", target, [s, 200])
            for s in (302, 308)])

        # loom serve
        section("loom serve tls: a folder's 301 to /sub/", check_redirect, loom, TLS, L + "/sub",
                L + "/sub/", index, [301, 200])
        section("loom serve h2c (Upgrade): a folder's 301", check_redirect, loom, UPG,
                LC + "/sub", LC + "/sub/", index, [301, 200])
        # loom serve's cleartext port takes both: curl asks by Upgrade
        section("loom serve h2c (prior knowledge): a folder's 301", check_redirect, loom,
                H2C.on(LC, LC, ["--http2"]),
                LC + "/sub", LC + "/sub/", index, [301, 200])

        # three origins
        section("a tour: nginx 302 -> h2o 307 -> loom serve 301 -> 200", check_redirect, loom,
                TLS, N + "/tour", L + "/sub/", index, [302, 307, 301, 200])

        # --max-redirs
        section("--max-redirs on nginx's 3-hop chain", check_max_redirs, loom, TLS,
                N + "/chain1", 3, target)
        section("--max-redirs on h2o's 3-hop chain (h2c Upgrade)", check_max_redirs, loom, UPG,
                HC + "/hchain1", 3, target)
        section("--max-redirs on the 3-origin tour", check_max_redirs, loom, TLS, N + "/tour",
                3, index)

        def loops():
            for extra, n in ((["--max-redirs", "5"], 5), ([], 50)):
                r = get(loom, "-k", "-L", *extra, N + "/loop1", expect=None)
                one_line_error(r, 47, r"redirect")
                r = get(loom, "-k", "-v", "-L", *extra, N + "/loop1", expect=None)
                one_line_error_v(r, 47, r"redirect")
                c = curl("-L", *extra, N + "/loop1")
                check(c.rc == 47, "curl on the loop %s exits %d" % (extra, c.rc))
                asked = r.count("send", "HEADERS")
                check(asked == n + 1, "the loop %s: loom get sent %d requests, wanted %d (the "
                      "first and %d redirects followed)" % (extra, asked, n + 1, n))
        section("a redirect loop: exit 47 (--max-redirs 5 and the default)", loops)

        # method rules
        mpaths = [(c, "/m%d" % c) for c in (301, 302, 303, 307, 308)]
        section("nginx tls: -d -L: 301/302/303 as GET, 307/308 as POST", check_methods, loom,
                cap, TLS, N, mpaths)
        section("nginx tls: -d -L: a 307 to a path-relative Location (../../cap?x=1)",
                check_methods, loom, cap, TLS, N, [(307, "/a/b/relcap")], "/cap?x=1")
        section("nginx h2c: -d -L: 303 as GET, 307 as POST", check_methods, loom, cap, NH2C, NC,
                [(303, "/m303"), (307, "/m307")])
        section("h2o tls: -d -L: 302 as GET, 307 as POST", check_methods, loom, cap, TLS, H,
                [(302, "/hm302"), (307, "/hm307")])
        section("nginx http/1.1: -d -L: 301 as GET, 308 as POST", check_methods, loom, cap, H1TLS,
                NH, [(301, "/m301"), (308, "/m308")])

        # credentials
        section("tls: Authorization and Cookie kept on the same origin, dropped on another",
                check_credentials, loom, cap, TLS, N + "/same", N + "/cross")
        section("h2c: Authorization and Cookie kept on the same origin, dropped on another",
                check_credentials, loom, cap, NH2C, NC + "/same", NC + "/cross")

        # HTTP/1.1 fallback
        section("python http.server -p HTTP/1.1: HTTP/1.1 fallback", check_h1_fallback, loom,
                "python http.server HTTP/1.1", H1, P11 + "/target.txt", target, "1.1")
        section("python http.server -p HTTP/1.1: a folder's 301 over HTTP/1.1", check_redirect,
                loom, H1, P11 + "/sub", P11 + "/sub/", index, [301, 200])
        section("nginx tls without h2: HTTP/1.1 fallback", check_h1_fallback, loom,
                "nginx tls without h2", H1TLS, NH + "/target.txt", target, "1.1")
        section("python http.server (HTTP/1.0): HTTP/1.0 fallback", check_h1_fallback, loom,
                "python http.server HTTP/1.0", H1, P10 + "/target.txt", target, "1.0")

        def h2c_refused():
            bad = []
            for url in (P10 + "/target.txt", P11 + "/target.txt", N1 + "/target.txt"):
                r = get(loom, "--h2c", url, expect=None)
                try:
                    one_line_error(r, 16, r"answered in HTTP/1\.1")
                except TestFailure as e:
                    bad.append("%s: %s" % (url, e))
            check(not bad, "\n".join(bad))
        section("--h2c to HTTP/1.x servers (python http.server, nginx): exit 16, "
                "'answered in HTTP/1.1'", h2c_refused)
    finally:
        for p in reversed(started):
            p.stop()
        cap.stop()
    if failures:
        raise TestFailure("%d section(s) failed:\n\n%s" % (len(failures), "\n\n".join(failures)))


if __name__ == "__main__":
    main(run)
