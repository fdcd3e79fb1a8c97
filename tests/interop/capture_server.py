"""A capturing server for the client tests: what a client sent, as JSON
lines on stdout, one per request:

    {"proto": "h2"|"h2c"|"http/1.1", "method": ..., "path": ...,
     "authority": ... (":authority" over HTTP/2, Host over HTTP/1.1),
     "headers": [[name, value], ...] (the rest, names lowercased, in order),
     "body": hex}

Three listeners: TLS with ALPN h2 and http/1.1 (h2 on Python's h2, Debian
python3-h2), cleartext HTTP/2 by prior knowledge, and cleartext HTTP/1.1
that ignores an Upgrade (answers in HTTP/1.1, as servers without h2c do).
Every request gets 200 "ok\\n". Connection-specific fields received over
HTTP/2 are recorded, not refused (h2's header validation is off): the
test sees exactly what came.

    /usr/bin/python3 capture_server.py TLS_PORT H2C_PORT H1_PORT CERT KEY

Prints "ready" first. Stops on SIGTERM."""
import json
import signal
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions

tls_port, h2c_port, h1_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
certfile, keyfile = sys.argv[4], sys.argv[5]
lock = threading.Lock()


def record(proto, method, path, authority, headers, body):
    with lock:
        sys.stdout.write(json.dumps({"proto": proto, "method": method, "path": path,
                                     "authority": authority, "headers": headers,
                                     "body": body.hex()}) + "\n")
        sys.stdout.flush()


def serve_h2(sock, proto):
    cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                    validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = [ev.headers, bytearray()]
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id][1] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if isinstance(ev, h2.events.StreamEnded):
                    hs, body = streams.pop(ev.stream_id)
                    pseudo = {k: v for k, v in hs if k.startswith(":")}
                    rest = [[k, v] for k, v in hs if not k.startswith(":")]
                    record(proto, pseudo.get(":method"), pseudo.get(":path"),
                           pseudo.get(":authority"), rest, bytes(body))
                    head = pseudo.get(":method") == "HEAD"
                    conn.send_headers(ev.stream_id, [(":status", "200"),
                                                     ("content-length", "3")], end_stream=head)
                    if not head:
                        conn.send_data(ev.stream_id, b"ok\n", end_stream=True)
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def serve_h1(sock, proto):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = sock.recv(65536)
                if not d:
                    return
                buf += d
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = []
            for l in lines[1:]:
                k, _, v = l.partition(":")
                headers.append([k.strip().lower(), v.strip()])
            length = sum(int(v) for k, v in headers if k == "content-length") if any(
                k == "content-length" for k, _ in headers) else 0
            while len(buf) < length:
                d = sock.recv(65536)
                if not d:
                    return
                buf += d
            body, buf = buf[:length], buf[length:]
            host = [v for k, v in headers if k == "host"]
            rest = [h for h in headers if h[0] != "host"]
            record(proto, method, path, host[0] if host else None, rest, body)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" +
                         (b"" if method == "HEAD" else b"ok\n"))
    except OSError:
        return
    finally:
        sock.close()


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def accept_loop(s, handle):
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def tls_conn(c):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (OSError, ssl.SSLError):
        c.close()
        return
    if t.selected_alpn_protocol() == "h2":
        serve_h2(t, "h2")
    else:
        serve_h1(t, "http/1.1")


def h2c_conn(c):
    preface = b""
    while len(preface) < 24:
        d = c.recv(24 - len(preface))
        if not d:
            c.close()
            return
        preface += d
    # h2 wants the preface through receive_data: hand it back
    class Pre:
        def __init__(self, sock, first):
            self.sock, self.first = sock, first

        def recv(self, n):
            if self.first:
                f, self.first = self.first, b""
                return f
            return self.sock.recv(n)

        def sendall(self, d):
            self.sock.sendall(d)

        def close(self):
            self.sock.close()
    serve_h2(Pre(c, preface), "h2c")


def main():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    for port, handle in ((tls_port, tls_conn), (h2c_port, h2c_conn),
                         (h1_port, lambda c: serve_h1(c, "http/1.1"))):
        threading.Thread(target=accept_loop, args=(listener(port), handle), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
