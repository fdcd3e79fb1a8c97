#!/usr/bin/python3
"""loom serve enforces RFC 9113 §6.5.3: a client that never acknowledges the
server's SETTINGS gets GOAWAY SETTINGS_TIMEOUT (0x4) once
--settings-timeout has passed, and the connection closes; a client that does
acknowledge is still served after that time.

Raw h2c clients (hyperframe), one server with --settings-timeout 1.

Usage: serve_settings_timeout.py LOOM"""
import socket
import time

from hyperframe.frame import Frame, GoAwayFrame, PingFrame, SettingsFrame

from serve_common import Server, check, main

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS_TIMEOUT = 0x4


def read_frames(sock, seconds, ack_settings, since=None):
    """Frames received within `seconds` (stops at EOF), each with its time
    after `since` (default: now); acknowledges the server's SETTINGS when
    ack_settings. Returns (frames, eof, elapsed)."""
    t0 = time.monotonic()
    since = t0 if since is None else since
    buf, frames, eof = b"", [], False
    while time.monotonic() - t0 < seconds and not eof:
        sock.settimeout(0.2)
        try:
            data = sock.recv(65536)
            eof = not data
            buf += data
        except socket.timeout:
            pass
        except ConnectionResetError:
            eof = True
        while len(buf) >= 9:
            f, n = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + n:
                break
            f.parse_body(memoryview(buf[9:9 + n]))
            buf = buf[9 + n:]
            frames.append((time.monotonic() - since, f))
            if ack_settings and isinstance(f, SettingsFrame) and "ACK" not in f.flags:
                sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
    return frames, eof, time.monotonic() - t0


def test(argv):
    loom = argv[0]
    with Server(loom, extra=["--settings-timeout", "1"]) as s:
        port = int(s.http.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        polite = socket.create_connection(("127.0.0.1", port), timeout=5)
        for sock in (silent, polite):
            sock.sendall(PREFACE + SettingsFrame(0).serialize())
        sent = time.monotonic()
        # the polite one acknowledges at once (well within the second)
        early, _, _ = read_frames(polite, 0.3, ack_settings=True)
        check(any(isinstance(f, SettingsFrame) for _, f in early), "the server's SETTINGS came")

        frames, eof, took = read_frames(silent, 6, ack_settings=False, since=sent)
        goaways = [(t, f) for t, f in frames if isinstance(f, GoAwayFrame)]
        check(len(goaways) == 1, "one GOAWAY for the client that never ACKed: %r" % frames)
        t, g = goaways[0]
        check(g.error_code == SETTINGS_TIMEOUT,
              "GOAWAY carries SETTINGS_TIMEOUT, not %#x" % g.error_code)
        check(0.9 <= t <= 4.0, "sent about 1 s after the preface, not after %.2f s" % t)
        check(eof, "the connection was closed after the GOAWAY")
        print("silent client: GOAWAY SETTINGS_TIMEOUT after %.2f s, then closed" % t)

        frames, eof, _ = read_frames(polite, 2.5, ack_settings=True)
        check(not eof, "a client that acknowledged is not closed")
        check(not any(isinstance(f, GoAwayFrame) for _, f in frames),
              "no GOAWAY for the client that acknowledged")
        polite.sendall(PingFrame(0, opaque_data=b"stillhr!").serialize())
        frames, eof, _ = read_frames(polite, 3, ack_settings=True)
        acks = [f for _, f in frames if isinstance(f, PingFrame) and "ACK" in f.flags]
        check(acks and acks[0].opaque_data == b"stillhr!", "the polite client is still served")
        print("polite client: served after 2.5 s (PING answered)")
        silent.close()
        polite.close()


if __name__ == "__main__":
    main(test)
