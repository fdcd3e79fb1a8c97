#!/usr/bin/python3
"""Endless request bodies: the server serves static files and wants no
request body, so a body must cost it little and end soon.

 - h2_endless: POST /1k.bin, then DATA without end. Target (RFC 9113 §8.1,
   docs/security.md): a 405 response with END_STREAM within 1 s; the rest
   of the body gets no more window (no WINDOW_UPDATE for the stream), and
   once the attacker has spent the stream's window (1 MiB), RST_STREAM
   NO_ERROR within 1 s; if the attacker keeps sending DATA on that stream
   (64 KiB past the window, 1 MiB + 64 KiB after the response in all), the
   connection ends with GOAWAY FLOW_CONTROL_ERROR;
 - h2_too_large: POST with content-length 2000000, over the new
   `--max-request-body` (default 1 MiB; the test relies on the default):
   413 at once;
 - h1_endless: an HTTP/1.1 chunked POST that never ends: its 405 within 1 s
   of the head, the connection closed within 3 s (the server reads and
   discards at most ~64 KiB of it: what the attacker manages to send
   before the close stays small, at most the kernel's buffers);
 - h1_too_large: HTTP/1.1 Content-Length over the limit: 413 at once, and
   the connection closed.

Usage: request_body.py LOOM"""
import socket
import threading
import time

from attack_common import (FLOW_CONTROL_ERROR, NO_ERROR, check, code_name, data_frame, expect_goaway,
                           h1_connect, h1_read_response, headers_frame, main, request_block,
                           wait_eof)

MAX_BODY = 1 << 20   # --max-request-body's default
STREAM_WINDOW = 1 << 20  # the server's SETTINGS_INITIAL_WINDOW_SIZE
CHUNK = 16384
# Bounds. Measured (ASan debug build, shared 2-core machine): < 0.01 s of
# CPU and < 0.3 MiB of RSS per case. An undefended server reads (and throws
# away) an endless body for as long as it comes: main before the lingering
# close spent 2.7 s of CPU in 3.5 s reading 9 GB of chunks over loopback.
CPU_MAX, RSS_MAX_KIB = 0.5, 8 * 1024
# octets an HTTP/1.1 attacker may push before the close: 64 KiB read by the
# server plus the kernel's socket buffers on both sides (our SO_SNDBUF is
# set to 64 KiB); reading the body for 3 s would take hundreds of MiB
H1_PUSHED_MAX = 4 << 20


def case_h2_endless(t):
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        c.send(headers_frame(1, request_block("/1k.bin", method="POST"), end_stream=False))
        c.wait(lambda: 1 in c.ended or c.rst or c.goaway, 2.0)
        st = c.status.get(1)
        t_end = c.ended.get(1)
        t.note("405 after %s, END_STREAM after %s" % (
            "%.3f s" % (st[0][0] - t0) if st else "-", "%.3f s" % (t_end - t0) if t_end else "-"))
        check(st and st[0][1] == 405 and st[0][0] - t0 <= 1.0,
              "POST with an endless body: no 405 within 1 s: %s" % c.describe())
        check(t_end is not None and t_end - t0 <= 1.0,
              "the 405 does not end the stream (END_STREAM) within 1 s: %s" % c.describe())
        # the body goes on within the stream's window, as a polite sender's
        # would: the window is not given back after the response
        window = c.server_settings.get(4, 65535)  # SETTINGS_INITIAL_WINDOW_SIZE
        chunk = data_frame(1, b"b" * CHUNK)
        sent = 0
        while sent + CHUNK <= window and not c.rst and not c.goaway and not c.closed:
            if not c.send(chunk):
                break
            sent += CHUNK
        if sent < window and not c.rst:
            c.send(data_frame(1, b"b" * (window - sent)))
            sent = window
        t_spent = time.monotonic()
        c.wait(lambda: c.rst or c.goaway, 1.0)
        rst = [r for r in c.rst if r[1] == 1]
        credit = c.window_in.get(1, 0)
        t.note("%d octets of body sent (the window), stream window given back %d, RST_STREAM %s"
               % (sent, credit, "%s %.3f s after the window was spent" % (
                   code_name(rst[0][2]), rst[0][0] - t_spent) if rst else "none"))
        check(rst and rst[0][2] == NO_ERROR and rst[0][0] >= t_end,
              "no RST_STREAM NO_ERROR after the 405 within 1 s of the stream's window spent "
              "(%d octets): %s" % (sent, c.describe()))
        check(credit == 0, "the server gave the stream %d octets of window after its response "
              "(RFC 9113 §8.1: it wants no more of the body)" % credit)
        # the attacker goes on regardless, past the window
        t1 = time.monotonic()
        after = 0
        while after < 65536 and not c.goaway and not c.closed:
            if not c.send(chunk):
                break
            after += CHUNK
        took = expect_goaway(c, FLOW_CONTROL_ERROR, 2.0, "DATA past the window after our "
                             "RST_STREAM", t1)
        check(c.wait_closed(3), "still open 3 s after the GOAWAY")
        c.close()
    t.note("then %d octets past the window: GOAWAY FLOW_CONTROL_ERROR after %.2f s "
           "(%d of body after the response in all)" % (after, took, sent + after))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_h2_too_large(t):
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        c.send(headers_frame(1, request_block("/1k.bin", method="POST",
                                              extra=[("content-length", str(2 * MAX_BODY))]),
                             end_stream=False))
        c.wait(lambda: c.status.get(1) or c.rst or c.goaway, 2.0)
        st = c.status.get(1)
        t.note("content-length %d: %s" % (2 * MAX_BODY, "status %d after %.3f s" % (
            st[0][1], st[0][0] - t0) if st else c.describe()))
        check(st and st[0][1] == 413 and st[0][0] - t0 <= 1.0,
              "POST with content-length %d (over --max-request-body's 1 MiB): no 413 within "
              "1 s: %s" % (2 * MAX_BODY, c.describe()))
        c.close()
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def shut(s):
    """Closes s, waking the sender thread if it waits in send()."""
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


