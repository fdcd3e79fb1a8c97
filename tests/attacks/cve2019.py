#!/usr/bin/python3
"""The 2019 batch of HTTP/2 denial-of-service attacks (CVE-2019-9511 to
CVE-2019-9518, Netflix / Jonathan Looney):

 - 9511 dribble_*: SETTINGS_INITIAL_WINDOW_SIZE 0, ten requests for /1m.bin,
   then WINDOW_UPDATEs of 1 octet, each to a window the server has used up
   (it waits for the octet the last one let out), so that the server cuts
   a 1-octet DATA frame per update. Target: GOAWAY ENHANCE_YOUR_CALM when
   more than ~200 such tiny (< 1024) WINDOW_UPDATEs arrive per second: as
   fast as answered (pingpong) within 2 s, 400/s within 5 s; 100/s for
   2.5 s is a slow reader, left alone. And a blind burst of tiny updates
   (not waiting for the octets) is never answered with more than ~200 tiny
   DATA frames a second;
 - 9512 ping_no_read: a PING flood while not reading;
 - 9513 priority_loop: 100 open streams reshuffled by PRIORITY frames
   (random exclusive dependencies, so subtrees move and cycles are broken);
 - 9514 reset_no_read: invalid requests (each answered by RST_STREAM) while
   not reading;
 - 9515 settings_no_read: SETTINGS while not reading;
 - 9516 empty_name: requests with a 0-length field name, 500/s. Target:
   each stream error draws on the connection's token bucket (burst 1000,
   refill 33/s): GOAWAY ENHANCE_YOUR_CALM after ~1000, ~2.1 s;
 - 9517 buffering: huge windows (INITIAL_WINDOW_SIZE and the connection
   window at 2^31-1), 100 requests for /1m.bin on h2c and on TLS, the
   socket never read. Target: the server's memory stays bounded (it holds
   no response octets beyond its send buffer), and `--idle-timeout 3`
   closes both connections within ~5 s (a connection that makes no
   progress is idle, even with streams open);
 - 9518 empty_frames: empty DATA frames on ten open streams.
The no-read floods end with GOAWAY ENHANCE_YOUR_CALM, read afterwards.

Usage: cve2019.py LOOM"""
import random
import struct
import time

from attack_common import (ENHANCE_YOUR_CALM, MAX_WINDOW, PROTOCOL_ERROR, S_INITIAL_WINDOW_SIZE,
                           S_MAX_FRAME_SIZE, check, code_name, data_frame, expect_goaway,
                           headers_frame, hp_literal, main, paced, ping, priority,
                           request_block, settings, tcp_state, window_update)

BUCKET, REFILL = 1000, 33
TINY_WU_RATE = 200  # tiny WINDOW_UPDATEs per second the target allows
IDLE_TIMEOUT = 3

# Bounds. Measured (ASan debug build, shared 2-core machine): each attack
# costs the server < 0.03 s of CPU and < 0.2 MiB of RSS; the buffering
# attack (200 x 1 MiB asked for, nothing read) +2-3.4 MiB, with sendfile on
# h2c and the 64 KiB TLS buffer. Undefended: the dribble makes the server
# write a 10-octet frame per octet for as long as the attacker likes (a
# core at full speed), and a server that buffered responses for a
# non-reading peer would hold the 200 MiB.
CPU_MAX, RSS_MAX_KIB = 0.5, 8 * 1024
DRIBBLE_CPU = 0.5
BUFFERING_RSS_KIB = 16 * 1024
WITHIN = 2.0


def open_streams(c, n, first=1, path="/1m.bin"):
    c.send(b"".join(headers_frame(first + 2 * i, request_block(path)) for i in range(n)))
    c.wait(lambda: len(c.status) >= n, 5)
    check(len(c.status) >= n, "%d requests answered, wanted %d: %s" % (len(c.status), n,
                                                                      c.describe()))


def no_read_flood(t, what, make, count):
    with t.measure() as m:
        c = t.h2(reader=False)
        t0 = time.monotonic()
        sent = 0
        while sent < count and c.send(b"".join(make(sent + i) for i in range(100))):
            sent += 100
        c.start_reader()
        took = expect_goaway(c, ENHANCE_YOUR_CALM, WITHIN + 3, what, t0)
        check(c.wait_closed(3), "%s: still open 3 s after the GOAWAY" % what)
        c.close()
    t.note("%s: %d frames sent unread, GOAWAY 0xb after %.2f s, %d PING ACKs, %d SETTINGS "
           "ACKs, %d resets" % (what, sent, took, c.acks, c.settings_acked, len(c.rst)))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


# ---- 9511 ----

