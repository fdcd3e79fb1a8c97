#!/usr/bin/python3
"""loom serve --proxy against independent peers, beyond serve_proxy.py
(gunicorn, hypercorn h2c, grpcio): other backends, other clients in front,
an HTTP/2 backend's limits and GOAWAY, backends that close their keep-alive
connections under load, and pooled connections shared by clients in turn.

1. Backends: Node.js `http` (HTTP/1.1), Node.js `http2.createServer` (h2c),
   hypercorn over TLS (https://, h2 by ALPN, verified with --proxy-cacert
   against a certificate for 127.0.0.1 made here with openssl) and nginx
   (HTTP/1.1: a static file, WebDAV PUT). For each, with h2 (TLS) and with
   HTTP/1.1 (cleartext) in front: a GET of a known body (sha256); a 5 MiB
   POST echoed back (nginx: a 5 MiB PUT stored by nginx, then read back);
   the backend's own response field arrives, its hop-by-hop ones
   (Connection and what it names, Keep-Alive, Proxy-Connection, Upgrade,
   Transfer-Encoding) do not, Via is added. nginx over TLS with a
   certificate --proxy-cacert does not vouch for: 502, and the error log
   names the backend and the certificate.
2. Clients in front of the Node.js HTTP/1.1 backend: nghttp -nv (frames,
   DATA octets, a 5 MiB POST), h2load -n 2000 -c 4 -m 16, Node.js
   http2.connect (40 GETs and two 5 MiB POSTs at once), Python h2 (50
   concurrent streams on one connection), headless Chromium (a page whose
   fetch() calls go through the proxy and write their results into the
   DOM); nghttp with paths of 100 to 2,000 octets.
3. h2c backend limits: Node.js with maxConcurrentStreams 4 and 100
   concurrent requests on one client connection; Node.js backends that shut
   their sessions down with GOAWAY every 100 requests (session.close(), and
   session.goaway() with a last-stream-id) under h2load with 64 streams in
   flight: no request fails, each is answered once.
4. Faults under load (--workers 1): HTTP/1.1 backends that drop keep-alive
   connections (a Python server closing after 1-3 requests without saying
   so; Node.js with maxRequestsPerSocket 2, saying so) under h2load -n 2000:
   every request answered; 1,000 streams on one client connection to an
   HTTP/1.1 backend with --proxy-max-conns 32: all answered, the backend
   never sees more than 32 connections at once (its own accounting on
   another port, and `ss -tn`), every 4th a POST, each answer its own
   request's.
5. Clients in turn (a GET, a POST, a GET, from three connections, over h2
   and HTTP/1.1) on loom's one connection to a Node.js backend (--workers 1
   --proxy-max-conns 1): each request reaches the backend as sent.

Independent groups of checks go on after one fails; the test fails at the
end, naming them, with loom serve's error log (--log-level info).

Usage: serve_proxy_peers.py LOOM (LOOM_KEEP_TMP=1 keeps the folder with the
logs). Every process started here is stopped by PID."""
import hashlib
import html
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MIB = 1 << 20
BLOCK = hashlib.sha256(b"loom").digest() * 32768  # proxy_app.py's pattern, 1 MiB


