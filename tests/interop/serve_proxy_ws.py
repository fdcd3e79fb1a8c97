"""loom serve --proxy: WebSockets from HTTP/1.1 clients (RFC 6455 §4, the
Upgrade of RFC 9110 §7.8), to a Python `websockets` server behind (TCP and
a Unix socket).

- Python `websockets` over wss:// and ws:// to loom over HTTP/1.1: text and
  binary messages of 10 B, 64 KiB and 4 MiB echoed intact (text comes back
  upper-cased: it went through the backend), ping/pong, a clean close (1000
  and its reason) from either side, seen by the other.
- Node's built-in WebSocket (undici, --experimental-websocket) over ws://
  and wss://, when this Node has it.
- curl's plain Upgrade request: the 101's Connection, Upgrade and
  Sec-WebSocket-Accept right (RFC 6455 §4.2.2), Sec-WebSocket-Protocol
  passed back; the backend saw the client's Origin, key and subprotocols.
- A backend that answers the Upgrade 403 or 200: the client sees that
  status, no tunnel, and the connection still speaks HTTP/1.1.
- A backend that answers 101 with a wrong Sec-WebSocket-Accept: 502, and an
  error-log line; a client handshake without a valid key: 400.
- The backend ending the tunnel mid-stream: the client's connection ends;
  the client ending its connection: the backend's ends (seen there).
- Slow readers: the backend sends 64 MiB to a client that reads slowly, a
  client sends 64 MiB to a backend that reads slowly; loom serve's resident
  memory is sampled meanwhile and must stay bounded (the growth printed).

Every process started here is stopped by PID."""
import asyncio
import base64
import hashlib
from http import HTTPStatus
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import RssPeak, Server, check, free_port, main, make_tmp, rss_kb  # noqa: E402

import websockets  # noqa: E402 (Debian python3-websockets)
from websockets.datastructures import Headers  # noqa: E402

MIB = 1 << 20
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_of(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class Backend:
    """The WebSocket servers behind, on their own asyncio loop in a thread:
    what they saw is kept in self.seen (by path) and self.events."""

    def __init__(self, port, sock_path):
        self.port, self.sock_path = port, sock_path
        self.seen = {}
        self.events = []
        self.cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        check(self.ready.wait(20), "the WebSocket backend did not start")

    def note(self, what):
        with self.cond:
            self.events.append(what)
            self.cond.notify_all()

    def wait_event(self, pred, timeout=15):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    async def process_request(self, path, headers):
        if path.startswith("/ws/forbidden"):
            return HTTPStatus.FORBIDDEN, Headers([("Content-Type", "text/plain")]), b"no websockets here\n"
        if path.startswith("/ws/plain"):
            return HTTPStatus.OK, Headers([("Content-Type", "text/plain")]), b"just a page\n"
        return None

    async def handler(self, ws, path):
        self.seen[path] = dict(ws.request_headers.raw_items())
        if path.startswith("/unixws/"):  # the route's prefix stays in the path
            path = path[7:]
        try:
            if path.startswith("/ws/echo"):
                async for m in ws:
                    if m == "server-close":
                        await ws.close(1000, "server bye")
                        break
                    await ws.send(m.upper() if isinstance(m, str) else m)
            elif path.startswith("/ws/bye"):
                await ws.close(1000, "bye")
            elif path.startswith("/ws/drop"):  # a message, then the connection cut
                await ws.send("before the drop")
                await asyncio.sleep(0.2)
                ws.transport.abort()
            elif path.startswith("/ws/wait"):
                await ws.recv()
            elif path.startswith("/ws/flood"):  # 64 MiB, as fast as the proxy takes it
                chunk = b"\xa5" * MIB
                for _ in range(64):
                    await ws.send(chunk)
                await ws.wait_closed()
            elif path.startswith("/ws/sink"):  # reads slowly, says how much came
                n = 0
                while n < 64 * MIB:
                    m = await ws.recv()
                    n += len(m)
                    await asyncio.sleep(0.02)
                await ws.send("got %d" % n)
                await ws.wait_closed()
        except websockets.ConnectionClosed:
            pass
        self.note(("closed", path, ws.close_code, ws.close_reason))

    def _run(self):
        asyncio.set_event_loop(self.loop)
        kw = dict(max_size=8 * MIB, max_queue=1, process_request=self.process_request,
                  compression=None)

        async def start():
            self.tcp = await websockets.serve(self.handler, "127.0.0.1", self.port,
                                              subprotocols=["chat", "superchat"], **kw)
            self.unix = await websockets.unix_serve(self.handler, self.sock_path, **kw)
            self.ready.set()
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self):
        async def close():
            self.tcp.close()
            self.unix.close()
            await self.tcp.wait_closed()
            await self.unix.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.t.join(10)