class Dribbler:
    """Ten requests for /1m.bin behind a shut window (INITIAL_WINDOW_SIZE
    0); open() gives one of them 1 octet of window, always one whose
    window is shut again (its octets came back), so that every update
    makes the server cut a 1-octet DATA frame - the dribble itself."""

    def __init__(self, t):
        self.c = t.h2(settings_pairs=[(S_INITIAL_WINDOW_SIZE, 0)])
        open_streams(self.c, 10)
        self.granted = {1 + 2 * i: 0 for i in range(10)}
        self.sent = 0

    def shut(self):
        return [s for s, g in self.granted.items() if self.c.data_in[s] >= g]

    def open(self, wait=1.0):
        c = self.c
        if not self.shut():
            c.wait(lambda: self.shut() or c.goaway or c.closed, wait)
        ready = self.shut()
        if not ready:
            return not (c.goaway or c.closed)
        sid = ready[self.sent % len(ready)]
        self.granted[sid] += 1
        self.sent += 1
        return c.send(window_update(sid, 1))


def case_dribble_pingpong(t, seconds=WITHIN):
    """As fast as the server answers: each update waits for the octet the
    previous one on its stream let out."""
    with t.measure() as m:
        d = Dribbler(t)
        c = d.c
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds and not c.goaway and not c.closed:
            if not d.open():
                break
        took = expect_goaway(c, ENHANCE_YOUR_CALM, seconds + 0.5, "1-octet windows, each "
                             "after the octet before", t0)
        check(c.wait_closed(3), "dribble: still open 3 s after the GOAWAY")
        c.close()
    t.note("1-octet windows as fast as answered: %d sent, GOAWAY 0xb after %.2f s, %d tiny "
           "DATA frames back" % (d.sent, took, c.small_data))
    t.check_cost(m, DRIBBLE_CPU, RSS_MAX_KIB)


def make_dribble_paced(rate, seconds, want_goaway):
    def case(t):
        what = "1-octet windows at %d/s" % rate
        with t.measure() as m:
            d = Dribbler(t)
            c = d.c
            t0 = time.monotonic()
            paced(rate, seconds, lambda k: d.open(0.05), stop=lambda: c.goaway or c.closed)
            if want_goaway:
                took = expect_goaway(c, ENHANCE_YOUR_CALM, seconds + 0.5, what, t0)
                check(c.wait_closed(3), "%s: still open 3 s after the GOAWAY" % what)
                t.note("%s: GOAWAY 0xb after %.2f s (%d sent, %d tiny DATA frames back)" % (
                    what, took, d.sent, c.small_data))
            else:
                time.sleep(0.3)
                check(c.goaway is None and not c.closed,
                      "%s for %.1f s (a slow reader) ended the connection: %s" %
                      (what, seconds, c.describe()))
                t.note("%s for %.1f s: left alone (%d sent, %d octets back)" % (
                    what, seconds, d.sent, sum(c.data_in.values())))
            c.close()
        t.check_cost(m, DRIBBLE_CPU, RSS_MAX_KIB)
    return case


def case_dribble_burst(t, seconds=WITHIN):
    """Tiny updates as fast as they can be sent, without waiting: a server
    may take them together (the windows add up, its frames are not tiny)
    or end the connection; either way it must not answer each with a tiny
    DATA frame."""
    with t.measure() as m:
        c = t.h2(settings_pairs=[(S_INITIAL_WINDOW_SIZE, 0)])
        open_streams(c, 10)
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds and not c.goaway and not c.closed:
            if not c.send(b"".join(window_update(1 + 2 * ((k + i) % 10), 1)
                                   for i in range(100))):
                break
            k += 100
        took = time.monotonic() - t0
        c.wait_end(0.5)
        c.close()
    tiny_max = TINY_WU_RATE * took + 2 * TINY_WU_RATE
    t.note("%d tiny updates in %.2f s: %d tiny DATA frames back (bound %d); %s" % (
        k, took, c.small_data, tiny_max, c.describe()))
    check(c.small_data <= tiny_max, "the server answered %d tiny WINDOW_UPDATEs with %d tiny "
          "DATA frames in %.2f s (bound %d)" % (k, c.small_data, took, tiny_max))
    check(not c.goaway or c.goaway[1] == ENHANCE_YOUR_CALM, "dribble burst: %s" %
          c.describe())
    t.check_cost(m, DRIBBLE_CPU, RSS_MAX_KIB)


# ---- 9512, 9514, 9515 ----

def case_ping_no_read(t):
    no_read_flood(t, "PING flood, not read", lambda k: ping(struct.pack(">Q", k)), 20000)


def case_reset_no_read(t):
    bad = request_block("/1k.bin", extra=[("X-Bad", "1")])
    no_read_flood(t, "invalid requests, not read", lambda k: headers_frame(1 + 2 * k, bad), 20000)


def case_settings_no_read(t):
    no_read_flood(t, "SETTINGS flood, not read",
                  lambda k: settings([(S_MAX_FRAME_SIZE, 16384 + k % 100)]), 20000)


# ---- 9513 ----

