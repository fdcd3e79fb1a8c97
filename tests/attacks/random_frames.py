#!/usr/bin/python3
"""Random frames after a valid preface and SETTINGS, for ~5 s: seeded
random types (the ten of RFC 9113, PRIORITY_UPDATE, ORIGIN, unknown ones),
flags, stream ids (0, open, idle, closed, even, with the reserved bit),
lengths (0, the type's own, odd, up to past SETTINGS_MAX_FRAME_SIZE) and
payloads (random octets, or plausible ones: request field blocks with
dynamic-table entries and references, settings, window increments). A
connection goes on until the server ends it or for at most 1 s, then the
next one starts; the stream ids and HPACK state carry over within one.

Target: no crash, no sanitizer report (ASan/UBSan), each connection either
ends with a GOAWAY carrying a defined error code (then TCP close within
2 s) or stays up; the server's CPU bounded; the normal client served.

The seed is printed; LOOM_ATTACK_SEED=N repeats a run.

Usage: random_frames.py LOOM"""
import collections
import struct
import time

from attack_common import (CODE_NAMES, check, code_name, frame, headers_frame, hp_indexed, hp_int,
                           hp_literal, main, priority, request_block, rng, tcp_state, vlog)

SEED, R = rng(20251113)
DURATION = 5.0
PER_CONN = 1.0
# Bounds. Measured (ASan debug build, shared 2-core machine): 0.07-0.33 s
# of server CPU for ~5 s of random frames over ~130-2000 connections, RSS
# +1.1-1.6 MiB. The attacker is not rate-limited here (it is not one attack,
# so there is no "undefended" figure); the bounds catch a pathological path
# (a loop, a leak, a buffer without a bound) that random input reaches.
CPU_MAX, RSS_MAX_KIB = 2.0, 16 * 1024

TYPES = list(range(10)) * 6 + [0x10, 0x10, 0xc, 0xa, 0xb, 0xd, 0x21, 0xff]


def rand_block(st):
    """A field block: mostly a plausible request, sometimes noise."""
    x = R.random()
    if x < 0.03:
        return bytes(R.getrandbits(8) for _ in range(R.randrange(0, 40)))
    path = R.choice(["/1k.bin", "/1m.bin", "/", "/nope", "/1k.bin?x=%d" % R.randrange(99)])
    blk = request_block(path, method=R.choice(["GET", "GET", "HEAD", "POST", "PUT"]))
    for _ in range(R.randrange(0, 4)):
        y = R.random()
        if y < 0.3:
            blk += hp_literal("x-r%d" % R.randrange(10), "v" * R.randrange(0, 300),
                              index=R.random() < 0.5)
        elif y < 0.6:
            blk += hp_indexed(R.randrange(1, 62) if R.random() < 0.9 else R.randrange(62, 75))
        elif y < 0.7:
            blk = hp_int(R.choice([0, 100, 4096, 4096, 5000]), 5, 0x20) + blk  # size update
        elif y < 0.8:
            blk += hp_literal(R.choice(["Upper", "connection", "te", ":path", ""]), "x")
        else:
            blk += hp_literal(R.randrange(1, 62), "y" * R.randrange(0, 50))
    if R.random() < 0.03:  # cut anywhere
        blk = blk[:R.randrange(len(blk) + 1)]
    return blk


def rand_sid(st):
    """A stream id for a mutated frame: anything."""
    x = R.random()
    if x < 0.15:
        return 0
    if x < 0.45 and st["open"]:
        return R.choice(st["open"])
    if x < 0.7:
        return st["next"] + 2
    if x < 0.8:
        return R.randrange(1, 2 * st["next"] + 5)
    if x < 0.9:
        return R.randrange(2, 200, 2)
    if x < 0.95:
        return 0x80000000 | R.randrange(1, 50)
    return R.randrange(1 << 31)


def open_sid(st):
    return R.choice(st["open"]) if st["open"] and R.random() < 0.97 else st["next"] + 2


