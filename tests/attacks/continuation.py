#!/usr/bin/python3
"""CONTINUATION flood (2024, CVE-2024-27316 and friends): one field block
cut into ever more CONTINUATION frames, never ending, so that a server
buffers or parses without limit.

 - limit: a block of HEADERS + 32 CONTINUATION frames (max_continuations,
   lib/recv.c) is still served; one of HEADERS + 33 ends the connection
   with GOAWAY ENHANCE_YOUR_CALM at the 34th frame;
 - small: HEADERS + CONTINUATIONs of 16 octets as fast as possible;
 - large: CONTINUATIONs of 16384 octets (memory: the block's octets are
   bounded too, max_header_block = 128 KiB);
 - empty: HEADERS + empty CONTINUATIONs.
Each: GOAWAY ENHANCE_YOUR_CALM within 2 s, then the connection closes.

Usage: continuation.py LOOM"""
import time

from attack_common import (ENHANCE_YOUR_CALM, check, continuation, expect_goaway, headers_frame,
                           main, request_block)

MAX_CONTINUATIONS = 32

# Bounds. Measured (ASan debug build, shared 2-core machine): each flood
# costs the server < 0.01 s of CPU and < 0.4 MiB of RSS (it stops at the
# 34th frame or at 128 KiB). An undefended server would buffer or parse the
# block for as long as the attacker sends (10 s at loopback speed: seconds
# of CPU and, for `large`, hundreds of MiB held).
CPU_MAX, RSS_MAX_KIB = 0.5, 8 * 1024
WITHIN = 2.0  # GOAWAY this long after the first frame of the flood


def flood(t, what, piece, count=200000, chunk=500):
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        blk = request_block("/1k.bin")
        c.send(headers_frame(1, blk[:4], end_headers=False))
        frames = 1
        burst = continuation(1, piece) * chunk
        while frames < count and time.monotonic() - t0 < 10 and not c.goaway and not c.closed:
            if not c.send(burst):
                break
            frames += chunk
        took = expect_goaway(c, ENHANCE_YOUR_CALM, WITHIN, what, t0)
        check(c.wait_closed(3), "%s: still open 3 s after the GOAWAY: %s" % (what, c.describe()))
        c.close()
    t.note("%s: GOAWAY 0xb after %.3f s (%d frames sent)" % (what, took, frames))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_limit(t):
    with t.measure() as m:
        c = t.h2()
        # a block of 1 + 32 frames, the extra octets in a padding field
        blk = request_block("/1k.bin", extra=[("x-pad", "p" * 64)])
        k = MAX_CONTINUATIONS + 1
        cuts = [len(blk) * i // k for i in range(k + 1)]
        pieces = [blk[cuts[i]:cuts[i + 1]] for i in range(k)]
        check(len(pieces) == MAX_CONTINUATIONS + 1, "cut into %d pieces" % len(pieces))
        out = headers_frame(1, pieces[0], end_headers=False)
        for k, p in enumerate(pieces[1:]):
            out += continuation(1, p, end_headers=(k == len(pieces) - 2))
        c.send(out)
        c.wait(lambda: 1 in c.ended, 5)
        check(c.status.get(1) and c.status[1][-1][1] == 200 and c.data_in[1] == 1024,
              "a block in 1 + %d frames is served: %s" % (MAX_CONTINUATIONS, c.describe()))
        # one more frame than that: the connection ends
        out = headers_frame(3, b"\x82", end_headers=False)
        out += continuation(3, b"\x86") * (MAX_CONTINUATIONS)
        c.send(out)
        time.sleep(0.5)
        check(c.goaway is None and not c.closed,
              "HEADERS + %d CONTINUATION frames (no END_HEADERS yet) are allowed: %s" %
              (MAX_CONTINUATIONS, c.describe()))
        t0 = time.monotonic()
        c.send(continuation(3, b"\x86"))
        took = expect_goaway(c, ENHANCE_YOUR_CALM, WITHIN, "the %dth frame of a block" %
                             (MAX_CONTINUATIONS + 2), t0)
        check(c.wait_closed(3), "still open 3 s after the GOAWAY")
        c.close()
    t.note("1+32 frames served; the 34th frame: GOAWAY 0xb after %.3f s" % took)
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_small(t):
    flood(t, "16-octet CONTINUATIONs", b"a" * 16)


def case_large(t):
    flood(t, "16384-octet CONTINUATIONs", b"a" * 16384, chunk=8)


def case_empty(t):
    flood(t, "empty CONTINUATIONs", b"")


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("limit", case_limit), ("small", case_small), ("large", case_large),
         ("empty", case_empty)]


if __name__ == "__main__":
    main(CASES)