def pattern(n):
    return (BLOCK * (n // len(BLOCK) + 1))[:n]


def pattern_sha256(n):
    import proxy_app
    return proxy_app.pattern_sha256(n)


# ---------------------------------------------------------------------------
# hypercorn's application (this module is imported by hypercorn as
# serve_proxy_peers:asgi): /hc/file?n=N the pattern, /hc/echo the body back
# as it comes; x-backend and x-backend-proto (the HTTP version it was
# spoken to in) on each response.

def _qs_int(scope, name, default):
    for part in scope.get("query_string", b"").decode().split("&"):
        k, _, v = part.partition("=")
        if k == name:
            return int(v)
    return default


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    hs = [(b"x-backend", b"hypercorn-tls"),
          (b"x-backend-proto", scope["http_version"].encode())]
    if path.endswith("/file"):
        n = _qs_int(scope, "n", 1024)
        await send({"type": "http.response.start", "status": 200,
                    "headers": hs + [(b"content-length", b"%d" % n),
                                     (b"content-type", b"application/octet-stream")]})
        while n:
            k = min(n, 64 * 1024)
            await send({"type": "http.response.body", "body": BLOCK[:k], "more_body": True})
            n -= k
        await send({"type": "http.response.body", "body": b""})
        return
    if path.endswith("/echo"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": hs + [(b"content-type", b"application/octet-stream")]})
        while True:
            m = await receive()
            if m["type"] != "http.request":
                return
            if m.get("body"):
                await send({"type": "http.response.body", "body": m["body"], "more_body": True})
            if not m.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 404,
                "headers": hs + [(b"content-length", b"10")]})
    await send({"type": "http.response.body", "body": b"not found\n"})


# ---------------------------------------------------------------------------
# Node.js backends: `node backend.js h1|h2c PORT ADMIN-PORT NAME OPTIONS-JSON`
#   .../file?n=N   the pattern (Content-Length)     .../echo   the body back
#   .../slow?ms=M  "slow URL" after M ms
# and its accounting as JSON on http://127.0.0.1:ADMIN-PORT/ (another port,
# so that asking does not count as a connection or a request)
# OPTIONS: hop (HTTP/1.1: send hop-by-hop fields), maxRequestsPerSocket,
# maxConcurrentStreams, closeAfter N (session.close() after N requests on a
# session), goawayAfter N (session.goaway(NO_ERROR, the highest stream id
# handled) after N; then session.close() 50 ms later).

NODE_BACKEND = r"""
'use strict';
const http = require('http'), http2 = require('http2'), crypto = require('crypto');
const [kind, port, adminPort, name, optsJson] = process.argv.slice(2);
const opts = JSON.parse(optsJson || '{}');
const BLOCK = Buffer.concat(
    Array(32768).fill(crypto.createHash('sha256').update('loom').digest()));
const st = {requests: 0, answered: 0, open: 0, maxOpen: 0, conns: 0, sessions: 0,
            maxPerSession: 0, inflight: 0, maxInflight: 0, goaways: 0, late: 0};

function sendPattern(res, n) {
  let off = 0;
  (function pump() {
    while (off < n) {
      const k = Math.min(n - off, BLOCK.length);
      const ok = res.write(BLOCK.subarray(0, k));
      off += k;
      if (!ok) { res.once('drain', pump); return; }
    }
    res.end();
  })();
}

function handle(req, res) {
  const u = new URL(req.url, 'http://x');
  const p = u.pathname;
  st.requests++;
  st.inflight++;
  st.maxInflight = Math.max(st.maxInflight, st.inflight);
  const sess = req.stream ? req.stream.session : null;
  // Node.js still runs the handlers of streams above the last-stream-id of
  // a GOAWAY it sent (and drops their answers): not counted as answered
  let late = false;
  if (sess) {
    sess.maxId = Math.max(sess.maxId, req.stream.id);
    if (sess.goawayLast !== undefined && req.stream.id > sess.goawayLast) {
      late = true;
      st.late++;
    }
    sess.inflight++;
    sess.reqs++;
    st.maxPerSession = Math.max(st.maxPerSession, sess.inflight);
    if (opts.closeAfter && sess.reqs === opts.closeAfter) {
      st.goaways++;
      sess.close();
    }
    if (opts.goawayAfter && sess.reqs === opts.goawayAfter) {
      st.goaways++;
      // once the frames read with this one have reached their handlers,
      // with the highest stream id handled as the last-stream-id
      setImmediate(() => {
        if (sess.closed || sess.destroyed) return;
        sess.goawayLast = sess.maxId;
        sess.goaway(http2.constants.NGHTTP2_NO_ERROR, sess.maxId);
        setTimeout(() => { if (!sess.closed && !sess.destroyed) sess.close(); }, 50);
      });
    }
  }
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    st.inflight--;
    if (sess) sess.inflight--;
  };
  res.on('finish', () => { if (!late) st.answered++; finish(); });
  res.on('close', finish);
  res.setHeader('x-backend', name);
  res.setHeader('x-url', req.url);
  res.setHeader('x-backend-proto', req.httpVersion);
  if (kind === 'h1' && opts.hop) {
    // what a real HTTP/1.1 server may send (Apache advertises h2c so):
    // none of it may reach the client
    res.setHeader('Connection', 'keep-alive, Upgrade, X-Hop-Secret');
    res.setHeader('Keep-Alive', 'timeout=30, max=1000');
    res.setHeader('Proxy-Connection', 'keep-alive');
    res.setHeader('Upgrade', 'h2c');
    res.setHeader('X-Hop-Secret', 'must-not-pass');
  }
  if (p.endsWith('/file')) {
    const n = +(u.searchParams.get('n') || 1024);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', n);
    sendPattern(res, n);
  } else if (p.endsWith('/echo')) {
    res.setHeader('content-type', 'application/octet-stream');
    req.pipe(res);  // no Content-Length: chunked over HTTP/1.1
  } else if (p.endsWith('/slow')) {
    const ms = +(u.searchParams.get('ms') || 100);
    req.resume();
    setTimeout(() => { res.end('slow ' + req.url + '\n'); }, ms);
  } else {
    res.statusCode = 404;
    res.end('not found\n');
  }
}

let server;
if (kind === 'h1') {
  server = http.createServer(handle);
  server.keepAliveTimeout = 60000;
  if (opts.maxRequestsPerSocket) server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
  server.headersTimeout = 65000;
  server.requestTimeout = 0;
  server.on('connection', (s) => {
    st.conns++;
    st.open++;
    st.maxOpen = Math.max(st.maxOpen, st.open);
    s.on('close', () => { st.open--; });
  });
} else {
  const settings = {};
  if (opts.maxConcurrentStreams) settings.maxConcurrentStreams = opts.maxConcurrentStreams;
  server = http2.createServer({settings}, handle);
  server.on('session', (sess) => {
    st.sessions++;
    st.open++;
    st.maxOpen = Math.max(st.maxOpen, st.open);
    sess.inflight = 0;
    sess.reqs = 0;
    sess.maxId = 0;
    sess.on('close', () => { st.open--; });
    sess.on('error', () => {});
  });
}
server.on('clientError', (e, s) => { s.destroy(); });
server.listen(+port, '127.0.0.1', () => console.log('listening', port));
http.createServer((q, r) => { r.setHeader('content-type', 'application/json');
                              r.end(JSON.stringify(st)); }).listen(+adminPort, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
"""

# Node.js's http2 client in front: 40 GETs and two 5 MiB POST echoes at once
# on one connection; prints what it got as JSON.
NODE_CLIENT = r"""
'use strict';
const http2 = require('http2'), crypto = require('crypto');
const [url, prefix] = process.argv.slice(2);
setTimeout(() => { console.error('node client: timed out'); process.exit(3); }, 40000).unref();
const s = http2.connect(url, {rejectUnauthorized: false});
s.on('error', (e) => { console.error('session error', e); process.exit(2); });
function req(path, method, body) {
  return new Promise((resolve, reject) => {
    const st = s.request({':path': path, ':method': method}, {endStream: !body});
    let h = {}, len = 0;
    const hash = crypto.createHash('sha256');
    st.on('response', (x) => { h = x; });
    st.on('data', (d) => { hash.update(d); len += d.length; });
    st.on('end', () => resolve({path, status: h[':status'], backend: h['x-backend'],
                                via: h['via'] || null, hop: h['x-hop-secret'] || null,
                                len, sha: hash.digest('hex')}));
    st.on('error', (e) => reject(new Error(path + ': ' + e)));
    if (body) st.end(body);
  });
}
s.on('connect', async () => {
  const body = crypto.randomBytes(5 << 20);
  const want = crypto.createHash('sha256').update(body).digest('hex');
  const jobs = [];
  for (let i = 0; i < 40; i++) jobs.push(req(prefix + '/file?n=' + (1000 + 7919 * i), 'GET'));
  jobs.push(req(prefix + '/echo', 'POST', body), req(prefix + '/echo', 'POST', body));
  try {
    const got = await Promise.all(jobs);
    console.log(JSON.stringify({alpn: s.alpnProtocol, want, got}));
    s.close();
  } catch (e) {
    console.error(String(e));
    process.exit(1);
  }
});
"""

# The page Chromium loads from loom serve; its fetch() calls go through the
# proxy, and it writes what they gave into <pre id=out>.
PAGE = r"""<!doctype html><html><head><meta charset=utf-8><title>proxy</title></head>
<body><pre id=out>pending</pre><script>
async function hex(buf) {
  const d = await crypto.subtle.digest('SHA-256', buf);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
(async () => {
  const r = {};
  try {
    const g = await fetch('/n1/file?n=1048576');
    const gb = await g.arrayBuffer();
    r.get = {status: g.status, len: gb.byteLength, sha: await hex(gb),
             backend: g.headers.get('x-backend'), via: g.headers.get('via'),
             hop: g.headers.get('x-hop-secret')};
    const body = new Uint8Array(3 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 11)) & 255;
    const p = await fetch('/n1/echo', {method: 'POST', body});
    const pb = await p.arrayBuffer();
    r.post = {status: p.status, len: pb.byteLength, sha: await hex(pb), want: await hex(body)};
    r.many = await Promise.all(Array.from({length: 30}, (_, i) =>
      fetch('/n1/file?n=' + (1000 + 1000 * i)).then(async (x) =>
        [x.status, (await x.arrayBuffer()).byteLength])));
    r.protocols = [...new Set(performance.getEntriesByType('resource')
                              .map((e) => e.nextHopProtocol))];
    r.page = performance.getEntriesByType('navigation')[0].nextHopProtocol;
  } catch (e) {
    r.error = String(e);
  }
  document.getElementById('out').textContent = JSON.stringify(r);
})();
</script></body></html>
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
  access_log {tmp}/nginx-access.log;
  keepalive_timeout 65 60;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    add_header X-Backend nginx always;
    location /ng/dav/ {{
      dav_methods PUT DELETE;
      create_full_put_path on;
      client_max_body_size 64m;
      client_body_buffer_size 1m;
    }}
  }}
  server {{
    listen 127.0.0.1:{tls_port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
  }}
}}
"""


def closer_server(port):
    """An HTTP/1.1 server that answers 1 to 3 requests on a connection, as
    keep-alive ones (no Connection: close), then closes it a moment later:
    as a server with a keep-alive request limit it does not announce.
    .../file?n=N: N octets of the pattern; .../stats: its accounting."""
    stats = {"requests": 0, "conns": 0}
    lock = threading.Lock()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(512)

    def one(c):
        with lock:
            stats["conns"] += 1
        left = random.randint(1, 3)
        buf = b""
        try:
            while left:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[need:]
                path = head.split(b" ")[1] if b" " in head else b""
                if path.endswith(b"/stats"):
                    with lock:
                        body = json.dumps(stats).encode()
                else:
                    with lock:
                        stats["requests"] += 1
                    m = re.search(rb"[?&]n=(\d+)", path)
                    body = BLOCK[:int(m.group(1)) if m else 16]
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: closer\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                left -= 1
            time.sleep(random.random() * 0.003)
        except OSError:
            pass
        finally:
            c.close()

    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "closer":
    closer_server(int(sys.argv[2]))
    sys.exit(0)


# ---------------------------------------------------------------------------
# the test

from serve_common import (Server, TestFailure, check, free_port, main, make_tmp, run,  # noqa: E402
                          tls_h2)
from get_common import make_cert  # noqa: E402

REQUEST_TIMEOUT = 60
PROXY_TIMEOUT = 10  # --proxy-timeout: a request loom loses costs this, not 60 s
GOAWAY_EVERY = 100  # the GOAWAY backends' requests per session (64 in flight)


class Proc:
    """A backend child in its own process group, ready once its port
    accepts; stopped by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, name, cmd, port, log, env=None, cwd=HERE):
        self.name, self.log = name, log
        self.fh = open(log, "wb")
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.fh,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)
        end = time.monotonic() + 20
        while True:
            if self.p.poll() is not None:
                raise TestFailure("%s exited at start: %s" % (name, self.output()[-2000:]))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > end:
                    self.stop()
                    raise TestFailure("%s did not listen on %d within 20 s: %s" %
                                      (name, port, self.output()[-2000:]))
                time.sleep(0.05)

    def output(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, 15)
                self.p.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.p.pid, 9)
                except ProcessLookupError:
                    pass
                self.p.wait(timeout=10)
        self.fh.close()


def curl(*args, data_file=None, timeout=REQUEST_TIMEOUT):
    """curl -sk ARGS -D HEADERS -o BODY: (rc, status, headers [(name, value)],
    body sha256, body length, stderr)."""
    cmd = ["curl", "-sS", "-k", "--max-time", str(timeout), "-D", "-"]
    out_path = "/tmp/loom-pxpeers-%d-%d.out" % (os.getpid(), threading.get_ident())
    cmd += ["-o", out_path]
    if data_file:
        cmd += ["--data-binary", "@" + data_file]
    try:
        r = run(cmd + list(args), timeout=timeout + 10)
        body = b""
        if os.path.exists(out_path):
            with open(out_path, "rb") as f:
                body = f.read()
    finally:
        if os.path.exists(out_path):
            os.unlink(out_path)
    heads = r.stdout.decode(errors="replace").split("\r\n\r\n")
    heads = [h for h in heads if h.strip()]
    status, fields = None, []
    if heads:
        lines = heads[-1].split("\r\n")
        m = re.match(r"HTTP/[\d.]+ (\d+)", lines[0])
        status = int(m.group(1)) if m else None
        for l in lines[1:]:
            k, _, v = l.partition(":")
            fields.append((k.strip().lower(), v.strip()))
    return (r.returncode, status, fields, hashlib.sha256(body).hexdigest(), len(body),
            r.stderr.decode(errors="replace"))


HOP = ("connection", "keep-alive", "proxy-connection", "upgrade", "transfer-encoding",
       "x-hop-secret", "te", "trailer")


def check_fields(what, fields, backend, front_h1=False):
    names = [k for k, _ in fields]
    d = dict(fields)
    check(d.get("x-backend") == backend, "%s: the backend's X-Backend %r did not arrive: %r" %
          (what, backend, fields))
    check("loom" in d.get("via", ""), "%s: no Via naming loom: %r" % (what, fields))
    bad = [k for k in names if k in HOP]
    if front_h1:
        # loom serve's own HTTP/1.1 framing may say Connection: keep-alive
        # or Transfer-Encoding: chunked; none of the backend's values may
        bad = [k for k, v in fields if k in HOP and not
               (k == "connection" and v.lower() in ("keep-alive", "close")) and not
               (k == "transfer-encoding" and v.lower() == "chunked")]
        bad += ["keep-alive: " + v for k, v in fields if k == "keep-alive" and "30" in v]
    check(not bad, "%s: hop-by-hop fields reached the client: %r (all: %r)" %
          (what, bad, fields))


class H2Result:
    def __init__(self):
        self.status, self.headers, self.body, self.reset = None, {}, b"", None


def h2_batch(port, reqs, tls=True, timeout=60):
    """Python h2 client: all `reqs` ((method, path, body or None)) on ONE
    connection, as many at once as the server allows (its
    SETTINGS_MAX_CONCURRENT_STREAMS; the rest wait, as a browser's do).
    Returns ([H2Result] in order, the most streams open at once)."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = tls_h2(raw) if tls else raw
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    conn.increment_flow_control_window(1 << 26)
    sock.sendall(conn.data_to_send())
    results = [H2Result() for _ in reqs]
    pending = list(range(len(reqs)))
    pending.reverse()
    open_ = {}  # stream id -> [index, body, offset]
    done = 0
    peak = 0
    settings_seen = False
    end = time.monotonic() + timeout
    scheme = "https" if tls else "http"
    try:
        while done < len(reqs):
            if settings_seen:
                while pending and conn.open_outbound_streams < \
                        conn.remote_settings.max_concurrent_streams:
                    i = pending.pop()
                    method, path, body = reqs[i]
                    sid = conn.get_next_available_stream_id()
                    hs = [(":method", method), (":scheme", scheme),
                          (":authority", "127.0.0.1:%d" % port), (":path", path)]
                    if body is not None:
                        hs.append(("content-length", str(len(body))))
                    conn.send_headers(sid, hs, end_stream=body is None)
                    open_[sid] = [i, body, 0]
                    peak = max(peak, len(open_))
            for sid, st in list(open_.items()):
                body = st[1]
                if body is None or st[2] >= len(body):
                    continue
                while st[2] < len(body):
                    n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                            len(body) - st[2])
                    if n <= 0:
                        break
                    conn.send_data(sid, body[st[2]:st[2] + n],
                                   end_stream=st[2] + n == len(body))
                    st[2] += n
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
            left = end - time.monotonic()
            check(left > 0, "python h2: %d of %d responses after %d s" %
                  (done, len(reqs), timeout))
            sock.settimeout(left)
            try:
                data = sock.recv(1 << 18)
            except socket.timeout:
                continue
            check(data, "python h2: the server closed the connection after %d of %d responses"
                  % (done, len(reqs)))
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    settings_seen = True
                elif isinstance(ev, h2.events.ResponseReceived):
                    r = results[open_[ev.stream_id][0]]
                    r.headers = dict(ev.headers)
                    r.status = int(r.headers[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    results[open_[ev.stream_id][0]].body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    open_.pop(ev.stream_id)
                    done += 1
                elif isinstance(ev, h2.events.StreamReset):
                    st = open_.pop(ev.stream_id, None)
                    if st is not None:
                        results[st[0]].reset = ev.error_code
                        done += 1
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    check(False, "python h2: GOAWAY (%r) after %d of %d responses" %
                          (ev.error_code, done, len(reqs)))
    finally:
        try:
            conn.close_connection()
            sock.sendall(conn.data_to_send())
        except Exception:
            pass
        sock.close()
    return results, peak


def h2load(url, n, c, m, timeout=90):
    r = run(["h2load", "-n", str(n), "-c", str(c), "-m", str(m), url], timeout=timeout)
    out = r.stdout.decode(errors="replace")
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    check(req and codes, "h2load %s: no summary (exit %d):\n%s%s" %
          (url, r.returncode, out[-2000:], r.stderr.decode(errors="replace")[-2000:]))
    total, started, done, ok, failed, errored, tmo = map(int, req.groups())
    c2, c3, c4, c5 = map(int, codes.groups())
    summary = ("%d done, %d succeeded, %d failed, %d errored, %d timeout; %d 2xx, %d 4xx, "
               "%d 5xx" % (done, ok, failed, errored, tmo, c2, c4, c5))
    return (ok == n and c2 == n and failed == errored == tmo == 0), summary, out


def node_stats(s, prefix):
    """A Node.js backend's own accounting, from its admin port."""
    r = run(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:%d/" % s.admin[prefix]],
            timeout=20)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise TestFailure("the backend of %s: its accounting: %r %r" %
                          (prefix, r.stdout[:300], r.stderr[:300]))


class SsPeak:
    """The most ESTABLISHED TCP connections to 127.0.0.1:PORT at once, by
    polling `ss -tn`."""

    def __init__(self, port):
        self.port, self.peak, self.samples, self.stop_ = port, 0, 0, False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop_:
            try:
                r = subprocess.run(["ss", "-Htn", "state", "established", "dst",
                                    "127.0.0.1:%d" % self.port], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, timeout=5)
                n = len([l for l in r.stdout.splitlines() if l.strip()])
                self.peak = max(self.peak, n)
                self.samples += 1
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.01)

    def done(self):
        self.stop_ = True
        self.t.join(timeout=10)
        return self.peak



def chromium_dom(tmp, url):
    """Headless Chromium's DOM of url after its scripts ran (serve_chromium.py's
    runner: own process group, fresh profile, bounded)."""
    from serve_chromium import chromium, find_chromium as chromium_exe
    out, _ = chromium(chromium_exe(), tmp, url, ["--dump-dom", "--virtual-time-budget=20000"],
                      "the fetch() page")
    return out


def say(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------

FAILURES = []


def section(name, fn, *args):
    """Runs one independent group of checks; a failure is reported and
    counted, and the next group still runs (the test fails at the end)."""
    try:
        fn(*args)
    except TestFailure as e:
        FAILURES.append(name)
        print("FAIL: %s: %s" % (name, e), flush=True)


def part1_backends(s, tmp, body5, body5_sha, nginx_sha, nginx_len):
    n = 3 * MIB + 12345
    for backend_args in (
            ("Node.js http (HTTP/1.1)", "/n1/file?n=%d" % n, n, pattern_sha256(n),
             "node-h1", "/n1/echo"),
            ("Node.js http2 (h2c)", "/n2/file?n=%d" % n, n, pattern_sha256(n),
             "node-h2c", "/n2/echo"),
            ("hypercorn over TLS (h2)", "/hc/file?n=%d" % n, n, pattern_sha256(n),
             "hypercorn-tls", "/hc/echo"),
            ("nginx (HTTP/1.1)", "/ng/file.bin", nginx_len, nginx_sha, "nginx", None)):
        for front in ("h2", "HTTP/1.1"):
            section("%s, %s in front" % (backend_args[0], front), one_backend, s, tmp, front,
                    body5, body5_sha, *backend_args)


def one_backend(s, tmp, front, body5, body5_sha, label, get_path, want_len, want_sha, backend,
                echo):
    """GET of a known body, a 5 MiB body there and back, the response's
    fields; through the h2 (TLS) or the HTTP/1.1 (cleartext) front."""
    h1 = front == "HTTP/1.1"
    base, args = (s.http, ["--http1.1"]) if h1 else (s.https, ["--http2"])
    what = "%s, %s in front: GET %s" % (label, front, get_path)
    rc, status, fields, sha, ln, err = curl(*args, base + get_path)
    check(rc == 0 and status == 200, "%s: curl exit %d, status %r: %s" %
          (what, rc, status, err[-500:]))
    check(ln == want_len and sha == want_sha, "%s: body of %d octets, sha256 %s; wanted %d, %s"
          % (what, ln, sha, want_len, want_sha))
    check_fields(what, fields, backend, front_h1=h1)
    if backend == "hypercorn-tls":
        check(dict(fields).get("x-backend-proto") == "2",
              "%s: loom spoke HTTP/%s to hypercorn, wanted 2 (ALPN h2)" %
              (what, dict(fields).get("x-backend-proto")))
    if echo:
        what = "%s, %s in front: POST %s of 5 MiB" % (label, front, echo)
        rc, status, fields, sha, ln, err = curl(*args, "-X", "POST", base + echo,
                                                data_file=body5)
        check(rc == 0 and status == 200, "%s: curl exit %d, status %r: %s" %
              (what, rc, status, err[-500:]))
        check(ln == 5 * MIB and sha == body5_sha, "%s: %d octets came back, sha256 %s (wanted "
              "%d, %s)" % (what, ln, sha, 5 * MIB, body5_sha))
        check_fields(what, fields, backend, front_h1=h1)
        say("%s, %s in front: GET (sha256), 5 MiB POST echoed whole; X-Backend passes, "
            "hop-by-hop fields do not, Via added%s" %
            (label, front, ", spoken to in HTTP/2 (ALPN)" if backend == "hypercorn-tls" else ""))
        return
    name = "up-%s.bin" % ("h1" if h1 else "h2")
    what = "nginx, %s in front: PUT /ng/dav/%s of 5 MiB" % (front, name)
    rc, status, fields, _, _, err = curl(*args, "-T", body5, base + "/ng/dav/" + name)
    check(rc == 0 and status in (201, 204), "%s: curl exit %d, status %r: %s" %
          (what, rc, status, err[-500:]))
    check_fields(what, fields, "nginx", front_h1=h1)
    rc, status, fields, sha, ln, err = curl(*args, base + "/ng/dav/" + name)
    check(rc == 0 and status == 200 and ln == 5 * MIB and sha == body5_sha,
          "nginx, %s in front: the 5 MiB PUT read back: exit %d status %r %d octets sha256 %s"
          % (front, rc, status, ln, sha))
    stored = os.path.join(tmp, "ngroot", "ng", "dav", name)
    check(os.path.getsize(stored) == 5 * MIB, "nginx stored %d octets" %
          os.path.getsize(stored))
    say("nginx (HTTP/1.1), %s in front: static GET (sha256), 5 MiB WebDAV PUT stored whole and "
        "read back; X-Backend passes, Connection/Keep-Alive do not, Via added" % front)


def untrusted_backend(s, elog):
    """nginx over TLS with a certificate for 127.0.0.1 that --proxy-cacert
    does not vouch for: a 502, and an error-log line naming the backend and
    the certificate."""
    for args, base in ((["--http2"], s.https), (["--http1.1"], s.http)):
        rc, status, fields, _, _, err = curl(*args, base + "/ngtls/file.bin")
        check(rc == 0 and status == 502, "an https:// backend with a certificate not from "
              "--proxy-cacert: curl exit %d, status %r (wanted 502)" % (rc, status))
    time.sleep(0.2)
    with open(elog, errors="replace") as f:
        lines = [l for l in f if "/ngtls/" in l]
    check(lines and all(s.ngtls in l for l in lines),
          "no error-log line naming the backend %s: %r" % (s.ngtls, lines))
    check(all(re.search(r"(?i)certif|verif", l) for l in lines),
          "the error log does not say that the backend's certificate failed verification: %r"
          % lines[-1].strip())
    say("an https:// backend whose certificate --proxy-cacert does not vouch for: 502, the "
        "error log names it and says why")


def part2_clients(s, tmp, body5, body5_sha):
    section("nghttp", client_nghttp, s, body5, body5_sha)
    section("h2load", client_h2load, s)
    section("Node.js http2.connect", client_node, s, tmp)
    section("python h2", client_python_h2, s)
    section("chromium", client_chromium, s, tmp)
    section("nghttp, long paths", client_long_paths, s)  # last: it may crash loom


def client_nghttp(s, body5, body5_sha):
    https = s.https
    n = MIB + 4321
    url = https + "/n1/file?n=%d" % n
    r = run(["nghttp", "-nv", "-t", "30", url], timeout=40)
    out = r.stdout.decode(errors="replace")
    check(r.returncode == 0, "nghttp -nv %s: exit %d\n%s" % (url, r.returncode, out[-3000:]))
    got = sum(int(x) for x in re.findall(r"recv DATA frame <length=(\d+), flags=0x0[01], "
                                         r"stream_id=\d+>", out))
    check(re.search(r"recv \(stream_id=\d+\) :status: 200", out) and
          re.search(r"recv \(stream_id=\d+\) x-backend: node-h1", out) and
          re.search(r"recv \(stream_id=\d+\) via: .*loom", out),
          "nghttp -nv: no :status 200, x-backend or via:\n%s" % out[-3000:])
    check(not re.search(r"recv \(stream_id=\d+\) (x-hop-secret|keep-alive|upgrade|connection)",
                        out), "nghttp -nv: hop-by-hop fields in:\n%s" % out[-3000:])
    check(got == n and re.search(r"recv DATA frame .*flags=0x01", out),
          "nghttp -nv: %d DATA octets (wanted %d) or no END_STREAM" % (got, n))
    check("send GOAWAY frame" in out and "recv GOAWAY" not in out,
          "nghttp -nv: the connection did not end with nghttp's own GOAWAY")
    r = run(["nghttp", "-t", "30", url], timeout=40)
    check(r.returncode == 0 and hashlib.sha256(r.stdout).hexdigest() == pattern_sha256(n),
          "nghttp %s: exit %d, %d octets" % (url, r.returncode, len(r.stdout)))
    r = run(["nghttp", "-nv", "-t", "30", "-d", body5, https + "/n1/echo"], timeout=40)
    out = r.stdout.decode(errors="replace")
    sent = sum(int(x) for x in re.findall(r"send DATA frame <length=(\d+)", out))
    got = sum(int(x) for x in re.findall(r"recv DATA frame <length=(\d+)", out))
    check(r.returncode == 0 and sent == 5 * MIB and got == 5 * MIB,
          "nghttp -nv -d (5 MiB POST): exit %d, sent %d, got %d DATA octets\n%s" %
          (r.returncode, sent, got, out[-2000:]))
    r = run(["nghttp", "-t", "30", "-d", body5, https + "/n1/echo"], timeout=40)
    check(r.returncode == 0 and hashlib.sha256(r.stdout).hexdigest() == body5_sha,
          "nghttp -d (5 MiB POST): exit %d, %d octets back" % (r.returncode, len(r.stdout)))
    say("nghttp -nv: GET of 1 MiB (DATA octets counted, sha256 without -n), 5 MiB POST echoed; "
        ":status 200, x-backend and via in the frames, no hop-by-hop field")


def client_long_paths(s):
    """Paths of 100 to 2,000 octets without a query (routing reads a path
    only up to its length), through the proxy and not."""
    for n in (100, 200, 300, 1000, 2000):
        for path, status, backend in (("/n1/" + "p" * n, 404, "node-h1"),
                                      ("/" + "q" * n, 404, None)):
            r = run(["nghttp", "-nv", "-t", "20", s.https + path], timeout=30)
            out = r.stdout.decode(errors="replace")
            check(r.returncode == 0 and
                  re.search(r"recv \(stream_id=\d+\) :status: %d" % status, out),
                  "nghttp GET of a %d-octet path (%s): exit %d, wanted :status %d; loom serve "
                  "%s\n%s" % (len(path), "proxied" if backend else "static", r.returncode,
                               status, "still runs" if s.proc.poll() is None else
                               "exited %r" % s.proc.poll(), out[-1500:]))
            if backend:
                check("x-backend: " + backend in out, "a %d-octet path did not reach the "
                      "backend:\n%s" % (len(path), out[-1500:]))
    say("nghttp: paths of 100 to 2,000 octets without a query: routed (404 from the backend, "
        "404 from the static files)")


def client_h2load(s):
    https = s.https
    ok, summary, out = h2load(https + "/n1/file?n=2048", 2000, 4, 16)
    check(ok, "h2load -n 2000 -c 4 -m 16 through the proxy to Node.js http: %s\n%s" %
          (summary, out[-1500:]))
    say("h2load -n 2000 -c 4 -m 16 (Node.js http behind): %s" % summary)


def client_node(s, tmp):
    https = s.https
    js = os.path.join(tmp, "client.js")
    with open(js, "w") as f:
        f.write(NODE_CLIENT)
    r = run(["node", js, https, "/n1"], timeout=60)
    check(r.returncode == 0, "node http2.connect client: exit %d: %s %s" %
          (r.returncode, r.stdout.decode(errors="replace")[-1000:],
           r.stderr.decode(errors="replace")[-2000:]))
    res = json.loads(r.stdout)
    check(res["alpn"] == "h2", "node client: ALPN %r" % res["alpn"])
    for g in res["got"]:
        if g["path"].endswith("/echo"):
            want_len, want_sha = 5 * MIB, res["want"]
        else:
            k = int(g["path"].rsplit("=", 1)[1])
            want_len, want_sha = k, pattern_sha256(k)
        check(g["status"] == 200 and g["len"] == want_len and g["sha"] == want_sha and
              g["backend"] == "node-h1" and "loom" in (g["via"] or "") and g["hop"] is None,
              "node client: %r (wanted %d octets, %s)" % (g, want_len, want_sha))
    say("Node.js http2.connect: 40 GETs and two 5 MiB POST echoes at once on one connection, "
        "all whole (sha256), x-backend and via, no hop-by-hop field")


def client_python_h2(s):
    reqs = []
    for i in range(50):
        if i % 10 == 9:
            reqs.append(("POST", "/n1/echo", os.urandom(200000 + i)))
        else:
            reqs.append(("GET", "/n1/file?n=%d" % (5000 + 10007 * i), None))
    res, peak = h2_batch(s.https_port, reqs)
    for (method, path, body), r in zip(reqs, res):
        want = body if body is not None else pattern(int(path.rsplit("=", 1)[1]))
        check(r.reset is None and r.status == 200 and r.body == want and
              r.headers.get("x-backend") == "node-h1",
              "python h2: %s %s: status %r reset %r, %d octets (wanted %d)" %
              (method, path, r.status, r.reset, len(r.body), len(want)))
    check(peak == 50, "python h2: only %d streams were open at once (wanted 50)" % peak)
    say("python h2: 50 concurrent streams on one connection (45 GETs, 5 POST echoes), all whole")


def client_chromium(s, tmp):
    https = s.https
    dom = chromium_dom(tmp, https + "/peers.html")
    m = re.search(r"<pre id=\"out\">(.*?)</pre>", dom, re.S)
    check(m and m.group(1) != "pending", "chromium: the page did not finish:\n%s" % dom[:2000])
    res = json.loads(html.unescape(m.group(1)))
    check("error" not in res, "chromium: a fetch failed: %r" % res)
    g = res["get"]
    check(g["status"] == 200 and g["len"] == MIB and g["sha"] == pattern_sha256(MIB) and
          g["backend"] == "node-h1" and "loom" in (g["via"] or "") and g["hop"] is None,
          "chromium: GET through the proxy: %r" % g)
    p = res["post"]
    check(p["status"] == 200 and p["len"] == 3 * MIB and p["sha"] == p["want"],
          "chromium: POST echo through the proxy: %r" % p)
    check(res["many"] == [[200, 1000 + 1000 * i] for i in range(30)],
          "chromium: 30 concurrent fetches: %r" % res["many"])
    check(res["protocols"] == ["h2"] and res["page"] == "h2",
          "chromium: not all over h2: page %r, fetches %r" % (res["page"], res["protocols"]))
    say("chromium (headless): fetch() through the proxy: 1 MiB GET (sha256 in the page), "
        "3 MiB POST echoed, 30 concurrent GETs, all over h2, x-backend and via readable")


def part3_h2c_limits(s):
    section("h2c maxConcurrentStreams 4", limit_mcs, s)
    for prefix, how in (("/gclose", "session.close() after every %d requests" % GOAWAY_EVERY),
                        ("/gaway", "session.goaway(NO_ERROR, last id) after every %d" %
                         GOAWAY_EVERY)):
        section("h2c GOAWAY " + prefix, goaway_load, s, prefix, how)


def limit_mcs(s):
    reqs = [("GET", "/lim4/slow?ms=30&i=%d" % i, None) for i in range(100)]
    t0 = time.monotonic()
    res, peak = h2_batch(s.https_port, reqs)
    took = time.monotonic() - t0
    bad = [(path, r.status, r.reset) for (_, path, _), r in zip(reqs, res)
           if r.status != 200 or r.body != b"slow %s\n" % path.encode() or r.reset is not None]
    st = node_stats(s, "/lim4")
    check(not bad, "h2c backend with maxConcurrentStreams 4: %d of 100 failed: %r; backend: %r"
          % (len(bad), bad[:10], st))
    check(peak == 100, "the client had only %d streams open at once" % peak)
    check(st["maxPerSession"] <= 4 and st["requests"] == 100,
          "h2c backend with maxConcurrentStreams 4: it saw %d streams at once on a session, "
          "%d requests (wanted <= 4 and 100): %r" % (st["maxPerSession"], st["requests"], st))
    say("h2c backend with maxConcurrentStreams 4: 100 concurrent requests on one client "
        "connection all answered (%.1f s); the backend saw at most %d streams at once per "
        "session, %d session(s), each request once" % (took, st["maxPerSession"],
                                                       st["sessions"]))


def goaway_load(s, prefix, how):
    n = 2000
    ok, summary, out = h2load(s.https + prefix + "/file?n=4096", n, 4, 16)
    st = node_stats(s, prefix)
    check(ok, "h2c backend sending GOAWAY (%s), h2load -n %d -c 4 -m 16 (64 streams in flight "
          "on loom's one connection to it): %s; backend: %r\n%s" %
          (how, n, summary, st, out[-1200:]))
    check(st["goaways"] >= 10 and st["sessions"] >= 10,
          "the GOAWAY backend (%s) shut only %d sessions down (%d sessions)" %
          (how, st["goaways"], st["sessions"]))
    check(st["answered"] == n, "the GOAWAY backend (%s) answered %d requests for %d sent: a "
          "request it had answered was sent again, or one was lost" % (how, st["answered"], n))
    say("h2c backend sending GOAWAY (%s): h2load -n %d -c 4 -m 16: %s; %d GOAWAYs, %d sessions, "
        "each request answered once (%d handled above a GOAWAY's last-stream-id, not "
        "answered, sent again by loom)" % (how, n, summary, st["goaways"], st["sessions"],
                                          st["late"]))


def turns(s):
    """Clients one after another on loom's one connection to the backend
    (--workers 1 --proxy-max-conns 1): a GET, a POST, a GET; each request
    must reach the backend as its client sent it."""
    for front, base, args in (("h2", s.https, ["--http2"]), ("HTTP/1.1", s.http, ["--http1.1"])):
        for i in range(3):
            for who, extra, path, want in (
                    ("alice", [], "/t/file?n=5&who=alice%d" % i, BLOCK[:5]),
                    ("carol", ["--data-binary", "post %d" % i], "/t/echo?who=carol%d" % i,
                     b"post %d" % i),
                    ("bob", [], "/t/file?n=7&who=bob%d" % i, BLOCK[:7])):
                r = run(["curl", "-sS", "-k", "--max-time", "20", "-D", "/dev/stderr"] + args +
                        extra + [base + path], timeout=30)
                url = re.search(rb"(?im)^x-url: (\S+)", r.stderr)
                check(r.returncode == 0 and r.stdout == want and url and
                      url.group(1).decode() == path,
                      "%s in front, round %d: %s's request %s reached the backend as %r and "
                      "got %r (wanted %r): curl exit %d" %
                      (front, i, who, path, url and url.group(1).decode(), r.stdout[:40], want,
                       r.returncode))
    say("clients in turn on one backend connection (--proxy-max-conns 1; GET, POST, GET; h2 "
        "and HTTP/1.1 in front, 3 rounds): each request reached the backend as sent, each "
        "answer its own")


def part4_faults(s):
    for prefix, how in (("/closer", "a Python server closing after 1-3 requests without "
                                    "saying so"),
                        ("/mrps", "Node.js http, maxRequestsPerSocket 2: Connection: close on "
                                  "every 2nd response")):
        section("HTTP/1.1 keep-alive drops " + prefix, keepalive_drops, s, prefix, how)
    section("1,000 streams, --proxy-max-conns 32", cap_1000, s)


def keepalive_drops(s, prefix, how):
    path = prefix + "/file?n=2048"
    ok, summary, out = h2load(s.https + path, 2000, 4, 16)
    if prefix == "/closer":
        r = run(["curl", "-sS", "--max-time", "10",
                 "http://127.0.0.1:%d/stats" % s.ports[prefix]], timeout=20)
        st = json.loads(r.stdout)
    else:
        st = node_stats(s, prefix)
    check(ok, "HTTP/1.1 backend dropping keep-alive connections (%s), h2load -n 2000 -c 4 "
          "-m 16: %s; the backend answered %d requests on %d connections (GETs: each may go "
          "again on another connection when a kept-alive one closes before any answer; see "
          "the error log)\n%s" % (how, summary, st["requests"], st["conns"], out[-1200:]))
    say("HTTP/1.1 backend dropping keep-alive connections (%s): h2load -n 2000 -c 4 -m 16: "
        "%s; %d connections for %d requests" % (how, summary, st["conns"], st["requests"]))


def cap_1000(s):
    """1,000 streams on one connection, an HTTP/1.1 backend, at most 32
    connections to it."""
    before = node_stats(s, "/cap")
    ss = SsPeak(s.ports["/cap"])
    # every 4th a POST: each answer must be its own request's
    reqs = [("POST", "/cap/echo?i=%d" % i, b"body of %d" % i) if i % 4 == 3 else
            ("GET", "/cap/slow?ms=20&i=%d" % i, None) for i in range(1000)]
    t0 = time.monotonic()
    res, peak = h2_batch(s.https_port, reqs, timeout=90)
    took = time.monotonic() - t0
    ss_peak = ss.done()
    st = node_stats(s, "/cap")
    bad = [(method, path, r.status, r.reset, r.body[:60]) for (method, path, body), r
           in zip(reqs, res) if r.status != 200 or r.reset is not None or
           r.body != (body if body is not None else b"slow %s\n" % path.encode())]
    check(not bad, "1,000 streams on one connection to an HTTP/1.1 backend: %d wrong (method, "
          "path, status, reset, the body that came): %r" % (len(bad), bad[:8]))
    check(st["requests"] - before["requests"] == 1000,
          "the backend saw %d requests, wanted 1000" % (st["requests"] - before["requests"]))
    check(st["maxOpen"] <= 32 and ss_peak <= 32,
          "--proxy-max-conns 32: the backend saw %d connections at once (ss: %d)" %
          (st["maxOpen"], ss_peak))
    say("1,000 streams on one client connection (%d open at once, loom's limit), HTTP/1.1 "
        "backend, --proxy-max-conns 32: all answered (%.1f s); the backend saw at most %d "
        "connections at once (ss -tn: %d, %d samples), %d in all" %
        (peak, took, st["maxOpen"], ss_peak, ss.samples, st["conns"]))


class ReuseServer(Server):
    """Under AddressSanitizer, freed memory waits in a quarantine before
    reuse; without it, as in a release build, the next request's strings
    may land where the last one's were (which turns() depends on)."""

    def env(self):
        env = Server.env(self)
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
        return env


def test(argv):
    loom = os.path.abspath(argv[0])
    keep = os.environ.get("LOOM_KEEP_TMP")
    node = shutil.which("node") or shutil.which("nodejs")
    check(node, "node (Debian package nodejs) is not installed")
    for exe in ("nghttp", "h2load", "nginx", "hypercorn", "curl", "openssl", "ss"):
        check(shutil.which(exe), "%s is not installed" % exe)
    tmp = make_tmp("pxpeers")
    procs = []
    try:
        js = os.path.join(tmp, "backend.js")
        with open(js, "w") as f:
            f.write(NODE_BACKEND)
        body5 = os.path.join(tmp, "body5")
        data = os.urandom(5 * MIB)
        with open(body5, "wb") as f:
            f.write(data)
        body5_sha = hashlib.sha256(data).hexdigest()
        site = os.path.join(tmp, "site")
        os.makedirs(site)
        with open(os.path.join(site, "peers.html"), "w") as f:
            f.write(PAGE)
        ngroot = os.path.join(tmp, "ngroot")
        os.makedirs(os.path.join(ngroot, "ng", "dav"))
        ngdata = os.urandom(2 * MIB + 777)
        with open(os.path.join(ngroot, "ng", "file.bin"), "wb") as f:
            f.write(ngdata)
        cert, key = make_cert(tmp, ["IP:127.0.0.1"], cn="127.0.0.1", name="backend")
        # the same name, but not the certificate --proxy-cacert names
        ucert, ukey = make_cert(tmp, ["IP:127.0.0.1"], cn="127.0.0.1", name="untrusted")

        ports = {k: free_port() for k in ("/n1", "/n2", "/hc", "/ng", "/ngtls", "/lim4",
                                          "/gclose", "/gaway", "/closer", "/mrps", "/cap",
                                          "/turn")}

        admin = {k: free_port() for k in ports}

        def nodep(name, kind, prefix, opts):
            port = ports[prefix]
            p = Proc(name, [node, js, kind, str(port), str(admin[prefix]), name,
                            json.dumps(opts)], port, os.path.join(tmp, name + ".log"))
            procs.append(p)
            return p

        nodep("node-h1", "h1", "/n1", {"hop": True})
        nodep("node-h2c", "h2c", "/n2", {})
        nodep("node-lim4", "h2c", "/lim4", {"maxConcurrentStreams": 4})
        nodep("node-gclose", "h2c", "/gclose", {"closeAfter": GOAWAY_EVERY})
        nodep("node-gaway", "h2c", "/gaway", {"goawayAfter": GOAWAY_EVERY})
        nodep("node-mrps", "h1", "/mrps", {"maxRequestsPerSocket": 2})
        nodep("node-cap", "h1", "/cap", {})
        nodep("node-turn", "h1", "/turn", {})
        procs.append(Proc("closer", ["/usr/bin/python3", os.path.abspath(__file__), "closer",
                                     str(ports["/closer"])], ports["/closer"],
                          os.path.join(tmp, "closer.log")))
        procs.append(Proc("hypercorn", ["hypercorn", "--bind", "127.0.0.1:%d" % ports["/hc"],
                                        "--workers", "1", "--certfile", cert, "--keyfile", key,
                                        "serve_proxy_peers:asgi"], ports["/hc"],
                          os.path.join(tmp, "hypercorn.log"),
                          env=dict(os.environ, PYTHONPATH=HERE)))
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=ports["/ng"], root=ngroot,
                                      tls_port=ports["/ngtls"], cert=ucert, key=ukey))
        procs.append(Proc("nginx", ["nginx", "-p", tmp, "-c", conf, "-e",
                                    os.path.join(tmp, "nginx-error.log")], ports["/ng"],
                          os.path.join(tmp, "nginx.out")))

        elog = os.path.join(tmp, "error.log")
        extra = ["--proxy", "/n1=http://127.0.0.1:%d" % ports["/n1"],
                 "--proxy", "/n2=h2c://127.0.0.1:%d" % ports["/n2"],
                 "--proxy", "/hc=https://127.0.0.1:%d" % ports["/hc"],
                 "--proxy", "/ng=http://127.0.0.1:%d" % ports["/ng"],
                 "--proxy", "/ngtls=https://127.0.0.1:%d" % ports["/ngtls"],
                 "--proxy-cacert", cert, "--proxy-timeout", str(PROXY_TIMEOUT),
                 "--error-log", elog, "--log-level", "info"]

        def first():
            with Server(loom, site=site, extra=extra, tmp=tmp) as s:
                s.ngtls = "https://127.0.0.1:%d" % ports["/ngtls"]
                part1_backends(s, tmp, body5, body5_sha, hashlib.sha256(ngdata).hexdigest(),
                               len(ngdata))
                section("a TLS backend's certificate checked", untrusted_backend, s, elog)
                part2_clients(s, tmp, body5, body5_sha)
        section("loom serve (parts 1 and 2)", first)
        if FAILURES:
            print("--- loom serve error log (first server) ---\n%s" % tail(elog))

        elog2 = os.path.join(tmp, "error2.log")
        extra = ["--proxy-max-conns", "32", "--proxy-timeout", str(PROXY_TIMEOUT),
                 "--error-log", elog2, "--log-level", "info"]
        for prefix in ("/lim4", "/gclose", "/gaway", "/mrps", "/cap"):
            extra += ["--proxy", "%s=%s://127.0.0.1:%d" %
                      (prefix, "h2c" if prefix in ("/lim4", "/gclose", "/gaway") else "http",
                       ports[prefix])]
        extra += ["--proxy", "/closer=http://127.0.0.1:%d" % ports["/closer"]]
        nfail = len(FAILURES)

        def second():
            with Server(loom, site=site, extra=extra, workers=1, tmp=tmp) as s:
                s.ports, s.admin = ports, admin
                part3_h2c_limits(s)
                part4_faults(s)
        section("loom serve --workers 1 (parts 3 and 4)", second)
        if len(FAILURES) > nfail:
            print("--- loom serve error log (second server) ---\n%s" % tail(elog2))

        elog3 = os.path.join(tmp, "error3.log")
        extra = ["--proxy-max-conns", "1", "--proxy-timeout", str(PROXY_TIMEOUT),
                 "--proxy", "/t=http://127.0.0.1:%d" % ports["/turn"],
                 "--error-log", elog3, "--log-level", "info"]
        nfail = len(FAILURES)

        def third():
            with ReuseServer(loom, site=site, extra=extra, workers=1, tmp=tmp) as s:
                section("clients in turn on one backend connection", turns, s)
        section("loom serve --workers 1 --proxy-max-conns 1", third)
        if len(FAILURES) > nfail:
            print("--- loom serve error log (third server) ---\n%s" % tail(elog3))
        check(not FAILURES, "%d group(s) of checks failed: %s" % (len(FAILURES),
                                                                 "; ".join(FAILURES)))
    finally:
        for p in procs:
            p.stop()
        if keep:
            print("(kept %s)" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def tail(path, n=40):
    """loom serve's error log, its lines without the time, the same ones
    counted once: at most n of them."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip("\n").split(" ", 1)[-1] for l in f]
    except OSError:
        return "(none)"
    seen = {}
    for l in lines:
        seen[l] = seen.get(l, 0) + 1
    out = ["%s%s" % (l, " (x%d)" % k if k > 1 else "") for l, k in seen.items()]
    more = len(out) - n
    return "\n".join(out[:n]) + ("\n(and %d more)" % more if more > 0 else "")


if __name__ == "__main__":
    main(test)