def plausible(st):
    """A well-formed frame (or a HEADERS with its CONTINUATIONs), as a
    (type, flags, stream id, payload) list, keeping track of streams."""
    t = R.choice([0, 0, 1, 1, 1, 2, 3, 4, 6, 8, 8, 0x10, 0xfa] * 4 + [9, 7])
    if not st["open"] and t in (0, 2, 3, 8, 9):
        t = 1  # a stream first
    if t == 1:
        st["next"] += 2
        sid = st["next"]
        st["open"] = (st["open"] + [sid])[-30:]
        blk = rand_block(st)
        flags = (1 if R.random() < 0.7 else 0)
        if R.random() < 0.1:
            flags |= 0x20
            blk = struct.pack(">IB", R.choice(st["open"]) if R.random() < 0.8 else
                              R.randrange(1 << 31), R.randrange(256)) + blk
        if R.random() < 0.85 or len(blk) < 2:
            return [(1, flags | 4, sid, blk)]
        cut = R.randrange(1, len(blk))
        return [(1, flags, sid, blk[:cut]), (9, 4, sid, blk[cut:])]
    if t == 0:
        pad = R.random() < 0.1
        body = b"d" * R.choice([0, 1, 10, 100, 1000, 16000])
        payload = (bytes([5]) + body + b"\0" * 5) if pad else body
        return [(0, (1 if R.random() < 0.2 else 0) | (8 if pad else 0), open_sid(st), payload)]
    if t == 2:
        sid = open_sid(st)
        return [(2, 0, sid, struct.pack(">IB", R.choice(st["open"] or [0]) |
                                        (0x80000000 if R.random() < 0.3 else 0),
                                        R.randrange(256)))]
    if t == 3:
        return [(3, 0, open_sid(st), struct.pack(">I", R.randrange(14)))]
    if t == 4:
        vals = {1: [0, 4096, 65536], 2: [0, 1], 3: [0, 1, 100, 1000], 4: [0, 1, 65535, 1 << 20],
                5: [16384, 20000, 1 << 24 - 1], 6: [0, 100, 65536], 8: [0, 1], 9: [0, 1]}
        pairs = []
        for _ in range(R.randrange(0, 4)):
            k = R.choice(list(vals))
            pairs.append(struct.pack(">HI", k, R.choice(vals[k])))
        return [(4, 1 if R.random() < 0.05 else 0, 0, b"".join(pairs))]
    if t == 6:
        return [(6, 1 if R.random() < 0.1 else 0, 0, bytes(R.getrandbits(8) for _ in range(8)))]
    if t == 8:
        sid = 0 if R.random() < 0.3 else open_sid(st)
        return [(8, 0, sid, struct.pack(">I", R.choice([1, 100, 1024, 65535, 1 << 20])))]
    if t == 0x10:
        return [(0x10, 0, 0, struct.pack(">I", open_sid(st)) +
                 R.choice([b"u=1", b"u=7, i", b"i", b"u=0", b"u=3,i=?0"]))]
    if t == 9:  # a CONTINUATION out of place
        return [(9, R.choice([0, 4]), open_sid(st), rand_block(st))]
    if t == 7:  # GOAWAY: the connection ends (from our side)
        return [(7, 0, 0, struct.pack(">II", st["next"] if st["next"] > 0 else 0,
                                      R.randrange(14)))]
    return [(t, R.getrandbits(8), R.choice([0, open_sid(st)]), b"u" * R.randrange(50))]


