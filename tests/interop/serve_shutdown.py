#!/usr/bin/python3
"""loom serve's graceful shutdown and its exit statuses.

Shutdown (one server, a 50 MB file):
 - curl downloads it over TLS h2 at a limited rate (a few seconds);
 - a raw h2c client (hyperframe + hpack) asks for it too and stalls it by
   sending no WINDOW_UPDATE;
 - SIGTERM mid-transfer: new TCP connections are refused (both ports; curl
   says "connection refused"); the raw client gets GOAWAY NO_ERROR (the
   two-step one: 2^31-1, a PING, then the real last stream id), and a new
   stream it opens after the final GOAWAY gets no response (ignored or
   RST_STREAM REFUSED_STREAM);
 - curl's download completes (sha256 of 50 MB) while the server waits; the
   server is still running after that for the stalled stream; once the
   raw client opens its windows its stream completes too (sha256), the
   server closes the connection and exits 0 (ASan/UBSan clean).

Exit statuses: bad flags 2 with a one-line message; a missing root 5; an
unreadable certificate or key 3; a port in use 4; none leaks (LSan).

Usage: serve_shutdown.py LOOM"""
import hashlib
import os
import shutil
import socket
import subprocess
import time

import hpack
from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from serve_common import Server, TestFailure, check, file_sha256, main, make_tmp, run, start_refused

BIG = 50 * 1024 * 1024
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_ID = 2**31 - 1
REFUSED_STREAM = 7