def case_priority_loop(t):
    rnd = random.Random(9513)
    with t.measure() as m:
        c = t.h2(settings_pairs=[(S_INITIAL_WINDOW_SIZE, 0)])
        open_streams(c, 100)
        sids = [1 + 2 * i for i in range(100)]

        def shuffle(_):
            a, b = rnd.sample(sids, 2)
            return priority(a, b, weight=rnd.randrange(256), exclusive=rnd.random() < 0.5)
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 10 and not c.goaway and not c.closed:
            if not c.send(b"".join(shuffle(i) for i in range(200))):
                break
            k += 200
        took = expect_goaway(c, ENHANCE_YOUR_CALM, WITHIN, "PRIORITY reshuffles", t0)
        check(c.wait_closed(3), "PRIORITY reshuffles: still open 3 s after the GOAWAY")
        c.close()
    t.note("100 streams, %d PRIORITY reshuffles sent, GOAWAY 0xb after %.2f s" % (k, took))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


# ---- 9516 ----

def case_empty_name(t, rate=500):
    blk = request_block("/1k.bin") + hp_literal("", "zero-length name")
    with t.measure() as m:
        c = t.h2()
        t0 = time.monotonic()
        sent = paced(rate, 6.0, lambda k: c.send(headers_frame(1 + 2 * k, blk)),
                     stop=lambda: c.goaway or c.closed)
        took = expect_goaway(c, ENHANCE_YOUR_CALM, 6.5, "0-length names at %d/s" % rate, t0)
        check(c.wait_closed(3), "0-length names: still open 3 s after the GOAWAY")
        c.close()
    n = (c.goaway[2] + 1) // 2
    rst = c.rst_codes()
    want = BUCKET / (rate - REFILL)
    t.note("0-length names: %d sent, GOAWAY 0xb after %.2f s (target %.1f s), %d streams, "
           "resets %s" % (sent, took, want, n, dict((code_name(k), v) for k, v in rst.items())))
    check(rst and rst.most_common(1)[0][0] == PROTOCOL_ERROR,
          "each request with a 0-length name is a stream error PROTOCOL_ERROR: %r" % dict(rst))
    check(want * 0.7 <= took <= want * 1.6, "0-length names: GOAWAY after %.2f s; the bucket "
          "runs dry after %.1f s at %d/s" % (took, want, rate))
    check(n <= BUCKET + REFILL * took + 150, "0-length names: %d streams before GOAWAY" % n)
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


# ---- 9517 ----

def case_buffering(t):
    big = [(S_INITIAL_WINDOW_SIZE, MAX_WINDOW)]
    reqs = lambda: b"".join(headers_frame(1 + 2 * i, request_block("/1m.bin"))  # noqa: E731
                            for i in range(100))
    with t.measure() as m:
        conns = []
        for tls in (False, True):
            c = (t.h2tls if tls else t.h2)(settings_pairs=big, reader=False)
            c.send(window_update(0, MAX_WINDOW - 65535) + reqs())
            conns.append((c, t.server.https_port if tls else t.server.http_port))
        t0 = time.monotonic()
        states = {}
        while time.monotonic() - t0 < IDLE_TIMEOUT + 4.0:
            states = {("TLS" if c.tls else "h2c"): tcp_state(port, c.local_port)
                      for c, port in conns}
            if all(s != "ESTABLISHED" for s in states.values()):
                break
            time.sleep(0.1)
        took = time.monotonic() - t0
        for c, _ in conns:
            c.close()
    t.note("200 x /1m.bin asked for, nothing read: server side %s after %.1f s" % (states, took))
    check(all(s != "ESTABLISHED" for s in states.values()),
          "a peer that reads nothing is not closed within %.1f s of --idle-timeout %d: the "
          "server's side of the connections: %s" % (took, IDLE_TIMEOUT, states))
    t.check_cost(m, CPU_MAX, BUFFERING_RSS_KIB)


# ---- 9518 ----

def case_empty_frames(t):
    with t.measure() as m:
        c = t.h2(settings_pairs=[(S_INITIAL_WINDOW_SIZE, 0)])
        c.send(b"".join(headers_frame(1 + 2 * i, request_block("/1m.bin"), end_stream=False)
                        for i in range(10)))
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < 10 and not c.goaway and not c.closed:
            if not c.send(b"".join(data_frame(1 + 2 * ((k + i) % 10)) for i in range(200))):
                break
            k += 200
        took = expect_goaway(c, ENHANCE_YOUR_CALM, WITHIN, "empty DATA frames", t0)
        check(c.wait_closed(3), "empty DATA frames: still open 3 s after the GOAWAY")
        c.close()
    t.note("empty DATA frames on 10 streams: %d sent, GOAWAY 0xb after %.3f s" % (k, took))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("dribble_pingpong", case_dribble_pingpong),
         ("dribble_fast", make_dribble_paced(2 * TINY_WU_RATE, 5.0, True)),
         ("dribble_slow", make_dribble_paced(TINY_WU_RATE // 2, 2.5, False)),
         ("dribble_burst", case_dribble_burst),
         ("ping_no_read", case_ping_no_read),
         ("priority_loop", case_priority_loop), ("reset_no_read", case_reset_no_read),
         ("settings_no_read", case_settings_no_read), ("empty_name", case_empty_name),
         ("buffering", case_buffering), ("empty_frames", case_empty_frames)]


if __name__ == "__main__":
    main(CASES,
         tls=True, extra=["--idle-timeout", str(IDLE_TIMEOUT)])
