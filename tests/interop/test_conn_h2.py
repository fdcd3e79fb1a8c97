#!/usr/bin/python3
"""loom's connection engine against Python's h2 (python3-h2), over TCP on
loopback, with tests/interop/conn_driver.c running the loom side.

(a) loom server, h2 client: GET / (a 100000-octet body and a push of
    /pushed.css) and POST /echo with a 70000-octet body echoed back.
(b) loom client, h2 server: GET / (a 100000-octet body and a push of
    /pushed.js) and POST /upload with a 70000-octet body echoed back.

Usage: test_conn_h2.py CONN_DRIVER. Every wait is bounded; only the driver
processes this script starts are ever killed."""
import socket
import subprocess
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

TIMEOUT = 20.0


def pattern(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))


def fnv(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return "%08x" % h


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Driver:
    """A conn_driver child; its stdout lines are collected by a thread."""

    def __init__(self, exe, mode, port):
        self.proc = subprocess.Popen([exe, mode, str(port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, prefix, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    raise AssertionError("driver never printed %r; got %r" % (prefix, self.lines))
                self.cond.wait(min(left, 0.2))

    def finish(self, timeout=TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("driver did not exit; output %r" % self.lines)
        self.reader.join(timeout=5)
        err = self.proc.stderr.read()
        return rc, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def send_body(conn, sock, sid, body, pump):
    """Sends body on sid within the peer's windows and frame size."""
    off = 0
    end = time.monotonic() + TIMEOUT
    while off < len(body):
        room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                   len(body) - off)
        if room > 0:
            conn.send_data(sid, body[off:off + room], end_stream=off + room == len(body))
            off += room
            sock.sendall(conn.data_to_send())
            continue
        check(time.monotonic() < end, "window never reopened on stream %d" % sid)
        pump()  # wait for WINDOW_UPDATE


def loom_server(exe):
    drv = Driver(exe, "server", 0)
    sock = None
    try:
        port = int(drv.wait_line("PORT ").split()[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())

        responses, bodies, ended, promised = {}, {}, set(), {}
        settings_seen = []

        def pump():
            data = sock.recv(65536)
            check(data, "loom server closed the connection early")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    settings_seen.append(ev)
                elif isinstance(ev, h2.events.ResponseReceived):
                    responses[ev.stream_id] = dict(ev.headers)
                elif isinstance(ev, h2.events.PushedStreamReceived):
                    promised[ev.pushed_stream_id] = (ev.parent_stream_id, dict(ev.headers))
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended.add(ev.stream_id)
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise AssertionError("unexpected %r" % ev)
            sock.sendall(conn.data_to_send())

        authority = "127.0.0.1:%d" % port
        conn.send_headers(1, [(":method", "GET"), (":scheme", "http"),
                              (":authority", authority), (":path", "/")], end_stream=True)
        post = pattern(70000)
        conn.send_headers(3, [(":method", "POST"), (":scheme", "http"),
                              (":authority", authority), (":path", "/echo"),
                              ("content-length", str(len(post)))])
        sock.sendall(conn.data_to_send())
        send_body(conn, sock, 3, post, pump)

        end = time.monotonic() + TIMEOUT
        while not ({1, 3} <= ended and promised and set(promised) <= ended):
            check(time.monotonic() < end, "responses incomplete: ended %r" % ended)
            pump()

        check(settings_seen, "no SETTINGS from loom")
        check(responses[1][b":status"] == b"200", "GET / status %r" % responses[1])
        check(bodies.get(1) == pattern(100000), "GET / body differs")
        check(responses[3][b":status"] == b"200", "POST status %r" % responses[3])
        check(responses[3][b"content-length"] == b"70000", "POST content-length")
        check(bodies.get(3) == post, "POST echo differs")
        check(list(promised) == [2], "promised %r" % promised)
        parent, req = promised[2]
        check(parent == 1, "push on stream %d" % parent)
        check(req[b":path"] == b"/pushed.css" and req[b":method"] == b"GET", "push %r" % req)
        check(req[b":authority"] == authority.encode(), "push authority %r" % req)
        check(responses[2][b":status"] == b"200", "pushed status %r" % responses[2])
        check(bodies.get(2) == pattern(3000), "pushed body differs")

        conn.close_connection()
        sock.sendall(conn.data_to_send())
        sock.close()
        sock = None
        rc, err = drv.finish()
        check(rc == 0, "loom server exit %d: %r %s" % (rc, drv.lines, err))
        for want in ("REQUEST 1 GET /", "REQUEST 3 POST /echo", "PUSHED 1 2",
                     "ANSWERED 3 70000", "CLOSED 1 0", "CLOSED 2 0", "CLOSED 3 0"):
            check(want in drv.lines, "loom server did not print %r: %r" % (want, drv.lines))
        # h2's GOAWAY names the last stream it processed (the push, 2), code 0
        check("GOAWAY 2 0" in drv.lines, "loom server saw no GOAWAY: %r" % drv.lines)
        print("(a) loom server / h2 client: ok")
    finally:
        if sock:
            sock.close()
        drv.kill()


def loom_client(exe):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(TIMEOUT)
    port = lsock.getsockname()[1]
    drv = Driver(exe, "client", port)
    sock = None
    try:
        sock, _ = lsock.accept()
        sock.settimeout(TIMEOUT)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())

        requests, bodies, answered = {}, {}, set()
        closed = [False]
        pending = []  # (sid, data) still to send

        def pump():
            data = sock.recv(65536)
            if not data:
                closed[0] = True
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    requests[ev.stream_id] = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    pending.append(ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    check(ev.error_code == 0, "loom client GOAWAY %r" % ev)
                    closed[0] = True
                elif isinstance(ev, h2.events.StreamReset):
                    raise AssertionError("unexpected %r" % ev)
            sock.sendall(conn.data_to_send())

        end = time.monotonic() + TIMEOUT
        while not closed[0]:
            check(time.monotonic() < end, "loom client never finished: %r" % drv.lines)
            pump()
            while pending:
                sid = pending.pop(0)
                req = requests[sid]
                answered.add(sid)
                if req[b":path"] == b"/":
                    pid = conn.get_next_available_stream_id()
                    conn.push_stream(sid, pid, [(":method", "GET"), (":scheme", "http"),
                                                (":authority", req[b":authority"].decode()),
                                                (":path", "/pushed.js")])
                    conn.send_headers(pid, [(":status", "200"),
                                            ("content-type", "text/javascript")])
                    sock.sendall(conn.data_to_send())
                    send_body(conn, sock, pid, pattern(5000), pump)
                    body = pattern(100000)
                else:
                    body = bodies.get(sid, b"")
                conn.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))])
                sock.sendall(conn.data_to_send())
                send_body(conn, sock, sid, body, pump)

        check(answered == {1, 3}, "requests answered: %r" % answered)
        check(requests[1][b":method"] == b"GET" and requests[1][b":path"] == b"/", "GET")
        check(requests[3][b":method"] == b"POST" and requests[3][b":path"] == b"/upload", "POST")
        check(requests[3][b"content-length"] == b"70000", "POST content-length")
        check(bodies.get(3) == pattern(70000), "POST body differs")

        rc, err = drv.finish()
        check(rc == 0, "loom client exit %d: %r %s" % (rc, drv.lines, err))
        for want in ("SENT 1 3", "PROMISE 1 2 /pushed.js", "RESPONSE 1 200", "RESPONSE 2 200",
                     "RESPONSE 3 200",
                     "BODY 1 len=100000 fnv=%s" % fnv(pattern(100000)),
                     "BODY 2 len=5000 fnv=%s" % fnv(pattern(5000)),
                     "BODY 3 len=70000 fnv=%s" % fnv(pattern(70000)),
                     "CLOSED 1 0", "CLOSED 2 0", "CLOSED 3 0", "DONE"):
            check(want in drv.lines, "loom client did not print %r: %r" % (want, drv.lines))
        print("(b) loom client / h2 server: ok")
    finally:
        if sock:
            sock.close()
        lsock.close()
        drv.kill()


def main():
    exe = sys.argv[1]
    loom_server(exe)
    loom_client(exe)


if __name__ == "__main__":
    main()