def h1_post(t, head, body_source):
    """Sends head, then body_source's octets from a thread until the
    connection fails; returns (socket, pushed-octets holder, thread, t0)."""
    s = h1_connect(t.server.http_port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    pushed = [0]
    stop = threading.Event()

    def sender():
        for piece in body_source():
            if stop.is_set():
                return
            try:
                s.sendall(piece)
                pushed[0] += len(piece)
            except OSError:
                return
    t0 = time.monotonic()
    s.sendall(head)
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    return s, pushed, th, stop, t0


def case_h1_endless(t):
    head = (b"POST /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    piece = b"%x\r\n" % CHUNK + b"c" * CHUNK + b"\r\n"

    def endless():
        end = time.monotonic() + 6
        while time.monotonic() < end:
            yield piece
    with t.measure() as m:
        s, pushed, th, stop, t0 = h1_post(t, head, endless)
        st, hdrs, body, rest = h1_read_response(s, t0 + 1.0)
        t_resp = time.monotonic() - t0
        how, t_close, _ = wait_eof(s, t0 + 3.5)
        stop.set()
        shut(s)
        th.join(10)
    t.note("chunked POST without end: %s after %.2f s, %s after %.2f s, %d octets pushed" % (
        st, t_resp, how or "still open", t_close - t0, pushed[0]))
    check(st == 405, "HTTP/1.1 chunked POST without end: no 405 within 1 s of the head (%r)" %
          (st if st else body))
    check(how is not None and t_close - t0 <= 3.0,
          "the connection is not closed within 3 s of the head (%s)" % how)
    check(pushed[0] <= H1_PUSHED_MAX, "the attacker pushed %d octets before the close: the "
          "server reads the body (bound %d)" % (pushed[0], H1_PUSHED_MAX))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_h1_too_large(t):
    head = (b"POST /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" %
            (2 * MAX_BODY))

    def some():
        yield b"d" * 4096
    with t.measure() as m:
        s, pushed, th, stop, t0 = h1_post(t, head, some)
        st, hdrs, body, rest = h1_read_response(s, t0 + 1.0)
        t_resp = time.monotonic() - t0
        how, t_close, _ = wait_eof(s, t0 + 3.0)
        stop.set()
        shut(s)
        th.join(10)
    t.note("Content-Length %d: %s after %.2f s, %s after %.2f s" % (
        2 * MAX_BODY, st, t_resp, how or "still open", t_close - t0))
    check(st == 413, "HTTP/1.1 Content-Length %d (over 1 MiB): no 413 within 1 s (%r)" %
          (2 * MAX_BODY, st if st else body))
    check(how is not None and t_close - t0 <= 2.0,
          "the connection is not closed within 2 s after the 413 (%s)" % how)
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


if __name__ == "__main__":
    main([("h2_endless", case_h2_endless), ("h2_too_large", case_h2_too_large),
          ("h1_endless", case_h1_endless), ("h1_too_large", case_h1_too_large)])
