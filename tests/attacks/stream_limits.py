#!/usr/bin/python3
"""Limits on streams, windows and header sections:

 - concurrency: 100 streams held open (SETTINGS_MAX_CONCURRENT_STREAMS is
   100, responses held by a zero window), then more requests at 500/s. Each
   extra stream is refused (RST_STREAM REFUSED_STREAM, RFC 9113 §5.1.2).
   Target: the refusals draw on the connection's token bucket (burst 1000,
   refill 33/s) -> GOAWAY ENHANCE_YOUR_CALM after ~1000, ~2.1 s;
 - conn_window: WINDOW_UPDATE on stream 0 past 2^31-1 -> GOAWAY
   FLOW_CONTROL_ERROR at once (§6.9.1);
 - list_under: a header list of ~60 KB (under SETTINGS_MAX_HEADER_LIST_SIZE,
   64 KiB) is served;
 - list_over: a header list of ~70 KB (over 64 KiB, the block under 128
   KiB): the stream refused (REFUSED_STREAM, lib/recv.c), the connection
   goes on (a request after it is served);
 - block_over: a field block over 2 x 64 KiB (max_header_block): the
   connection ends with GOAWAY ENHANCE_YOUR_CALM.

Usage: stream_limits.py LOOM"""
import time

from attack_common import (ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR, MAX_WINDOW, REFUSED_STREAM,
                           S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS, check, code_name,
                           continuation, expect_goaway, headers_frame, main, paced,
                           request_block, window_update)

BUCKET, REFILL = 1000, 33
MAX_STREAMS = 100
LIST_LIMIT = 65536

# Bounds. Measured (ASan debug build, shared 2-core machine): each case
# costs the server < 0.03 s of CPU and < 0.4 MiB of RSS. Undefended,
# refused streams cost the server a decoded block and a RST_STREAM each,
# for as long as the attacker likes (~0.3-0.5 s of CPU per second).
CPU_MAX, RSS_MAX_KIB = 0.5, 8 * 1024

def big_request(sid, total, path="/1k.bin"):
    """A request whose header list is about `total` octets (RFC 9113
    §6.5.2: name + value + 32 per field), cut into 16 KiB frames."""
    extra, size, i = [], 0, 0
    while size < total:
        v = "v" * min(8000, total - size)
        extra.append(("x-big-%d" % i, v))
        size += len("x-big-%d" % i) + len(v) + 32
        i += 1
    blk = request_block(path, extra=extra)
    pieces = [blk[k:k + 16384] for k in range(0, len(blk), 16384)]
    out = headers_frame(sid, pieces[0], end_headers=len(pieces) == 1)
    for k, p in enumerate(pieces[1:]):
        out += continuation(sid, p, end_headers=(k == len(pieces) - 2))
    return out, len(blk)