def bad_accept_server(port, stop):
    """Answers every Upgrade with a 101 whose Sec-WebSocket-Accept is wrong."""
    ls = socket.create_server(("127.0.0.1", port))
    ls.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(5)
        try:
            recv_head(c)
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
            time.sleep(0.5)
        except OSError:
            pass
        c.close()
    ls.close()


def recv_head(s, data=b""):
    """Reads from s until a head's blank line has come (or the peer closed):
    what came, the head and whatever followed it."""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    return data


def raw_upgrade(port, path, key="dGhlIHNhbXBsZSBub25jZQ==", extra=b"", rcvbuf=None):
    """A plain socket's Upgrade: (socket, the response head, what followed)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.settimeout(20)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade\r\n"
              b"Upgrade: websocket\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
              % (path.encode(), port, key.encode()) + extra + b"\r\n")
    head, _, rest = recv_head(s).partition(b"\r\n\r\n")
    return s, head.decode(errors="replace"), rest


def read_http_response(s, rest):
    """The rest of a response framed by Content-Length: (head, body, left)."""
    head, _, body = recv_head(s, rest).partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        d = s.recv(65536)
        if not d:
            break
        body += d
    return head.decode(errors="replace"), body[:n], body[n:]


def client_frame(opcode, payload):
    """A client's frame (RFC 6455 §5.2): FIN, masked (a zero key: payload as is)."""
    n = len(payload)
    if n < 126:
        hd = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        hd = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        hd = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return hd + b"\0\0\0\0" + payload


def status_of(exc):
    return getattr(exc, "status_code", None)


