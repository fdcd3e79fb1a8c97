#!/usr/bin/python3
"""Control-frame floods (RFC 9113 §10.5), the attacker reading what the
server answers:

 - settings:        SETTINGS frames (each one acknowledged by the server);
 - ping:            PING frames (each one answered);
 - empty_data:      empty DATA frames without END_STREAM on an open stream;
 - priority:        PRIORITY frames on ever new (idle) streams;
 - priority_update: PRIORITY_UPDATE frames (RFC 9218) for idle streams;
 - unknown:         frames of an unknown type (ignored, RFC 9113 §5.5), a
                    control: the server just reads them, no GOAWAY, cheaply.

Target (the engine's existing defences, lib/recv.c): GOAWAY
ENHANCE_YOUR_CALM within 2 s, the connection then closed, and the answers
the server sent before (SETTINGS ACKs, PING ACKs) bounded.

Usage: floods.py LOOM"""
import struct
import time

from attack_common import (ENHANCE_YOUR_CALM, S_INITIAL_WINDOW_SIZE, check, data_frame,
                           expect_goaway, frame, headers_frame, main, ping, priority,
                           priority_update, request_block, settings)

# Bounds. Measured (ASan debug build, shared 2-core machine): each flood
# ends within ~0.02 s, costing the server < 0.01 s of CPU and < 0.1 MiB of
# RSS. An undefended server answers every SETTINGS and PING (its output
# queue growing when the attacker reads slowly) and spends CPU in
# proportion to the flood for as long as it lasts (a core against a fast
# attacker: unknown frames, which are only read, keep it busy at ~0.99 s of
# CPU per second at 560 MB/s).
CPU_MAX, RSS_MAX_KIB = 0.5, 8 * 1024
WITHIN = 2.0
MAX_ANSWERS = 1000  # ACKs the server may send before it gives up (the limit is 100/s)


def flood(t, what, make, settings_pairs=(), setup=b"", chunk=200):
    with t.measure() as m:
        c = t.h2(settings_pairs=settings_pairs)
        if setup:
            c.send(setup)
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 10 and not c.goaway and not c.closed:
            if not c.send(b"".join(make(k + i) for i in range(chunk))):
                break
            k += chunk
        took = expect_goaway(c, ENHANCE_YOUR_CALM, WITHIN, what, t0)
        check(c.wait_closed(3), "%s: still open 3 s after the GOAWAY: %s" % (what, c.describe()))
        c.close()
    answers = c.settings_acked + c.acks
    t.note("%s: GOAWAY 0xb after %.3f s, %d frames sent, %d answered" % (what, took, k, answers))
    check(answers <= MAX_ANSWERS, "%s: the server answered %d frames (bound %d)" %
          (what, answers, MAX_ANSWERS))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_settings(t):
    flood(t, "SETTINGS flood", lambda k: settings([(S_INITIAL_WINDOW_SIZE, 65535 + k % 7)]))


def case_ping(t):
    flood(t, "PING flood", lambda k: ping(struct.pack(">Q", k)))


def case_empty_data(t):
    # GET /1m.bin left open (no END_STREAM) with the response held back by a
    # zero window: the stream stays open for DATA from us
    flood(t, "empty DATA flood", lambda k: data_frame(1, b""),
          settings_pairs=[(S_INITIAL_WINDOW_SIZE, 0)],
          setup=headers_frame(1, request_block("/1m.bin"), end_stream=False))


def case_priority(t):
    flood(t, "PRIORITY flood", lambda k: priority(2 * k + 1, 2 * k + 3, weight=k % 256))


def case_priority_update(t):
    flood(t, "PRIORITY_UPDATE flood",
          lambda k: priority_update(2 * (k % 50) + 1, b"u=%d, i" % (k % 8)))


def case_unknown(t):
    """Not a flood the server must refuse: unknown frame types are ignored
    (§5.5). Checks they cost little and the connection stays usable."""
    with t.measure() as m:
        c = t.h2()
        junk = frame(0xfa, 0, 0, b"x" * 100) * 200
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 1.0 and c.send(junk):
            n += 200
        c.send(ping(b"stillup!"))
        check(c.wait(lambda: c.acks > 0, 5), "unknown frames: no PING ACK after %d of them: %s" %
              (n, c.describe()))
        check(c.goaway is None, "unknown frames ended the connection: %s" % c.describe())
        c.close()
    t.note("%d unknown frames, then a PING answered" % n)
    t.check_cost(m, 2.0, RSS_MAX_KIB)  # 1 s of sending: at most ~1 s of reading


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("settings", case_settings), ("ping", case_ping), ("empty_data", case_empty_data),
         ("priority", case_priority), ("priority_update", case_priority_update),
         ("unknown", case_unknown)]


if __name__ == "__main__":
    main(CASES)