def case_concurrency(t, rate=500):
    with t.measure() as m:
        c = t.h2(settings_pairs=[(S_INITIAL_WINDOW_SIZE, 0)])
        check(c.server_settings.get(S_MAX_CONCURRENT_STREAMS) == MAX_STREAMS,
              "the server's SETTINGS_MAX_CONCURRENT_STREAMS is %r, not %d" %
              (c.server_settings.get(S_MAX_CONCURRENT_STREAMS), MAX_STREAMS))
        blk = request_block("/1m.bin")
        c.send(b"".join(headers_frame(1 + 2 * i, blk) for i in range(MAX_STREAMS)))
        check(c.wait(lambda: len(c.status) >= MAX_STREAMS, 5),
              "the first %d streams are answered: %s" % (MAX_STREAMS, c.describe()))
        first = 1 + 2 * MAX_STREAMS
        c.send(headers_frame(first, blk))
        check(c.wait(lambda: c.rst, 3) and c.rst[0][1:] == (first, REFUSED_STREAM),
              "stream %d (the 101st) is refused: %s" % (first, c.describe()))
        t0 = time.monotonic()
        sent = paced(rate, 6.0, lambda k: c.send(headers_frame(first + 2 + 2 * k, blk)),
                     stop=lambda: c.goaway or c.closed)
        took = expect_goaway(c, ENHANCE_YOUR_CALM, 6.5, "streams over the limit at %d/s" % rate,
                             t0)
        check(c.wait_closed(3), "still open 3 s after the GOAWAY")
        c.close()
    rst = c.rst_codes()
    refused = rst.get(REFUSED_STREAM, 0)
    want = BUCKET / (rate - REFILL)
    t.note("100 open, then %d more sent at %d/s: %d refused, GOAWAY 0xb after %.2f s "
           "(target %.1f s)" % (sent, rate, refused, took, want))
    check(set(rst) == {REFUSED_STREAM}, "resets other than REFUSED_STREAM: %r" %
          dict((code_name(k), v) for k, v in rst.items()))
    check(len(c.status) == MAX_STREAMS, "%d streams answered, wanted %d" %
          (len(c.status), MAX_STREAMS))
    check(want * 0.7 <= took <= want * 1.6, "GOAWAY after %.2f s; the bucket runs dry after "
          "%.1f s at %d/s" % (took, want, rate))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_conn_window(t):
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        c.send(window_update(0, MAX_WINDOW))
        took = expect_goaway(c, FLOW_CONTROL_ERROR, 1.0, "connection window past 2^31-1", t0)
        check(c.wait_closed(3), "still open 3 s after the GOAWAY")
        c.close()
    t.note("GOAWAY FLOW_CONTROL_ERROR after %.3f s" % took)
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_list_under(t):
    with t.measure() as m:
        c = t.h2()
        out, n = big_request(1, LIST_LIMIT - 5000)
        c.send(out)
        c.wait(lambda: 1 in c.ended or c.rst or c.goaway, 5)
        check(c.status.get(1) and c.status[1][0][1] == 200 and c.data_in[1] == 1024,
              "a %d-octet block (header list under 64 KiB) is served: %s" % (n, c.describe()))
        c.close()
    t.note("a header list of %d octets (block %d) served" % (LIST_LIMIT - 5000, n))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_list_over(t):
    with t.measure() as m:
        c = t.h2()
        out, n = big_request(1, 70000)
        check(n < 2 * LIST_LIMIT, "the block fits in 128 KiB")
        c.send(out)
        c.wait(lambda: c.rst or c.goaway or 1 in c.ended, 5)
        check(c.rst and c.rst[0][1:] == (1, REFUSED_STREAM) and not c.status.get(1),
              "a header list over 64 KiB: stream 1 refused (REFUSED_STREAM): %s" % c.describe())
        c.send(headers_frame(3, request_block("/1k.bin")))
        c.wait(lambda: 3 in c.ended or c.goaway, 5)
        check(c.goaway is None and c.status.get(3) and c.status[3][0][1] == 200,
              "the connection goes on after a refused header list: %s" % c.describe())
        c.close()
    t.note("a %d-octet block refused (REFUSED_STREAM), the next request served" % n)
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_block_over(t):
    with t.measure() as m:
        c = t.h2()
        out, n = big_request(1, 140000)
        check(n > 2 * LIST_LIMIT, "the block is over 128 KiB")
        t0 = time.monotonic()
        c.send(out)
        took = expect_goaway(c, ENHANCE_YOUR_CALM, 2.0, "a %d-octet field block" % n, t0)
        check(c.wait_closed(3), "still open 3 s after the GOAWAY")
        c.close()
    t.note("a %d-octet block: GOAWAY 0xb after %.3f s" % (n, took))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("concurrency", case_concurrency), ("conn_window", case_conn_window),
         ("list_under", case_list_under), ("list_over", case_list_over),
         ("block_over", case_block_over)]


if __name__ == "__main__":
    main(CASES)
