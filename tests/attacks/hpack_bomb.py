#!/usr/bin/python3
"""HPACK bomb: one large dynamic-table entry (a 4000-octet value) referenced
thousands of times per field block, block after block: 4 KiB on the wire
decode to ~16 MB of fields each.

Target: the decoder stops counting at the header list limit (64 KiB), each
block's stream is refused (RST_STREAM REFUSED_STREAM, lib/recv.c), and the
refusals draw on the connection's token bucket (burst 1000, refill 33/s)
like resets and stream errors, so the connection ends with GOAWAY
ENHANCE_YOUR_CALM after ~1000 blocks; CPU and memory stay bounded.

 - one_frame: blocks of one HEADERS frame (4000 references each);
 - continued: blocks of HEADERS + a CONTINUATION (2 x 4000 references).

Usage: hpack_bomb.py LOOM"""
import time

from attack_common import (ENHANCE_YOUR_CALM, REFUSED_STREAM, check, code_name, continuation,
                           expect_goaway, headers_frame, hp_indexed, hp_literal, main,
                           request_block)

BUCKET, REFILL = 1000, 33
VALUE = "a" * 4000  # one entry of 4000 + 6 + 32 octets: the 4096-octet table holds it
REFS = 4000         # one-octet references to it (index 62) per frame: 16 MB of fields

# Bounds. Measured (ASan debug build, -O0, shared 2-core machine): a
# reference past the list limit costs ~37 ns to skip, so the ~1000 blocks
# the bucket allows cost the server ~0.15 s of CPU (4 KiB blocks) and ~0.3 s
# (8 KiB blocks), RSS +0.4 MiB. Blocks are kept small so that the server
# gets through 1000 of them well within the attack's 10 s even when it gets
# a fraction of a core (16 KiB blocks under load took more than 10 s: the
# bucket refills meanwhile). Undefended, the server spends ~1 s of CPU per
# second of attack (it parses whatever arrives, 27 MiB/s from this
# attacker) for as long as the attacker likes: 10 s for 10 s.
CPU_MAX, RSS_MAX_KIB = 4.0, 8 * 1024
ATTACK_SECONDS = 10.0
STREAM_SLACK = 150


def attack(t, what, frames_per_block):
    first = request_block("/1m.bin") + hp_literal("x-bomb", VALUE, index=True)
    refs = hp_indexed(62) * REFS

    def block(sid, lead):
        if len(lead) > 100:  # the first: the entry, then fewer references
            return headers_frame(sid, lead + refs[:REFS - len(lead)])
        if frames_per_block == 1:
            return headers_frame(sid, lead + refs)
        out = headers_frame(sid, lead + refs, end_headers=False)
        for k in range(1, frames_per_block):
            out += continuation(sid, refs, end_headers=(k == frames_per_block - 1))
        return out

    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        c.send(block(1, first))
        lead = request_block("/1m.bin")
        sid = 3
        while time.monotonic() - t0 < ATTACK_SECONDS and not c.goaway and not c.closed:
            if not c.send(b"".join(block(sid + 2 * i, lead) for i in range(32))):
                break
            sid += 64
        took = expect_goaway(c, ENHANCE_YOUR_CALM, ATTACK_SECONDS + 0.5, what, t0)
        check(c.wait_closed(3), "%s: still open 3 s after the GOAWAY" % what)
        c.close()
    n = (c.goaway[2] + 1) // 2
    rst = c.rst_codes()
    t.note("%s: GOAWAY 0xb after %.2f s, %d blocks, resets %s, %.1f MiB sent" % (
        what, took, n, dict((code_name(k), v) for k, v in rst.items()), c.bytes_out / 2**20))
    check(set(rst) == {REFUSED_STREAM},
          "%s: each block's stream is refused (REFUSED_STREAM): %s" % (what, c.describe()))
    check(not any(c.status.values()), "%s: a bomb was answered: %r" % (what, dict(c.status)))
    hi = BUCKET + REFILL * took + STREAM_SLACK
    check(BUCKET * 0.9 <= n <= hi, "%s: %d blocks before GOAWAY, wanted %d-%d" %
          (what, n, BUCKET * 0.9, hi))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_one_frame(t):
    attack(t, "one-frame blocks", 1)


def case_continued(t):
    attack(t, "2-frame blocks", 2)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("one_frame", case_one_frame), ("continued", case_continued)]


if __name__ == "__main__":
    main(CASES)
