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
   of the head, the connection closed within 3 s (the server's FIN, then
   its final close, which makes our sending fail; it reads and discards at
   most ~64 KiB of the body: what the attacker manages to send before the
   close stays small, at most that and the kernel's buffers);
 - h1_too_large: HTTP/1.1 Content-Length over the limit, the body sent:
   413 at once, and the connection closed within 3 s.

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
    connection fails (the server's final close resets it) or the source
    ends; returns (socket, state, thread, t0): state["pushed"] octets
    accepted by the kernel, state["failed"] the time the sending failed."""
    s = h1_connect(t.server.http_port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    state = {"pushed": 0, "failed": None}

    def sender():
        for piece in body_source():
            try:
                s.sendall(piece)
                state["pushed"] += len(piece)
            except OSError:
                state["failed"] = time.monotonic()
                return
    t0 = time.monotonic()
    s.sendall(head)
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    return s, state, th, t0


def h1_case(t, what, head, body_source, status, close_within):
    """The answer `status` within 1 s of the head, then the connection
    closed by the server within `close_within` s: its FIN (what it sends
    is done), then its final close (which resets our sending)."""
    with t.measure() as m:
        s, state, th, t0 = h1_post(t, head, body_source)
        st, hdrs, body, rest = h1_read_response(s, t0 + 1.0)
        t_resp = time.monotonic() - t0
        how, t_eof, _ = wait_eof(s, t0 + close_within + 0.5)
        th.join(max(0.0, t0 + close_within + 0.5 - time.monotonic()))
        t_fail = state["failed"] - t0 if state["failed"] else None
        shut(s)
        th.join(10)
    t.note("%s: %s after %.2f s, %s after %.2f s, sending failed after %s, %d octets pushed" % (
        what, st, t_resp, how or "no FIN", t_eof - t0,
        "%.2f s" % t_fail if t_fail is not None else "-", state["pushed"]))
    check(st == status, "%s: no %d within 1 s of the head (%r)" % (what, status,
                                                                 st if st else body))
    check(how is not None and t_eof - t0 <= close_within,
          "%s: the server did not end its side within %.1f s (%s)" % (what, close_within, how))
    check(t_fail is not None and t_fail <= close_within,
          "%s: the server still takes the body %.1f s after the head (its socket not "
          "closed)" % (what, close_within))
    check(state["pushed"] <= H1_PUSHED_MAX, "%s: the attacker pushed %d octets before the "
          "close: the server reads the body (bound %d)" % (what, state["pushed"], H1_PUSHED_MAX))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_h1_endless(t):
    head = (b"POST /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    piece = b"%x\r\n" % CHUNK + b"c" * CHUNK + b"\r\n"

    def endless():
        end = time.monotonic() + 6
        while time.monotonic() < end:
            yield piece
    h1_case(t, "chunked POST without end", head, endless, 405, 3.0)


def case_h1_too_large(t):
    head = (b"POST /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" %
            (2 * MAX_BODY))

    def announced():  # the announced body, slowly enough to see the close
        end = time.monotonic() + 6
        while time.monotonic() < end:
            yield b"d" * CHUNK
            time.sleep(0.01)
    h1_case(t, "Content-Length %d" % (2 * MAX_BODY), head, announced, 413, 3.0)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("h2_endless", case_h2_endless), ("h2_too_large", case_h2_too_large),
         ("h1_endless", case_h1_endless), ("h1_too_large", case_h1_too_large)]


if __name__ == "__main__":
    main(CASES)