class RawH2:
    """A deliberately small h2c client speaking frames directly."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.eof = False
        self.send(SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 0}), preface=True)

    def send(self, frame, preface=False):
        self.sock.sendall((PREFACE if preface else b"") + frame.serialize())

    def get(self, sid, path):
        f = HeadersFrame(sid)
        f.data = self.enc.encode([(":method", "GET"), (":scheme", "http"),
                                  (":authority", "127.0.0.1:%d" % self.port), (":path", path)])
        f.flags.add("END_HEADERS")
        f.flags.add("END_STREAM")
        self.send(f)

    def frames(self, timeout):
        """Yields frames until EOF or timeout (then returns)."""
        end = time.monotonic() + timeout
        while True:
            while len(self.buf) >= 9:
                f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) < 9 + length:
                    break
                f.parse_body(memoryview(self.buf[9:9 + length]))
                self.buf = self.buf[9 + length:]
                if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
                    self.send(SettingsFrame(0, flags=["ACK"]))
                if isinstance(f, PingFrame) and "ACK" not in f.flags:
                    self.send(PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]))
                yield f
            left = end - time.monotonic()
            if left <= 0 or self.eof:
                return
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
            self.buf += data


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except (ConnectionRefusedError, ConnectionResetError):
        # reset: the connection reached the backlog of a listener that was
        # closing, and went with it
        return True


def shutdown_test(loom, tmp):
    site = os.path.join(tmp, "site")
    os.makedirs(site)
    big = os.path.join(site, "big.bin")
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(BIG >> 20):
            f.write(bytes([i & 0xFF]) + block[1:])
    with open(os.path.join(site, "small.txt"), "wb") as f:
        f.write(b"small\n")
    want = file_sha256(big)
    out = os.path.join(tmp, "download.bin")

    s = Server(loom, site=site, tmp=tmp, extra=["--grace", "40"])
    s.start()
    curl = None
    try:
        # the stalled stream: no WINDOW_UPDATE, so at most 65535 octets come
        raw = RawH2(s.http_port)
        raw.get(1, "/big.bin")
        got = hashlib.sha256()
        n1 = 0
        status = None
        for f in raw.frames(15):
            if isinstance(f, HeadersFrame) and f.stream_id == 1:
                status = dict(raw.dec.decode(f.data)).get(":status")
            if isinstance(f, DataFrame) and f.stream_id == 1:
                got.update(f.data)
                n1 += len(f.data)
            if n1 >= 65535:
                break
        check(status == "200" and n1 == 65535,
              "raw h2c: GET /big.bin gave status %r and %d octets before the window closed" %
              (status, n1))

        curl = subprocess.Popen(["curl", "-sS", "-k", "--http2", "--limit-rate", "12M",
                                 "--max-time", "90", "-o", out, "-w", "%{http_code} %{http_version}",
                                 s.https + "/big.bin"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        end = time.monotonic() + 20
        while time.monotonic() < end and curl.poll() is None:
            if os.path.exists(out) and os.path.getsize(out) > 4 * 1024 * 1024:
                break
            time.sleep(0.05)
        check(curl.poll() is None and os.path.getsize(out) < BIG,
              "the rate-limited download was not in progress at SIGTERM time")

        s.signal_term()

        # no new connections: the listeners close
        end = time.monotonic() + 10
        while time.monotonic() < end and not (refused(s.https_port) and refused(s.http_port)):
            time.sleep(0.05)
        check(refused(s.https_port) and refused(s.http_port),
              "new connections were still accepted 10 s after SIGTERM")
        p = run(["curl", "-sS", "-k", "--http2", "--max-time", "10", s.https + "/small.txt"],
                timeout=20)
        check(p.returncode == 7, "a new curl after SIGTERM: exit %d (wanted 7, refused): %s" %
              (p.returncode, p.stderr.decode(errors="replace")))

        # the raw client: GOAWAY NO_ERROR, final last-stream-id 1
        goaways = []
        for f in raw.frames(15):
            if isinstance(f, GoAwayFrame):
                goaways.append((f.last_stream_id, f.error_code))
                if f.last_stream_id < MAX_ID:
                    break
        check(goaways, "raw h2c: no GOAWAY within 15 s of SIGTERM")
        check(all(code == 0 for _, code in goaways),
              "raw h2c: GOAWAY with an error: %r" % goaways)
        check(goaways[-1][0] == 1, "raw h2c: final GOAWAY last-stream-id %r, wanted 1 (all: %r)" %
              (goaways[-1][0], goaways))

        # a new stream after the final GOAWAY is not served
        raw.get(3, "/small.txt")
        stream3 = []
        for f in raw.frames(1.5):
            if f.stream_id == 3:
                stream3.append(f)
        check(all(isinstance(f, RstStreamFrame) and f.error_code == REFUSED_STREAM
                  for f in stream3),
              "raw h2c: stream 3 opened after GOAWAY was answered: %r" % stream3)

        # curl's download completes while the server waits for it
        try:
            cout, cerr = curl.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise TestFailure("the download did not finish within 60 s of SIGTERM")
        check(curl.returncode == 0, "the download after SIGTERM failed: curl %d %s" %
              (curl.returncode, cerr.decode(errors="replace")))
        check(cout.decode().split() == ["200", "2"], "the download: %r" % cout)
        check(file_sha256(out) == want, "the download after SIGTERM: sha256 differs (%d octets)" %
              os.path.getsize(out))
        check(s.proc.poll() is None,
              "loom serve exited (%r) while a stream was still in flight" % s.proc.poll())

        # open the windows: the stalled stream completes, then the server
        # closes the connection
        raw.send(WindowUpdateFrame(0, window_increment=MAX_ID - 65535))
        raw.send(WindowUpdateFrame(1, window_increment=MAX_ID - 65535))
        ended = False
        for f in raw.frames(60):
            if f.stream_id == 3:
                check(isinstance(f, RstStreamFrame) and f.error_code == REFUSED_STREAM,
                      "raw h2c: stream 3 opened after GOAWAY was answered: %r" % f)
            if isinstance(f, DataFrame) and f.stream_id == 1:
                got.update(f.data)
                n1 += len(f.data)
                if "END_STREAM" in f.flags:
                    ended = True
            if isinstance(f, RstStreamFrame) and f.stream_id == 1:
                raise TestFailure("raw h2c: stream 1 reset (%d) during shutdown" % f.error_code)
        check(ended and n1 == BIG and got.hexdigest() == want,
              "raw h2c: the stalled stream got %d of %d octets (ended %r, sha256 ok %r)" %
              (n1, BIG, ended, got.hexdigest() == want))
        check(raw.eof, "raw h2c: the server did not close the connection after its last stream")
        raw.sock.close()
        rc = s.wait_exit(30)
        check(rc == 0, "loom serve exited %d after the graceful shutdown; stderr:\n%s" %
              (rc, s.err[-6000:].decode(errors="replace")))
    except BaseException:
        if curl and curl.poll() is None:
            curl.kill()
            curl.wait(timeout=10)
        s.kill()
        if s.err:
            print("--- loom serve stderr ---\n%s" % s.err[-6000:].decode(errors="replace"))
        raise
    print("shutdown: ok (curl and a stalled h2c stream completed after SIGTERM; GOAWAYs %r)" %
          goaways)


def exit_tests(loom, tmp):
    site = os.path.join(tmp, "site2")
    os.makedirs(site)
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache2"))
    if "detect_leaks" not in env.get("ASAN_OPTIONS", ""):
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=1").lstrip(":")
    garbage = os.path.join(tmp, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    a_file = os.path.join(site, "file.txt")
    with open(a_file, "w") as f:
        f.write("x\n")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cases = [
        (2, ["--bogus"]),
        (2, [site, "--https"]),
        (2, [site, "--http", "127.0.0.1:notaport"]),
        (2, [site, "--workers", "0"]),
        (2, [site, "--idle-timeout", "soon"]),
        (2, [site, "--cert", garbage]),
        (2, [site, "one-dir", "two-dirs"]),
        (5, [os.path.join(tmp, "no-such-folder"), "--http", "127.0.0.1:0"]),
        (5, [a_file, "--http", "127.0.0.1:0"]),
        (3, [site, "--https", "127.0.0.1:0", "--cert", os.path.join(tmp, "none.pem"),
             "--key", os.path.join(tmp, "none.pem")]),
        (3, [site, "--https", "127.0.0.1:0", "--cert", garbage, "--key", garbage]),
        (4, [site, "--http", "127.0.0.1:%d" % port]),
        (4, [site, "--http", "127.0.0.1:0", "--https", "127.0.0.1:%d" % port]),
    ]
    try:
        for want, args in cases:
            start_refused(loom, args, want, env=env)
    finally:
        busy.close()
    print("exit statuses: ok (%d cases)" % len(cases))


def test(argv):
    loom = argv[0]
    tmp = make_tmp("shutdown")
    try:
        exit_tests(loom, tmp)
        shutdown_test(loom, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