def mutate(f, st):
    t, flags, sid, payload = f
    x = R.random()
    if x < 0.2:
        t = R.choice(TYPES)
    elif x < 0.4:
        flags = R.getrandbits(8)
    elif x < 0.6:
        sid = rand_sid(st)
    elif x < 0.8:
        n = R.choice([0, 1, 4, 5, 7, 8, 9, 17, 16384, 16385, 20000])
        payload = (payload + bytes(R.getrandbits(8) for _ in range(64)) * (n // 64 + 1))[:n]
    else:
        payload = bytes(R.getrandbits(8) for _ in range(R.choice([0, 3, 8, 30, 300])))
    return t, flags, sid, payload


def rand_frames(st, chaos):
    out = b""
    for f in plausible(st):
        if R.random() < chaos:
            f = mutate(f, st)
        out += frame(*f)
    return out


def describe_sent(batches):
    """Frame headers of the batches: type/flags/stream/length."""
    out = []
    for b in batches:
        off = 0
        while off + 9 <= len(b):
            n = int.from_bytes(b[off:off + 3], "big")
            out.append("%#x/%#x/%d/%d" % (b[off + 3], b[off + 4],
                                          int.from_bytes(b[off + 5:off + 9], "big"), n))
            off += 9 + n
    return " ".join(out[-12:])


def case_random(t):
    print("seed %d (LOOM_ATTACK_SEED=%d repeats this run)" % (SEED, SEED), flush=True)
    outcomes = collections.Counter()
    codes = collections.Counter()
    reasons = collections.Counter()
    frames = 0
    problems = []
    with t.measure() as m:
        t_end = time.monotonic() + DURATION
        while time.monotonic() < t_end:
            c = t.h2()
            st = {"open": [], "next": -1}
            chaos = R.choice([0.0, 0.005, 0.02, 0.1, 0.3])
            sent = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < PER_CONN and not c.goaway and not c.closed:
                batch = b"".join(rand_frames(st, chaos) for _ in range(R.randrange(1, 8)))
                sent.append(batch)
                frames += 1
                if not c.send(batch):
                    break
                time.sleep(R.choice([0, 0, 0.001, 0.005]))
            c.wait_end(0.2)
            if c.goaway:
                codes[c.goaway[1]] += 1
                reasons[c.goaway[3][:50]] += 1
                if c.goaway[1] not in CODE_NAMES:
                    problems.append("GOAWAY with an undefined code %#x" % c.goaway[1])
                if not c.wait_closed(2.0):
                    problems.append("open 2 s after GOAWAY %s (%s; the last frames sent: %s)" % (
                        code_name(c.goaway[1]), c.describe(), describe_sent(sent[-8:])))
                outcomes["GOAWAY"] += 1
            elif c.closed:
                outcomes["closed without GOAWAY"] += 1
            else:
                outcomes["still up"] += 1
            if c.parse_error:
                problems.append("the server sent something hyperframe/hpack cannot parse: %s"
                                % c.parse_error)
            c.close()
            check(t.server.alive(), "the server died (seed %d)" % SEED)
    t.note("seed %d: %d connections, %d batches of frames (%.1f a connection); %s; GOAWAY "
           "codes %s" % (SEED, sum(outcomes.values()), frames,
                         frames / max(1, sum(outcomes.values())), dict(outcomes),
        dict((code_name(k), v) for k, v in sorted(codes.items()))))
    vlog("GOAWAY reasons: %r" % reasons.most_common(12))
    check(not problems, "seed %d: %s" % (SEED, "\n".join(sorted(set(problems))[:5])))
    t.check_cost(m, CPU_MAX, RSS_MAX_KIB)


def case_error_close(t):
    """Found by the random frames: after a connection error the server
    sends GOAWAY and must close the TCP connection (RFC 9113 §5.4.1), also
    when a response stream is blocked on flow control and the peer's
    PRIORITY frame chose the RFC 7540 scheduler."""
    errors = {"PING of 9 octets": frame(6, 0, 0, b"123456789"),
              "CONTINUATION without HEADERS": frame(9, 4, 1, b"\x82"),
              "a bad HPACK index": headers_frame(3, b"\xff\xff\xff\x7f")}
    bad = []
    with t.measure() as m:
        for prio in (False, True):
            for what, octets in errors.items():
                c = t.h2()
                c.send(headers_frame(1, request_block("/1m.bin")))  # held: 64 KiB window
                c.wait(lambda: 1 in c.status, 3)
                if prio:
                    c.send(priority(1, 0, 200))
                c.send(octets)
                c.wait_end(2)
                closed = c.goaway is not None and c.wait_closed(2)
                if not closed:
                    bad.append("%s%s: %s; the server's side %s" % (
                        what, " after PRIORITY" if prio else "", c.describe(),
                        tcp_state(t.server.http_port, c.local_port)))
                c.close()
    t.note("%d connection errors, %d not followed by a close" % (2 * len(errors), len(bad)))
    check(not bad, "GOAWAY sent but the connection stays open 2 s later:\n  " +
          "\n  ".join(bad))
    t.check_cost(m, 1.0, 8 * 1024)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("random", case_random), ("error_close", case_error_close)]


if __name__ == "__main__":
    main(CASES)
