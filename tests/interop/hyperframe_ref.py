#!/usr/bin/env python3
"""Reference frames from Python's hyperframe (Debian python3-hyperframe).

Prints one frame per line: its fields, then the bytes hyperframe serialized
for them, as `TYPE key=value ... wire=HEX`. Frame types hyperframe has no
class for (PRIORITY_UPDATE, ORIGIN, unknown types) are written with its
ExtensionFrame, their payload laid out here from RFC 9218 §7.1 / RFC 8336 §2.
tests/interop/test_hyperframe.c reads the lines, writes the same frames with
loom and parses hyperframe's bytes with loom.
"""
import random
import struct
import sys

from hyperframe.frame import (ContinuationFrame, DataFrame, ExtensionFrame, GoAwayFrame,
                              HeadersFrame, PingFrame, PriorityFrame, PushPromiseFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 7)


def blob(maxlen):
    return bytes(rng.randrange(256) for _ in range(rng.randrange(maxlen + 1)))


def sid():
    return rng.choice([1, 3, 5, 0x7fffffff, rng.randrange(1, 0x80000000)])


def emit(kind, frame, **fields):
    parts = [kind, "flags=%d" % sum(_flagbits(frame)), "sid=%d" % frame.stream_id]
    for k, v in fields.items():
        parts.append("%s=%s" % (k, v.hex() if isinstance(v, bytes) else v))
    parts.append("wire=" + frame.serialize().hex())
    print(" ".join(parts))


def _flagbits(frame):
    return [f.bit for f in frame.defined_flags if f.name in frame.flags] if hasattr(frame, "defined_flags") else []


def padded(frame):
    if rng.random() < 0.5:
        frame.flags.add("PADDED")
        frame.pad_length = rng.randrange(256)
    return getattr(frame, "pad_length", 0) if "PADDED" in frame.flags else 0


def ext(kind, type_, stream_id, flag_byte, body, **fields):
    f = ExtensionFrame(type=type_, stream_id=stream_id, flag_byte=flag_byte, body=body)
    f.body_len = len(body)  # hyperframe sets it only when parsing
    parts = [kind, "flags=%d" % flag_byte, "sid=%d" % stream_id, "type=%d" % type_]
    for k, v in fields.items():
        parts.append("%s=%s" % (k, v.hex() if isinstance(v, bytes) else v))
    parts.append("wire=" + f.serialize().hex())
    print(" ".join(parts))


for _ in range(40):
    f = DataFrame(sid(), blob(300))
    if rng.random() < 0.5:
        f.flags.add("END_STREAM")
    pad = padded(f)
    emit("DATA", f, pad=pad, data=f.data)

    f = HeadersFrame(sid(), blob(300))
    for flag in ("END_STREAM", "END_HEADERS"):
        if rng.random() < 0.5:
            f.flags.add(flag)
    pad = padded(f)
    if rng.random() < 0.5:
        f.flags.add("PRIORITY")
        f.depends_on = rng.randrange(0x80000000)
        while f.depends_on == f.stream_id:
            f.depends_on = rng.randrange(0x80000000)
        f.stream_weight = rng.randrange(256)
        f.exclusive = rng.random() < 0.5
        emit("HEADERS", f, pad=pad, block=f.data, dep=f.depends_on, weight=f.stream_weight + 1,
             excl=int(f.exclusive))
    else:
        emit("HEADERS", f, pad=pad, block=f.data)

    s = sid()
    dep = rng.randrange(0x80000000)
    while dep == s:
        dep = rng.randrange(0x80000000)
    f = PriorityFrame(s, depends_on=dep, stream_weight=rng.randrange(256), exclusive=rng.random() < 0.5)
    emit("PRIORITY", f, dep=f.depends_on, weight=f.stream_weight + 1, excl=int(f.exclusive))

    f = RstStreamFrame(sid(), error_code=rng.choice([0, 1, 8, 0xd, rng.randrange(1 << 32)]))
    emit("RST_STREAM", f, code=f.error_code)

    if rng.random() < 0.2:
        f = SettingsFrame(0, flags=["ACK"])
        emit("SETTINGS", f, settings="-")
    else:
        vals = {1: rng.randrange(1 << 32), 2: rng.randrange(2), 3: rng.randrange(1 << 32),
                4: rng.randrange(1 << 31), 5: rng.randrange(16384, 1 << 24), 6: rng.randrange(1 << 32),
                8: rng.randrange(2), 9: rng.randrange(2), 0x4a: rng.randrange(1 << 32)}
        # (an unknown id below 256: hyperframe 6 writes only the low 8 bits of an id)
        keys = rng.sample(sorted(vals), rng.randrange(len(vals) + 1))
        f = SettingsFrame(0, settings={k: vals[k] for k in keys})
        emit("SETTINGS", f, settings=",".join("%d:%d" % (k, v) for k, v in f.settings.items()) or "-")

    f = PushPromiseFrame(sid(), promised_stream_id=rng.randrange(2, 0x80000000, 2), data=blob(200))
    if rng.random() < 0.5:
        f.flags.add("END_HEADERS")
    pad = padded(f)
    emit("PUSH_PROMISE", f, pad=pad, promised=f.promised_stream_id, block=f.data)

    f = PingFrame(0, opaque_data=blob(0) + bytes(rng.randrange(256) for _ in range(8)))
    if rng.random() < 0.5:
        f.flags.add("ACK")
    emit("PING", f, opaque=f.opaque_data)

    f = GoAwayFrame(0, last_stream_id=rng.randrange(0x80000000), error_code=rng.randrange(14),
                    additional_data=blob(60))
    emit("GOAWAY", f, last=f.last_stream_id, code=f.error_code, debug=f.additional_data)

    f = WindowUpdateFrame(rng.choice([0, sid()]), window_increment=rng.randrange(1, 0x80000000))
    emit("WINDOW_UPDATE", f, inc=f.window_increment)

    f = ContinuationFrame(sid(), blob(300))
    if rng.random() < 0.5:
        f.flags.add("END_HEADERS")
    emit("CONTINUATION", f, block=f.data)

    value = rng.choice([b"u=0", b"u=7, i", b"i", b""])
    psid = sid()
    ext("PRIORITY_UPDATE", 0x10, 0, 0, struct.pack(">L", psid) + value, psid=psid, value=value)

    origins = [rng.choice([b"https://example.com", b"https://a.example.org:8443", b"http://x"])
               for _ in range(rng.randrange(4))]
    body = b"".join(struct.pack(">H", len(o)) + o for o in origins)
    ext("ORIGIN", 0x0c, 0, rng.randrange(256), body, entries=body)

    body = blob(100)
    ext("UNKNOWN", rng.choice([0x0b, 0x0e, 0x42, 0xff]), sid(), rng.randrange(256), body,
        payload=body)
