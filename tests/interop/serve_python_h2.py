#!/usr/bin/python3
"""loom serve's demo site against Python's h2 (python3-h2) as the client,
over a raw TLS socket (ssl module, ALPN h2) and over h2c (prior knowledge):

 - GET /: 200 and the page's bytes; PushedStreamReceived events for
   /style.css and /app.js (promised on stream 1, before the page's
   END_STREAM), each pushed response 200 with the files' full bodies;
 - POST /index.html with a 200 000-octet body sent under flow control: a
   405 arrives, the whole body goes out, no stream reset with an error;
 - a GET on the same connection afterwards; then GOAWAY from our side and
   a clean close.

Usage: serve_python_h2.py LOOM"""
import os
import shutil
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events

from serve_common import Server, check, main, make_tmp, tls_h2

TIMEOUT = 20.0


class Stream:
    def __init__(self):
        self.headers = []  # informational and final response header lists
        self.data = bytearray()
        self.ended = False
        self.reset = None
        self.pushed_path = None
        self.parent = None


class Client:
    def __init__(self, sock, authority, scheme):
        self.sock = sock
        self.authority = authority
        self.scheme = scheme
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.streams = {}
        self.order = []  # (event name, stream id)
        self.terminated = None
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def st(self, sid):
        return self.streams.setdefault(sid, Stream())

    def pump(self, until, what, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while not until():
            left = end - time.monotonic()
            check(left > 0, "timed out waiting for %s" % what)
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            check(data, "the server closed the connection while waiting for %s" % what)
            for ev in self.conn.receive_data(data):
                self.on_event(ev)
            self.flush()

    def on_event(self, ev):
        E = h2.events
        if isinstance(ev, (E.ResponseReceived, E.InformationalResponseReceived)):
            self.st(ev.stream_id).headers.append(dict(ev.headers))
            self.order.append(("headers", ev.stream_id))
        elif isinstance(ev, E.DataReceived):
            self.st(ev.stream_id).data += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, E.StreamEnded):
            self.st(ev.stream_id).ended = True
            self.order.append(("ended", ev.stream_id))
        elif isinstance(ev, E.StreamReset):
            self.st(ev.stream_id).reset = ev.error_code
            self.order.append(("reset", ev.stream_id))
        elif isinstance(ev, E.PushedStreamReceived):
            s = self.st(ev.pushed_stream_id)
            s.pushed_path = dict(ev.headers).get(":path")
            s.parent = ev.parent_stream_id
            self.order.append(("push", ev.pushed_stream_id))
        elif isinstance(ev, E.ConnectionTerminated):
            self.terminated = ev

    def headers(self, method, path, extra=()):
        return [(":method", method), (":scheme", self.scheme), (":authority", self.authority),
                (":path", path)] + list(extra)

    def get(self, path):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, self.headers("GET", path), end_stream=True)
        self.flush()
        self.pump(lambda: self.st(sid).ended or self.st(sid).reset is not None, "GET " + path)
        return sid

    def post(self, path, body):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, self.headers("POST", path, [
            ("content-type", "application/octet-stream"),
            ("content-length", str(len(body)))]), end_stream=False)
        self.flush()
        off = 0
        while off < len(body):
            s = self.st(sid)
            if s.reset is not None:
                break
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                       len(body) - off)
            if room <= 0:
                self.pump(lambda: self.st(sid).reset is not None or
                          self.conn.local_flow_control_window(sid) > 0, "window for POST body")
                continue
            self.conn.send_data(sid, body[off:off + room], end_stream=off + room == len(body))
            off += room
            self.flush()
        self.pump(lambda: self.st(sid).ended or self.st(sid).reset is not None, "POST " + path)
        return sid, off


def connect(url, tls):
    host, port = url.split("//")[1].rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    return tls_h2(raw) if tls else raw


def run_client(url, tls, demo, label):
    sock = connect(url, tls)
    try:
        c = Client(sock, url.split("//")[1], "https" if tls else "http")
        sid = c.get("/")
        page = c.st(sid)
        check(page.reset is None, "%s: GET / reset %r" % (label, page.reset))
        check(page.headers and page.headers[-1].get(":status") == "200",
              "%s: GET / headers %r" % (label, page.headers))
        check(bytes(page.data) == open(os.path.join(demo, "index.html"), "rb").read(),
              "%s: GET / body differs from index.html" % label)
        pushed = {s.pushed_path: psid for psid, s in c.streams.items() if s.pushed_path}
        check(sorted(pushed) == ["/app.js", "/style.css"], "%s: pushes %r" % (label, pushed))
        c.pump(lambda: all(c.st(p).ended or c.st(p).reset is not None for p in pushed.values()),
               "the pushed responses")
        for path, psid in pushed.items():
            s = c.st(psid)
            check(s.parent == sid and psid % 2 == 0, "%s: push %s on stream %d parent %r" %
                  (label, path, psid, s.parent))
            check(c.order.index(("push", psid)) < c.order.index(("ended", sid)),
                  "%s: PUSH_PROMISE for %s after the page ended" % (label, path))
            check(s.reset is None and s.headers[-1].get(":status") == "200",
                  "%s: pushed %s: reset %r headers %r" % (label, path, s.reset, s.headers))
            want = open(os.path.join(demo, path[1:]), "rb").read()
            check(bytes(s.data) == want, "%s: pushed %s body (%d octets) differs (%d)" %
                  (label, path, len(s.data), len(want)))

        body = bytes(i % 251 for i in range(200000))
        psid, sent = c.post("/index.html", body)
        s = c.st(psid)
        check(s.headers and s.headers[-1].get(":status") == "405",
              "%s: POST headers %r" % (label, s.headers))
        check(s.reset in (None, 0), "%s: POST stream reset with error %r" % (label, s.reset))
        check(sent == len(body), "%s: only %d of %d body octets went" % (label, sent, len(body)))
        check(bytes(s.data) == b"405 Method Not Allowed\n", "%s: POST body %r" % (label, s.data))

        gsid = c.get("/img/07.svg")
        g = c.st(gsid)
        check(g.headers[-1].get(":status") == "200" and bytes(g.data) ==
              open(os.path.join(demo, "img", "07.svg"), "rb").read(),
              "%s: GET after POST: %r" % (label, g.headers))
        check(c.terminated is None, "%s: the server sent GOAWAY %r" % (label, c.terminated))
        c.conn.close_connection()
        c.flush()
        print("%s: ok (page, 2 pushes, POST 405 after %d octets, GET)" % (label, sent))
    finally:
        sock.close()


def test(argv):
    loom = argv[0]
    tmp = make_tmp("pyh2")
    try:
        with Server(loom, tmp=tmp) as s:
            demo = os.path.join(s.cache, "loom", "demo-site")
            run_client(s.https, True, demo, "TLS h2")
            run_client(s.http, False, demo, "h2c")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