async def py_client(url, sslctx, what):
    async with websockets.connect(url, ssl=sslctx, max_size=8 * MIB, compression=None,
                                  origin="https://app.example", open_timeout=20) as ws:
        for n in (10, 64 * 1024, 4 * MIB):
            text = ("abcdefghij" * (n // 10 + 1))[:n]
            await ws.send(text)
            got = await asyncio.wait_for(ws.recv(), 30)
            check(got == text.upper(), "%s: text of %d echoed (%d back)" % (what, n, len(got)))
            blob = os.urandom(n)
            await ws.send(blob)
            got = await asyncio.wait_for(ws.recv(), 30)
            check(got == blob, "%s: binary of %d echoed intact" % (what, n))
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close(1000, "client bye")
    check(ws.close_code == 1000, "%s: close code %r" % (what, ws.close_code))


async def py_server_close(url, sslctx, what):
    async with websockets.connect(url, ssl=sslctx, open_timeout=20) as ws:
        await ws.send("server-close")
        try:
            await asyncio.wait_for(ws.recv(), 10)
            check(False, "%s: a message after the server's close" % what)
        except websockets.ConnectionClosedOK:
            pass
    check(ws.close_code == 1000 and ws.close_reason == "server bye",
          "%s: the server's close (1000, 'server bye'): %r %r" %
          (what, ws.close_code, ws.close_reason))


async def py_status(url, what):
    try:
        async with websockets.connect(url, open_timeout=20):
            pass
    except websockets.InvalidStatusCode as e:
        return status_of(e)
    check(False, "%s: the WebSocket opened" % what)


async def py_drop(url):
    async with websockets.connect(url, open_timeout=20) as ws:
        m = await asyncio.wait_for(ws.recv(), 10)
        check(m == "before the drop", "the message before the drop: %r" % m)
        try:
            await asyncio.wait_for(ws.recv(), 10)
            check(False, "a message after the backend dropped its connection")
        except websockets.ConnectionClosedError:
            pass
    return ws.close_code


NODE_CLIENT = r"""
const url = process.argv[1];
const ws = new WebSocket(url);
ws.binaryType = 'arraybuffer';
const sizes = [10, 65536, 4 << 20];
let i = 0, step = 0;
function next() {
  if (i === sizes.length) { ws.close(1000, 'node bye'); return; }
  const n = sizes[i];
  if (step === 0) ws.send('x'.repeat(n));
  else { const b = new Uint8Array(n); for (let k = 0; k < n; k++) b[k] = k & 255; ws.send(b); }
}
ws.onopen = next;
ws.onmessage = (e) => {
  const n = sizes[i];
  if (step === 0) {
    if (e.data !== 'X'.repeat(n)) { console.log('bad text ' + n); process.exit(1); }
    step = 1;
  } else {
    const b = new Uint8Array(e.data);
    if (b.length !== n) { console.log('bad binary ' + n); process.exit(1); }
    for (let k = 0; k < n; k++) if (b[k] !== (k & 255)) { console.log('bad octet'); process.exit(1); }
    step = 0; i++;
  }
  next();
};
ws.onerror = (e) => { console.log('error ' + (e.message || e)); process.exit(1); };
ws.onclose = (e) => {
  console.log('closed ' + e.code + ' ' + (i === sizes.length ? 'all' : i));
  process.exit(i === sizes.length ? 0 : 1);
};
setTimeout(() => { console.log('timeout'); process.exit(1); }, 40000);
"""


def test(argv):
    loom = argv[0]
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "quarantine_size_mb=4"
    tmp = make_tmp("proxy-ws")
    pws, pbad = free_port(), free_port()
    sock = os.path.join(tmp, "ws.sock")
    backend = Backend(pws, sock)
    stop_bad = threading.Event()
    tb = threading.Thread(target=bad_accept_server, args=(pbad, stop_bad), daemon=True)
    tb.start()
    site = os.path.join(tmp, "site")
    os.makedirs(site)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("static\n")
    elog = os.path.join(tmp, "error.log")
    extra = ["--proxy", "/ws=http://127.0.0.1:%d" % pws,
             "--proxy", "/unixws=unix:" + sock,
             "--proxy", "/bad=http://127.0.0.1:%d" % pbad,
             "--proxy", "/h2ws=h2c://127.0.0.1:%d" % pws,
             "--error-log", elog, "--workers", "1"]
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        with Server(loom, site=site, extra=extra) as s:
            hp, tp = s.http_port, s.https_port
            ws_url, wss_url = "ws://127.0.0.1:%d" % hp, "wss://127.0.0.1:%d" % tp

            # (a) Python websockets, both ways in, and through a Unix socket
            for what, url, ctx in (("ws://", ws_url + "/ws/echo", None),
                                   ("wss://", wss_url + "/ws/echo", insecure),
                                   ("unix: backend", ws_url + "/unixws/ws/echo", None)):
                asyncio.run(py_client(url, ctx, what))
                e = backend.wait_event(lambda e: e[0] == "closed" and e[2] == 1000 and
                                       e[3] == "client bye")
                check(e is not None, "%s: the backend saw the client's close (1000, 'client "
                      "bye'): %r" % (what, backend.events[-3:]))
                backend.events.clear()
                asyncio.run(py_server_close(url, ctx, what))
                backend.events.clear()
            print("websockets over ws://, wss:// and to a unix: backend: text and binary of "
                  "10 B, 64 KiB, 4 MiB echoed; ping/pong; close 1000 with its reason both ways")

            # (b) Node's WebSocket (undici), if this Node has it
            node_ok = subprocess.run(["node", "--experimental-websocket", "-e",
                                      "process.exit(typeof WebSocket === 'function' ? 0 : 1)"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     timeout=30).returncode == 0 if shutil_which("node") else False
            if node_ok:
                for url in (ws_url + "/ws/echo", wss_url + "/ws/echo"):
                    r = subprocess.run(["node", "--experimental-websocket", "-e", NODE_CLIENT,
                                        url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       timeout=60, env=dict(os.environ,
                                                            NODE_TLS_REJECT_UNAUTHORIZED="0"))
                    out = r.stdout.decode(errors="replace")
                    check(r.returncode == 0 and "closed 1000 all" in out,
                          "Node's WebSocket to %s: %r %r" % (url, out, r.stderr[-500:]))
                print("Node's WebSocket (undici) over ws:// and wss://: echoed, closed 1000")
            else:
                print("Node without a WebSocket client: skipped")

            # (c) curl's Upgrade: the 101's head
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            r = subprocess.run(["curl", "-s", "--http1.1", "-m", "20", "-D", "-", "-o",
                                os.devnull, "-H", "Connection: Upgrade",
                                "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Key: " + key,
                                "-H", "Sec-WebSocket-Version: 13",
                                "-H", "Sec-WebSocket-Protocol: superchat, chat",
                                "-H", "Origin: https://app.example",
                                ws_url.replace("ws:", "http:") + "/ws/bye"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            head = r.stdout.decode(errors="replace")
            lines = head.split("\r\n")
            fields = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                fields.setdefault(k.strip().lower(), []).append(v.strip())
            check(lines[0].startswith("HTTP/1.1 101"), "curl: the status line %r" % lines[0])
            check(fields.get("upgrade") == ["websocket"], "101: Upgrade %r" % fields)
            check([v.lower() for v in fields.get("connection", [])] == ["upgrade"],
                  "101: Connection %r" % fields)
            check(fields.get("sec-websocket-accept") == ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
                  "101: Sec-WebSocket-Accept (RFC 6455 §4.2.2's example) %r" % fields)
            check(fields.get("sec-websocket-protocol") in (["chat"], ["superchat"]),  # its pick
                  "101: Sec-WebSocket-Protocol %r" % fields)
            check("content-length" not in fields and "transfer-encoding" not in fields,
                  "101: no body framing %r" % fields)
            seen = {k.lower(): v for k, v in backend.seen.get("/ws/bye", {}).items()}
            check(seen.get("origin") == "https://app.example", "Origin passed on: %r" % seen)
            check(seen.get("sec-websocket-key") == key, "the client's key passed on: %r" % seen)
            check(seen.get("upgrade", "").lower() == "websocket" and
                  "upgrade" in seen.get("connection", "").lower(),
                  "the backend got an Upgrade: %r" % seen)
            check(seen.get("sec-websocket-protocol") == "superchat, chat",
                  "subprotocols passed on: %r" % seen)
            print("curl's Upgrade: 101 with Upgrade: websocket, Connection: Upgrade, the right "
                  "Sec-WebSocket-Accept and the chosen subprotocol; Origin and the key reached "
                  "the backend")

            # (d) the backend refuses: its answer, no tunnel, HTTP/1.1 goes on
            for path, want in (("/ws/forbidden", 403), ("/ws/plain", 200)):
                st = asyncio.run(py_status(ws_url + path, path))
                check(st == want, "%s: the client saw %r, wanted %d" % (path, st, want))
                c, head, rest = raw_upgrade(hp, path)
                check(head.startswith("HTTP/1.1 %d" % want), "%s raw: %r" % (path, head))
                n = int([l.split(":")[1] for l in head.split("\r\n")
                         if l.lower().startswith("content-length")][0])
                body = rest
                while len(body) < n:
                    body += c.recv(65536)
                c.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
                h2, b2, _ = read_http_response(c, body[n:])
                check(h2.startswith("HTTP/1.1 200") and b2 == b"static\n",
                      "%s: the connection goes on in HTTP/1.1: %r %r" % (path, h2, b2))
                c.close()
            print("a backend's 403 and 200 to the Upgrade: passed back, no tunnel, the "
                  "connection still HTTP/1.1")

            # (e) a wrong Sec-WebSocket-Accept: 502; a client without a key: 400
            st = asyncio.run(py_status(ws_url + "/bad/x", "wrong accept"))
            check(st == 502, "a wrong Sec-WebSocket-Accept: %r, wanted 502" % st)
            c, head, _ = raw_upgrade(hp, "/ws/echo", key="short")
            check(head.startswith("HTTP/1.1 400"), "no valid key: %r" % head)
            c.close()
            st = asyncio.run(py_status(ws_url + "/h2ws/ws/echo", "h2c backend"))
            check(st == 502, "a WebSocket to an h2c:// backend: %r, wanted 502" % st)
            time.sleep(0.3)
            log = open(elog).read()
            check("Sec-WebSocket-Accept" in log and "RFC 8441" in log,
                  "the error log says why: %r" % log[-1500:])
            print("a 101 with a wrong Sec-WebSocket-Accept: 502; no valid key: 400; an h2c "
                  "backend: 502 (no RFC 8441 behind), each logged")

            # (f) either side ending the tunnel ends the other's
            backend.events.clear()
            code = asyncio.run(py_drop(ws_url + "/ws/drop"))
            check(code == 1006, "the backend's drop: the client's connection ended (%r)" % code)
            c, head, _ = raw_upgrade(hp, "/ws/wait")
            check(head.startswith("HTTP/1.1 101"), "/ws/wait: %r" % head)
            t0 = time.monotonic()
            c.close()
            e = backend.wait_event(lambda e: e[0] == "closed" and e[1] == "/ws/wait", 15)
            check(e is not None and e[2] == 1006,
                  "the client's close reached the backend: %r" % (e,))
            print("the backend cutting the tunnel ends the client's connection; the client's "
                  "close ends the backend's (%.2f s)" % (time.monotonic() - t0))

            # (g) slow readers: loom holds little whichever side is slow
            base = rss_kb(s.proc.pid)
            peak = RssPeak(s.proc.pid)
            c, head, rest = raw_upgrade(hp, "/ws/flood", rcvbuf=64 * 1024)
            check(head.startswith("HTTP/1.1 101"), "/ws/flood: %r" % head)
            want, got, t0 = 64 * (MIB + 10), len(rest), time.monotonic()
            while got < want:
                d = c.recv(64 * 1024)
                check(d, "the flood ended at %d of %d" % (got, want))
                got += len(d)
                time.sleep(0.004)
            c.sendall(client_frame(8, b"\x03\xe8"))
            c.close()
            down = time.monotonic() - t0
            c, head, rest = raw_upgrade(hp, "/ws/sink")
            check(head.startswith("HTTP/1.1 101"), "/ws/sink: %r" % head)
            t0 = time.monotonic()
            frame = client_frame(2, b"\x5a" * MIB)
            for _ in range(64):
                c.sendall(frame)
            data = rest
            while b"got" not in data:
                d = c.recv(4096)
                check(d, "the sink's answer: %r" % data)
                data += d
            check(b"got %d" % (64 * MIB) in data, "the sink took it all: %r" % data)
            c.sendall(client_frame(8, b"\x03\xe8"))
            c.close()
            up = time.monotonic() - t0
            top = peak.stop()
            growth = (top - base) / 1024
            print("slow readers: 64 MiB down in %.1f s, 64 MiB up in %.1f s; loom serve's RSS "
                  "%.1f MiB before, peak %.1f MiB (growth %.1f MiB)" %
                  (down, up, base / 1024, top / 1024, growth))
            check(growth < 24, "the tunnel's memory grew %.1f MiB (bounded buffers?)" % growth)
    finally:
        stop_bad.set()
        backend.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def shutil_which(name):
    import shutil
    return shutil.which(name)


if __name__ == "__main__":
    main(test)
