#!/usr/bin/python3
"""MadeYouReset (CVE-2025-8671): requests for /1m.bin, each followed by a
frame that makes the SERVER reset the stream, so the client never sends a
RST_STREAM of its own (and a defence counting only those never fires):

 - wu0:       WINDOW_UPDATE with increment 0 on the stream -> RST PROTOCOL_ERROR
 - wu_over:   stream WINDOW_UPDATEs past 2^31-1            -> RST FLOW_CONTROL_ERROR
 - data_end:  DATA after END_STREAM                        -> RST STREAM_CLOSED
 - bad_field: an invalid request (uppercase field name)    -> RST PROTOCOL_ERROR

Each trigger as a burst (as fast as possible) and paced (500/s; the four
paced attacks run at once, each on its own connection).

Target: these stream errors draw on the same token bucket as client resets
(burst 1000, refill 33/s); when it runs dry: GOAWAY ENHANCE_YOUR_CALM. The
requests the access log shows processed stay bounded: at most ~1100 + 33/s
x the attack's time (the bucket's tokens, each request costing one).

Usage: made_you_reset.py LOOM"""
import threading
import time

from attack_common import (ENHANCE_YOUR_CALM, TestFailure, FLOW_CONTROL_ERROR, MAX_WINDOW, PROTOCOL_ERROR,
                           STREAM_CLOSED, check, code_name, data_frame, expect_goaway,
                           headers_frame, main, paced, request_block, window_update)

BUCKET, REFILL = 1000, 33
GOOD = request_block("/1m.bin")
BAD = request_block("/1m.bin", extra=[("X-Upper", "1")])  # RFC 9113 §8.2.1: lowercase only

TRIGGERS = {
    # name: (octets for stream sid, the server's RST_STREAM code)
    "wu0": (lambda sid: headers_frame(sid, GOOD) + window_update(sid, 0), PROTOCOL_ERROR),
    "wu_over": (lambda sid: headers_frame(sid, GOOD) + window_update(sid, MAX_WINDOW) +
                window_update(sid, MAX_WINDOW), FLOW_CONTROL_ERROR),
    "data_end": (lambda sid: headers_frame(sid, GOOD) + data_frame(sid, b"x"), STREAM_CLOSED),
    "bad_field": (lambda sid: headers_frame(sid, BAD), PROTOCOL_ERROR),
}

# Bounds. Measured (ASan debug build; shared 2-core machine, idle and at
# load 20): each burst to the GOAWAY costs the server 0.00-0.03 s of CPU and
# +0.0-0.8 MiB RSS; the four paced attacks together (~2.15 s each) 0.12 s
# and +0.5 MiB. Undefended (main before the shared bucket, a Python attacker
# waiting for each batch's resets): 5 s of attack made the server process
# ~80000 requests for 1.3 s of CPU (data_end, wu0) or refuse ~860000 for
# 2.4 s (bad_field), without end.
BURST_CPU, BURST_RSS_KIB = 0.5, 8 * 1024
PACED_CPU, PACED_RSS_KIB = 1.0, 8 * 1024
# streams the server may see beyond the processed ones (invalid requests are
# never processed, so only the stream count bounds them)
STREAM_SLACK = 50
BURST_SECONDS = 5.0  # a burst attack stops by then whatever happens
PACED_RATE = 500
PACED_SECONDS = 6.0  # expected GOAWAY after 1000/(500-33) = 2.1 s


def verdict(t, c, name, code, took, logged):
    """Checks one attacked connection; returns its description."""
    n = (c.goaway[2] + 1) // 2
    rst = c.rst_codes()
    hi = int(BUCKET * 1.1 + REFILL * took)  # the brief's "~1100 + rate x time"
    desc = "%s: GOAWAY 0xb after %.2f s, %d streams, %d RST_STREAM %s, %d logged" % (
        name, took, n, sum(rst.values()), code_name(code), logged)
    check(rst and rst.most_common(1)[0][0] == code,
          "%s: the server's resets were %r, wanted mostly %s" % (name, dict(rst), code_name(code)))
    check(n <= hi + STREAM_SLACK, "%s: %d streams before GOAWAY, bound %d" %
          (name, n, hi + STREAM_SLACK))
    check(n >= BUCKET * 0.9, "%s: GOAWAY after %d streams already; the bucket allows %d" %
          (name, n, BUCKET))
    check(logged <= hi, "%s: %d requests processed (access log), bound %d (%s)" %
          (name, logged, hi, desc))
    return desc


def make_burst(name):
    build, code = TRIGGERS[name]

    def case(t):
        logged0 = t.server.logged()
        with t.measure() as m:
            c = t.h2()
            t0 = time.monotonic()
            sid = 1
            while time.monotonic() - t0 < BURST_SECONDS and not c.goaway and not c.closed:
                if not c.send(b"".join(build(sid + 2 * i) for i in range(50))):
                    break
                sid += 100
            took = expect_goaway(c, ENHANCE_YOUR_CALM, BURST_SECONDS + 0.5, name, t0)
            check(c.wait_closed(3), "%s: still open 3 s after the GOAWAY" % name)
            c.close()
        t.note(verdict(t, c, name, code, took, t.server.logged() - logged0))
        t.check_cost(m, BURST_CPU, BURST_RSS_KIB)
    return case


def case_paced(t):
    """The four triggers at 500/s each, at once, one connection each."""
    logged0 = t.server.logged()
    res = {}

    def attack(name):
        build, _ = TRIGGERS[name]
        c = t.h2()
        t0 = time.monotonic()
        paced(PACED_RATE, PACED_SECONDS, lambda k: c.send(build(1 + 2 * k)),
              stop=lambda: c.goaway or c.closed)
        c.wait_end(1.0)
        res[name] = (c, t0)

    with t.measure() as m:
        ths = [threading.Thread(target=attack, args=(n,), daemon=True) for n in TRIGGERS]
        for th in ths:
            th.start()
        for th in ths:
            th.join(PACED_SECONDS + 15)
        end = time.monotonic() + 3
        for c, _ in res.values():
            c.wait_closed(max(0.0, end - time.monotonic()))
        logged = t.server.logged() - logged0
        for c, _ in res.values():
            c.close()
    check(len(res) == len(TRIGGERS), "paced: an attacker thread did not finish")
    want = BUCKET / (PACED_RATE - REFILL)
    total_hi, errors = 0, []
    for name, (c, t0) in sorted(res.items()):
        try:
            took = expect_goaway(c, ENHANCE_YOUR_CALM, PACED_SECONDS + 1, "paced " + name, t0)
            total_hi += int(BUCKET * 1.1 + REFILL * took)
            check(want * 0.7 <= took <= want * 1.6,
                  "paced %s: GOAWAY after %.2f s; the bucket runs dry after %.1f s at %d/s" %
                  (name, took, want, PACED_RATE))
            check(c.closed, "paced %s: still open 3 s after the GOAWAY" % name)
            t.note(verdict(t, c, "paced " + name, TRIGGERS[name][1], took, 0))
        except TestFailure as e:
            errors.append(str(e))
    check(not errors, "; ".join(errors))
    t.note("%d requests logged in all (bound %d)" % (logged, total_hi))
    check(logged <= total_hi, "paced: %d requests processed (access log), bound %d" %
          (logged, total_hi))
    t.check_cost(m, PACED_CPU, PACED_RSS_KIB)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("burst_" + n, make_burst(n)) for n in TRIGGERS]


if __name__ == "__main__":
    main(CASES + [("paced", case_paced)])
