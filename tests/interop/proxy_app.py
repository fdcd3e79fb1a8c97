"""Backends for tests/interop/serve_proxy.py.

As a WSGI application (`gunicorn proxy_app:app`, `hypercorn proxy_app:app`):

  /api/headers          the request as JSON: method, path, headers, backend
  /api/upload           POST: the body's length and sha256, read as it comes
  /api/download?n=N     N octets of a known pattern, with Content-Length
  /api/stream?n=N       the same without Content-Length (chunked over HTTP/1.1)
  /api/slow?ms=M        the answer after M ms
  /api/drip?n=N&ms=M    N small pieces, M ms apart; "gone" in the log if the
                        client (the proxy) stops taking them
  /api/who              the backend's name (BACKEND_NAME)
  anything else         404

As a raw server for faults (`proxy_app.py fault PORT`), per path:
  /garbage   not HTTP at all;  /die   a head, part of the body, the close;
  /silent    reads the request and never answers;
  /trailers  a chunked body with trailers (X-Sum, X-Check).

pattern(n): the octets of /api/download?n=N, for the test to compare."""
import hashlib
import os
import sys
import time

BLOCK = hashlib.sha256(b"loom").digest() * 32768  # 1 MiB


def pattern_sha256(n):
    h = hashlib.sha256()
    while n:
        k = min(n, len(BLOCK))
        h.update(BLOCK[:k])
        n -= k
    return h.hexdigest()


def gen(n):
    while n:
        k = min(n, len(BLOCK))
        yield BLOCK[:k]
        n -= k


def qs(env, name, default):
    for part in env.get("QUERY_STRING", "").split("&"):
        k, _, v = part.partition("=")
        if k == name:
            return int(v)
    return default


def log(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def app(env, start):
    path = env.get("PATH_INFO", "")
    if "/api/" in path:  # a route's prefix before it (/unix/api/x, /h2/api/x)
        path = path[path.index("/api/"):]
    name = os.environ.get("BACKEND_NAME", "backend")
    if path == "/api/headers":
        import json
        hs = {k[5:].lower().replace("_", "-"): v for k, v in env.items() if k.startswith("HTTP_")}
        if env.get("CONTENT_TYPE"):
            hs["content-type"] = env["CONTENT_TYPE"]
        body = json.dumps({"method": env["REQUEST_METHOD"], "path": path,
                           "query": env.get("QUERY_STRING", ""), "headers": hs,
                           "backend": name}).encode()
        start("200 OK", [("Content-Type", "application/json"),
                         ("Content-Length", str(len(body)))])
        return [body]
    if path == "/api/upload":
        h, n = hashlib.sha256(), 0
        inp = env["wsgi.input"]
        while True:
            b = inp.read(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        body = ("%d %s\n" % (n, h.hexdigest())).encode()
        start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/api/download":
        n = qs(env, "n", 1024)
        start("200 OK", [("Content-Type", "application/octet-stream"),
                         ("Content-Length", str(n))])
        return gen(n)
    if path == "/api/stream":
        start("200 OK", [("Content-Type", "application/octet-stream")])
        return gen(qs(env, "n", 1024))
    if path == "/api/slow":
        time.sleep(qs(env, "ms", 1000) / 1000)
        start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"slow\n"]
    if path == "/api/drip":
        n, ms = qs(env, "n", 100), qs(env, "ms", 100)
        start("200 OK", [("Content-Type", "text/plain")])

        def drip():
            try:
                for i in range(n):
                    yield b"%d\n" % i
                    time.sleep(ms / 1000)
            except GeneratorExit:
                log("gone after a drip")
                raise
            log("drip done")
        return drip()
    if path == "/api/who":
        body = (name + "\n").encode()
        start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    start("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]


def fault(port):
    import socket
    import threading
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)

    def one(c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                c.close()
                return
            data += d
        line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        path = line.split(" ")[1] if " " in line else ""
        log("fault " + path)
        if path.endswith("/garbage"):
            c.sendall(b"this is not HTTP at all\r\n\r\n")
            c.close()
        elif path.endswith("/die"):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
            time.sleep(0.2)
            c.close()
        elif path.endswith("/trailers"):
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n"
                      b"Connection: close\r\n\r\n"
                      b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\nX-Check: ok\r\n\r\n")
            time.sleep(0.5)
            c.close()
        elif path.endswith("/silent"):
            time.sleep(30)
            c.close()
        else:
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            c.close()

    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def ws(port):
    """A WebSocket echo server (Debian python3-websockets): text back
    upper-cased, binary back as it came."""
    import asyncio
    import websockets

    async def echo(sock, path=None):
        async for m in sock:
            await sock.send(m.upper() if isinstance(m, str) else m)

    async def main():
        async with websockets.serve(echo, "127.0.0.1", port, max_size=1 << 22):
            print("ready", flush=True)
            await asyncio.Future()
    asyncio.run(main())


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "fault":
    fault(int(sys.argv[2]))
if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "ws":
    ws(int(sys.argv[2]))


def _asgi():
    """The same application for hypercorn (ASGI), through its WSGI adapter."""
    try:
        from hypercorn.middleware import AsyncioWSGIMiddleware
    except ImportError:
        return None
    return AsyncioWSGIMiddleware(app, max_body_size=64 << 20)


asgi = _asgi()
