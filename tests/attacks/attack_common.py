"""Shared machinery of the tests/attacks/*.py tests (issue 11: "abuse costs
the attacker, not the server").

Each test starts its own `loom serve` (one worker, loopback, free ports, a
temporary site with /1k.bin and /1m.bin, an access log, stderr in a file),
runs its attack cases against it one after the other and checks, case by
case:

 (a) how the attacker's connection ends (GOAWAY / RST_STREAM codes, TCP
     close) and when;
 (b) the server's CPU seconds during the case (utime+stime of the whole
     process from /proc/PID/stat, before against after);
 (c) its resident memory (VmRSS from /proc/PID/status, sampled every 20 ms:
     the peak growth over the value before the case);
 (d) a normal client, python3-h2 over h2c on its own connection, fetching
     /1k.bin every 100 ms during the whole test: every fetch succeeds,
     within a latency bound;

and, after every case and at the end, that the server process is alive and
its stderr holds no sanitizer report; at the end it is stopped by SIGTERM
(by PID) and must exit 0 (LeakSanitizer clean).

The attacker side is raw: frames are built here octet by octet (so that
invalid ones can be sent), field blocks with a few HPACK helpers (RFC 7541,
no Huffman, no dynamic table unless asked), and what the server sends is
parsed with python3-hyperframe and decoded with python3-hpack (H2Conn).
HTTP/1.1 attacks use plain sockets (h1_* helpers).

    def case_x(t):                       # t: a Run (server, normal client)
        with t.measure() as m:           # CPU and RSS during the block
            c = t.h2()                   # attacker connection, preface done
            ...send frames..., c.wait_end(5)
        t.check_cost(m, cpu=1.0, rss_kib=8192)
    main([("x", case_x)], extra=[...])   # argv[1]: path to loom

The server runs with a 1 MiB ASan quarantine (unless ASAN_OPTIONS names
one): with ASan's default 256 MiB every freed block is held back, and RSS
would count churn as growth.

A case's failure does not stop the others; each prints its measurements
(PASS/FAIL lines with the server's CPU and RSS, times to GOAWAY, the normal
client's fetches), so that a failing run still says how far off it is.
`TEST.py LOOM CASE...` runs some cases only.

Every process started here is stopped by its PID, every wait has a
deadline. Run with /usr/bin/python3 (the pyenv python lacks hyperframe).
Environment: LOOM_ATTACK_VERBOSE=1 prints more detail; LOOM_ATTACK_SEED
sets random_frames' seed."""
import collections
import ctypes
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from get_common import make_cert  # noqa: E402  (the openssl CLI, as the interop tests do)

READY_TIMEOUT = 30.0  # ASan build on a loaded machine
STOP_TIMEOUT = 30.0
VERBOSE = os.environ.get("LOOM_ATTACK_VERBOSE") == "1"

# ---- the normal client's bounds (d), for every test ----
# Measured on the shared 2-core machine under ASan with the whole suite at
# -j2 (load average 10-20): fetches of /1k.bin take 1-30 ms, the slowest
# seen while an attack runs ~150 ms. An undefended server busy with an
# attack answers in seconds or not at all. Bound: 1.5 s per fetch.
NORMAL_LATENCY_MAX = 1.5
NORMAL_FETCH_TIMEOUT = 5.0   # a fetch not done by then is a failure
NORMAL_INTERVAL = 0.1

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §7 error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
CONNECT_ERROR = 0xa
ENHANCE_YOUR_CALM = 0xb
INADEQUATE_SECURITY = 0xc
HTTP_1_1_REQUIRED = 0xd
CODE_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
              4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR",
              7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR", 0xa: "CONNECT_ERROR",
              0xb: "ENHANCE_YOUR_CALM", 0xc: "INADEQUATE_SECURITY", 0xd: "HTTP_1_1_REQUIRED"}

# frame types, flags, settings
T_DATA, T_HEADERS, T_PRIORITY, T_RST_STREAM, T_SETTINGS, T_PUSH_PROMISE, T_PING, T_GOAWAY, \
    T_WINDOW_UPDATE, T_CONTINUATION = range(10)
T_PRIORITY_UPDATE = 0x10
F_END_STREAM = 0x1
F_ACK = 0x1
F_END_HEADERS = 0x4
F_PADDED = 0x8
F_PRIORITY = 0x20
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, \
    S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)
S_NO_RFC7540_PRIORITIES = 9
MAX_WINDOW = (1 << 31) - 1

SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error|"
                          r"UndefinedBehaviorSanitizer|SUMMARY: \w+Sanitizer")


class TestFailure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def code_name(code):
    return "%#x %s" % (code, CODE_NAMES.get(code, "?"))


_T0 = time.monotonic()


def log(msg):
    print("[%6.2f] %s" % (time.monotonic() - _T0, msg), flush=True)


def vlog(msg):
    if VERBOSE:
        log(msg)


# ---- frames, octet by octet ----

def frame(ftype, flags, sid, payload=b""):
    """One frame; sid is written as given (the reserved bit too)."""
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags, sid & 0xffffffff) + payload


def headers_frame(sid, block, end_stream=True, end_headers=True, priority=None):
    flags = (F_END_STREAM if end_stream else 0) | (F_END_HEADERS if end_headers else 0)
    if priority is not None:  # (dependency, weight, exclusive)
        dep, weight, excl = priority
        flags |= F_PRIORITY
        block = struct.pack(">IB", dep | (0x80000000 if excl else 0), weight) + block
    return frame(T_HEADERS, flags, sid, block)


def continuation(sid, frag, end_headers=False):
    return frame(T_CONTINUATION, F_END_HEADERS if end_headers else 0, sid, frag)


def data_frame(sid, payload=b"", end_stream=False):
    return frame(T_DATA, F_END_STREAM if end_stream else 0, sid, payload)


def rst_stream(sid, code=CANCEL):
    return frame(T_RST_STREAM, 0, sid, struct.pack(">I", code))


def settings(pairs=()):
    return frame(T_SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def settings_ack():
    return frame(T_SETTINGS, F_ACK, 0)


def ping(opaque=b"\0" * 8, ack=False):
    return frame(T_PING, F_ACK if ack else 0, 0, opaque)


def window_update(sid, inc):
    return frame(T_WINDOW_UPDATE, 0, sid, struct.pack(">I", inc))


def priority(sid, dep, weight=15, exclusive=False):
    return frame(T_PRIORITY, 0, sid, struct.pack(">IB", dep | (0x80000000 if exclusive else 0),
                                                 weight))


def priority_update(prioritized_sid, value=b"u=3"):
    return frame(T_PRIORITY_UPDATE, 0, 0, struct.pack(">I", prioritized_sid) + value)


def goaway(last, code=NO_ERROR):
    return frame(T_GOAWAY, 0, 0, struct.pack(">II", last, code))


# ---- HPACK, by hand (RFC 7541) ----

def _b(s):
    return s.encode("latin-1") if isinstance(s, str) else bytes(s)


def hp_int(value, prefix, first=0):
    mx = (1 << prefix) - 1
    if value < mx:
        return bytes([first | value])
    out = [first | mx]
    value -= mx
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hp_str(s):
    s = _b(s)
    return hp_int(len(s), 7) + s


def hp_indexed(i):
    return hp_int(i, 7, 0x80)


def hp_literal(name, value, index=False):
    """A literal field: without indexing (the default: the block leaves the
    dynamic table alone) or with incremental indexing; name is a static
    table index or a string."""
    if isinstance(name, int):
        return (hp_int(name, 6, 0x40) if index else hp_int(name, 4, 0)) + hp_str(value)
    return (b"\x40" if index else b"\x00") + hp_str(name) + hp_str(value)


def request_block(path, method="GET", authority="127.0.0.1", scheme="http", extra=()):
    """A request's field block that never touches the dynamic table (each
    block stands alone, so blocks can be sent in any order or dropped)."""
    m = {"GET": hp_indexed(2), "POST": hp_indexed(3)}.get(method) or hp_literal(2, method)
    blk = m + hp_indexed(6 if scheme == "http" else 7) + hp_literal(4, path) + \
        hp_literal(1, authority)
    for n, v in extra:
        blk += hp_literal(n, v)
    return blk


# ---- /proc ----

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK  # fields 14 and 15


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure("no VmRSS for pid %d" % pid)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING"}


def tcp_state(local_port, remote_port):
    """The state of the loopback TCP socket local_port -> remote_port as
    /proc/net/tcp shows it ("ESTABLISHED", "FIN_WAIT1", ...), or None when
    there is none. Used to see that the SERVER closed its side of a
    connection we do not read (its FIN waits behind unread data)."""
    want_l, want_r = ":%04X" % local_port, ":%04X" % remote_port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1].endswith(want_l) and p[2].endswith(want_r):
                return TCP_STATES.get(int(p[3], 16), p[3])
    return None


class Monitor:
    """CPU seconds and peak RSS growth of a process over a with-block."""

    def __init__(self, pid, interval=0.02):
        self.pid, self.interval = pid, interval
        self.cpu = self.rss_growth_kib = self.rss_end_growth_kib = None

    def _sample(self):
        while not self._stop.wait(self.interval):
            try:
                self.rss_max = max(self.rss_max, rss_kib(self.pid))
            except (OSError, TestFailure):
                return

    def __enter__(self):
        self.t0 = time.monotonic()
        self.cpu0 = cpu_seconds(self.pid)
        self.rss0 = self.rss_max = rss_kib(self.pid)
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._sample, daemon=True)
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(timeout=5)
        self.elapsed = time.monotonic() - self.t0
        try:
            self.cpu = cpu_seconds(self.pid) - self.cpu0
            end = rss_kib(self.pid)
            self.rss_max = max(self.rss_max, end)
            self.rss_end_growth_kib = end - self.rss0
        except OSError:
            self.cpu = float("nan")
            self.rss_end_growth_kib = 0
        self.rss_growth_kib = self.rss_max - self.rss0
        return False

    def describe(self):
        return "server CPU %.2f s over %.1f s, RSS %d KiB -> peak +%d KiB (end %+d KiB)" % (
            self.cpu, self.elapsed, self.rss0, self.rss_growth_kib, self.rss_end_growth_kib)


# ---- the server ----

class Server:
    """`loom serve SITE --workers 1 --http 127.0.0.1:0 [--https 127.0.0.1:0
    --cert --key] --access-log FILE --grace 2 [extra]`, stdout read for the
    'listening on' lines, stderr into a file (read at any time).
    nofile: RLIMIT_NOFILE for the server (soft and hard)."""

    def __init__(self, loom, tls=False, extra=(), nofile=None):
        self.loom = loom
        self.tls = tls
        self.extra = list(extra)
        self.nofile = nofile
        self.tmp = tempfile.mkdtemp(prefix="loom-attack-")
        self.site = os.path.join(self.tmp, "site")
        os.makedirs(self.site)
        self.files = {"/1k.bin": os.urandom(1024), "/1m.bin": os.urandom(1 << 20)}
        for name, data in self.files.items():
            with open(self.site + name, "wb") as f:
                f.write(data)
        self.log_path = os.path.join(self.tmp, "access.log")
        self.err_path = os.path.join(self.tmp, "stderr.txt")
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()
        self.http_port = self.https_port = None
        self.rc = None

    @property
    def pid(self):
        return self.proc.pid

    def _preexec(self):
        # the server dies with the test (a test killed by ctest's timeout
        # leaves no server behind)
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if self.nofile:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def start(self):
        args = [self.loom, "serve", self.site, "--workers", "1", "--http", "127.0.0.1:0"]
        if self.tls:
            self.cert, self.key = make_cert(self.tmp, ["DNS:localhost", "IP:127.0.0.1"])
            args += ["--https", "127.0.0.1:0", "--cert", self.cert, "--key", self.key]
        args += ["--log-format", "loom", "--access-log", self.log_path, "--grace", "2"] + self.extra
        self.args = args
        env = dict(os.environ)
        env["XDG_CACHE_HOME"] = os.path.join(self.tmp, "cache")
        asan = env.get("ASAN_OPTIONS", "")
        if "detect_leaks" not in asan:
            asan = (asan + ":" if asan else "") + "detect_leaks=1"
        if "quarantine_size_mb" not in asan:
            # RSS is to measure what the server keeps, not what it freed:
            # ASan's default quarantine (256 MiB) holds every freed block
            # back from reuse, so churn would count as growth (a TLS
            # handshake alone leaves ~400 KiB there). A 1 MiB quarantine
            # still catches the use of recently freed memory.
            asan += ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
        env["ASAN_OPTIONS"] = asan
        self.errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errf, env=env,
                                     preexec_fn=self._preexec)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        end = time.monotonic() + READY_TIMEOUT
        want = 2 if self.tls else 1
        with self.cond:
            while True:
                got = [ln for ln in self.lines if ln.startswith("listening on ")]
                if len(got) >= want:
                    break
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    rc = self.proc.poll()
                    self.kill()
                    raise TestFailure(
                        "loom serve %s: %s\nstdout %r\nstderr %s" % (
                            "did not listen within %.0f s" % READY_TIMEOUT if rc is None else
                            "exited with status %d before listening" % rc,
                            " ".join(args), self.lines, self.stderr()[-3000:]))
                self.cond.wait(min(left, 0.2))
        for ln in got:
            url = ln.split()[2].rstrip("/")
            port = int(url.rsplit(":", 1)[1])
            if url.startswith("https://"):
                self.https_port = port
            else:
                self.http_port = port
        log("loom serve pid %d: %s" % (self.pid, " ".join(args[2:])))
        return self

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def access_lines(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace").splitlines()
        except OSError:
            return []

    def logged(self, path="/1m.bin"):
        """Requests for path in the access log (the normal client asks for
        /1k.bin only, so attacks count their own with another path)."""
        return sum(1 for ln in self.access_lines() if (" %s " % path) in ln)

    def alive(self):
        return self.proc.poll() is None

    def check_clean(self, what=""):
        """The server runs and has reported no sanitizer error."""
        err = self.stderr()
        m = SANITIZER_RE.search(err)
        check(not m, "%sloom serve's stderr has a sanitizer report:\n%s" %
              (what, err[max(0, m.start() - 200):m.start() + 4000] if m else ""))
        check(self.alive(), "%sloom serve (pid %d) is no longer running: exit status %r; "
              "stderr:\n%s" % (what, self.pid, self.proc.poll(), err[-4000:]))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        """SIGTERM by PID; the exit status must be 0 and stderr clean."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("loom serve did not exit within %.0f s of SIGTERM" % STOP_TIMEOUT)
        finally:
            self.reader.join(timeout=5)
            self.errf.close()
        err = self.stderr()
        m = SANITIZER_RE.search(err)
        check(not m, "loom serve's stderr has a sanitizer report:\n%s" %
              (err[max(0, m.start() - 200):m.start() + 4000] if m else ""))
        check(self.rc == 0, "loom serve exited %d after SIGTERM (wanted 0); stderr:\n%s" %
              (self.rc, err[-4000:]))

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- the raw HTTP/2 attacker connection ----

def tls_client_context(alpn=("h2",)):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    return ctx


class Closed(Exception):
    pass


class H2Conn:
    """A raw HTTP/2 client connection: the preface and an (optional)
    SETTINGS go out at once; with handshake=True the server's SETTINGS is
    awaited and acknowledged before the constructor returns. Then send()
    takes any octets. What the server sends is parsed (hyperframe, hpack)
    into: goaway (t, code, last_stream_id, debug), closed (t, "eof" or
    "reset"), rst [(t, sid, code)], status {sid: [(t, status)]}, ended
    {sid: t}, data_in {sid: octets}, frames_in, acks.

    h2c connections read in a thread (reader=True) so that the sender never
    blocks on the server's output; reader=False leaves the socket unread
    (start_reader() later) - the attacker that does not read. TLS
    connections (no thread: an ssl socket is not for two threads) read with
    pump()."""

    def __init__(self, port, tls=False, settings_pairs=(), reader=True, handshake=True,
                 timeout=10.0, send_settings=True):
        self.t_connect = time.monotonic()
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = raw.getsockname()[1]
        self.port = port
        self.tls = tls
        if tls:
            raw = tls_client_context().wrap_socket(raw, server_hostname="localhost")
            check(raw.selected_alpn_protocol() == "h2",
                  "ALPN chose %r, not h2" % raw.selected_alpn_protocol())
        self.sock = raw
        self.cond = threading.Condition()
        self.slock = threading.Lock()
        self.buf = bytearray()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 20
        self.block = None  # (sid, flags, octets) of a field block in progress
        self.goaway = None
        self.closed = None
        self.send_failed = None
        self.rst = []
        self.status = collections.defaultdict(list)
        self.ended = {}
        self.data_in = collections.defaultdict(int)
        self.small_data = 0  # DATA frames of fewer than 1024 octets
        self.window_in = collections.defaultdict(int)  # WINDOW_UPDATE increments by stream
        self.server_settings = None
        self.settings_acked = 0
        self.acks = 0  # PING ACKs
        self.frames_in = 0
        self.bytes_out = 0
        self.parse_error = None
        self._thread = None
        out = PREFACE + (settings(settings_pairs) if send_settings else b"")
        self.send(out)
        if handshake:
            self.pump(timeout, until=lambda: self.server_settings is not None)
            check(not self.closed, "the server closed the connection before its SETTINGS: %s"
                  % self.describe())
            check(self.server_settings is not None,
                  "no SETTINGS from the server within %.0f s" % timeout)
            self.send(settings_ack())
        if reader and not tls:
            self.start_reader()

    # -- output --

    def send(self, octets):
        """Sends it all; False (and send_failed set) when the connection is
        gone or the server stopped reading for the socket timeout."""
        if self.send_failed:
            return False
        try:
            with self.slock:
                self.sock.sendall(octets)
            self.bytes_out += len(octets)
            return True
        except (OSError, ssl.SSLError) as e:
            self.send_failed = (time.monotonic(), repr(e))
            return False

    # -- input --

    def start_reader(self):
        if self._thread is None:
            self.sock.settimeout(None if self.tls else 10.0)
            self._thread = threading.Thread(target=self._reader, daemon=True)
            self._thread.start()

    def _reader(self):
        while True:
            try:
                data = self.sock.recv(262144)
            except socket.timeout:
                if self.closed or self._stopping:
                    return
                continue
            except (OSError, ssl.SSLError):
                self._set_closed("reset")
                return
            if not data:
                self._set_closed("eof")
                return
            self._feed(data)

    _stopping = False

    def pump(self, seconds, until=None):
        """Reads (without a reader thread) for up to `seconds`, or until
        the connection ends or until() is true."""
        end = time.monotonic() + seconds
        while not self.closed and not (until and until()):
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(min(left, 0.5))
            try:
                data = self.sock.recv(262144)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (OSError, ssl.SSLError):
                self._set_closed("reset")
                return
            if not data:
                self._set_closed("eof")
                return
            self._feed(data)

    def _set_closed(self, how):
        with self.cond:
            if not self.closed:
                self.closed = (time.monotonic(), how)
            self.cond.notify_all()

    def _feed(self, data):
        self.buf += data
        off = 0
        n = len(self.buf)
        events = False
        while n - off >= 9:
            length = int.from_bytes(self.buf[off:off + 3], "big")
            if n - off < 9 + length:
                break
            try:
                f, _ = Frame.parse_frame_header(memoryview(self.buf[off:off + 9]))
                f.parse_body(memoryview(self.buf[off + 9:off + 9 + length]))
            except Exception as e:  # a frame hyperframe refuses: kept as a finding
                self.parse_error = self.parse_error or repr(e)
                off += 9 + length
                continue
            off += 9 + length
            self._on_frame(f)
            events = True
        del self.buf[:off]
        if events:
            with self.cond:
                self.cond.notify_all()

    def _on_frame(self, f):
        now = time.monotonic()
        self.frames_in += 1
        sid = f.stream_id
        if isinstance(f, GoAwayFrame):
            if self.goaway is None:
                self.goaway = (now, f.error_code, f.last_stream_id, bytes(f.additional_data))
        elif isinstance(f, RstStreamFrame):
            self.rst.append((now, sid, f.error_code))
        elif isinstance(f, (HeadersFrame, ContinuationFrame)):
            if isinstance(f, HeadersFrame):
                self.block = (sid, "END_STREAM" in f.flags, bytes(f.data))
            elif self.block:
                self.block = (self.block[0], self.block[1], self.block[2] + bytes(f.data))
            if "END_HEADERS" in f.flags and self.block:
                bsid, end, blk = self.block
                self.block = None
                try:
                    fields = self.dec.decode(blk, raw=True)
                    st = [v for k, v in fields if k == b":status"]
                    self.status[bsid].append((now, int(st[0]) if st else 0))
                except Exception as e:
                    self.parse_error = self.parse_error or "HPACK: %r" % e
                if end:
                    self.ended[bsid] = now
        elif isinstance(f, DataFrame):
            self.data_in[sid] += len(f.data)
            if len(f.data) < 1024:
                self.small_data += 1
            if "END_STREAM" in f.flags:
                self.ended[sid] = now
        elif isinstance(f, SettingsFrame):
            if "ACK" in f.flags:
                self.settings_acked += 1
            else:
                self.server_settings = dict(f.settings)
        elif isinstance(f, PingFrame):
            if "ACK" in f.flags:
                self.acks += 1
        elif isinstance(f, WindowUpdateFrame):
            self.window_in[sid] += f.window_increment

    def wait(self, pred, timeout):
        """Waits (reader thread or pump) until pred() or the deadline;
        returns pred()."""
        end = time.monotonic() + timeout
        if self._thread is None:
            self.pump(max(0.0, end - time.monotonic()), until=pred)
            return pred()
        with self.cond:
            while not pred():
                left = end - time.monotonic()
                if left <= 0 or self.closed:
                    break
                self.cond.wait(min(left, 0.2))
            return pred()

    def wait_end(self, timeout):
        """Until GOAWAY or close."""
        return self.wait(lambda: self.goaway is not None or self.closed is not None, timeout)

    def wait_closed(self, timeout):
        return self.wait(lambda: self.closed is not None, timeout)

    def rst_codes(self):
        return collections.Counter(c for _, _, c in self.rst)

    def describe(self):
        g = self.goaway
        parts = []
        if g:
            parts.append("GOAWAY %s last=%d debug=%r at +%.2f s" % (
                code_name(g[1]), g[2], g[3][:80], g[0] - self.t_connect))
        if self.closed:
            parts.append("closed (%s) at +%.2f s" % (self.closed[1],
                                                    self.closed[0] - self.t_connect))
        if self.send_failed:
            parts.append("send failed at +%.2f s (%s)" % (self.send_failed[0] - self.t_connect,
                                                          self.send_failed[1]))
        if self.rst:
            parts.append("RST_STREAM %s" % dict((code_name(k), v) for k, v in
                                                self.rst_codes().items()))
        if self.parse_error:
            parts.append("unparsable input: %s" % self.parse_error)
        parts.append("%d frames in, %d octets out" % (self.frames_in, self.bytes_out))
        return "; ".join(parts)

    def close(self):
        self._stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread:
            self._thread.join(timeout=5)
        try:
            self.sock.close()
        except OSError:
            pass


def expect_goaway(c, code, within, what, t0=None):
    """c ends with GOAWAY `code` within `within` seconds of t0 (default:
    the connect); returns the GOAWAY's time after t0."""
    t0 = c.t_connect if t0 is None else t0
    c.wait_end(max(0.0, t0 + within - time.monotonic()))
    check(c.goaway is not None, "%s: no GOAWAY within %.1f s (wanted %s): %s" %
          (what, within, code_name(code), c.describe()))
    t = c.goaway[0] - t0
    check(c.goaway[1] == code, "%s: GOAWAY %s, wanted %s: %s" %
          (what, code_name(c.goaway[1]), code_name(code), c.describe()))
    check(t <= within, "%s: GOAWAY after %.2f s, wanted within %.1f s" % (what, t, within))
    return t


# ---- HTTP/1.1 raw sockets ----

def h1_connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def h1_read_response(sock, deadline, buf=b""):
    """One response: (status, {name: value}, body, rest_of_buffer), or
    (None, ..., "eof"/"reset"/"timeout" in place of the body) when the
    connection ended (or the deadline passed) before a whole response."""
    def more():
        left = deadline - time.monotonic()
        if left <= 0:
            return None, "timeout"
        sock.settimeout(left)
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return None, "timeout"
        except OSError:
            return None, "reset"
        return (d, None) if d else (None, "eof")
    while b"\r\n\r\n" not in buf:
        d, why = more()
        if d is None:
            return None, {}, why, buf
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        return None, {}, "bad status line %r" % lines[0], buf
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(m.group(1))
    if 100 <= status < 200:
        return h1_read_response(sock, deadline, buf)
    n = int(hdrs.get("content-length", "0"))
    while len(buf) < n:
        d, why = more()
        if d is None:
            return status, hdrs, why, buf
        buf += d
    return status, hdrs, buf[:n], buf[n:]


def wait_eof(sock, deadline):
    """Reads until the peer closes: ("eof"|"reset"|None on timeout, time,
    octets read meanwhile)."""
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, time.monotonic(), got
        sock.settimeout(left)
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return "reset", time.monotonic(), got
        if not d:
            return "eof", time.monotonic(), got
        got += len(d)


# ---- the normal client (python3-h2 over h2c) ----

class WrongAnswer(Exception):
    pass


class NormalClient(threading.Thread):
    """GET /1k.bin every 100 ms over one HTTP/2 connection of its own
    (python3-h2, prior knowledge); every fetch is recorded as (start time,
    latency, error). A failed connection is recorded and opened again."""

    def __init__(self, port, body, path="/1k.bin"):
        super().__init__(daemon=True)
        self.port, self.body, self.path = port, body, path
        self.records = []
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.connects = 0

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=NORMAL_FETCH_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                 header_encoding="utf-8"))
        c.initiate_connection()
        s.sendall(c.data_to_send())
        self.connects += 1
        return s, c

    def _fetch(self, s, c):
        t0 = time.monotonic()
        sid = c.get_next_available_stream_id()
        c.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                             (":authority", "127.0.0.1:%d" % self.port), (":path", self.path),
                             ("user-agent", "loom-attack-normal-client")], end_stream=True)
        s.sendall(c.data_to_send())
        status, body, done = None, bytearray(), False
        end = t0 + NORMAL_FETCH_TIMEOUT
        while not done:
            left = end - time.monotonic()
            if left <= 0:
                raise TestFailure("no answer within %.1f s" % NORMAL_FETCH_TIMEOUT)
            s.settimeout(left)
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise TestFailure("the server closed the connection")
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = dict(ev.headers).get(":status")
                elif isinstance(ev, h2.events.DataReceived):
                    if ev.stream_id == sid:
                        body += ev.data
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    raise TestFailure("stream reset %s" % code_name(ev.error_code))
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise TestFailure("GOAWAY %s" % code_name(ev.error_code))
            out = c.data_to_send()
            if out:
                s.sendall(out)
        lat = time.monotonic() - t0
        if status != "200" or bytes(body) != self.body:
            raise WrongAnswer("status %s, %d octets" % (status, len(body)))
        return lat

    def run(self):
        conn = None
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            t = time.monotonic()
            try:
                if conn is None:
                    conn = self._connect()
                lat, err = self._fetch(*conn), None
            except WrongAnswer as e:  # the connection is fine: kept
                lat, err = None, str(e)
            except (OSError, TestFailure, h2.exceptions.ProtocolError) as e:
                lat, err = None, str(e) or repr(e)
                if conn:
                    conn[0].close()
                conn = None
            with self.lock:
                self.records.append((t, lat, err))
            nxt = max(nxt + NORMAL_INTERVAL, time.monotonic())
            self.stop_ev.wait(max(0.0, nxt - time.monotonic()))
        if conn:
            conn[0].close()

    def wait_first(self, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if any(r[1] is not None for r in self.records):
                    return
            time.sleep(0.05)
        raise TestFailure("the normal client got no answer within %.0f s: %r" %
                          (timeout, self.records[-3:]))

    def window(self, t0, t1):
        with self.lock:
            return [r for r in self.records if t0 <= r[0] <= t1]

    def check(self, t0, t1, what):
        """Every fetch started in [t0, t1] succeeded within the bound;
        returns a description."""
        recs = self.window(t0, t1)
        fails = [(r[0] - t0, r[2]) for r in recs if r[2]]
        check(not fails, "%s: the normal client failed %d of %d fetches: %s" %
              (what, len(fails), len(recs), "; ".join("+%.2f s: %s" % f for f in fails[:5])))
        lats = [r[1] for r in recs]
        want = int((t1 - t0) / NORMAL_INTERVAL * 0.3) - 1  # a third of the planned, loaded
        check(len(recs) >= want, "%s: the normal client made only %d fetches in %.1f s" %
              (what, len(recs), t1 - t0))
        mx = max(lats) if lats else 0
        check(mx <= NORMAL_LATENCY_MAX, "%s: a normal fetch took %.3f s (bound %.1f s)" %
              (what, mx, NORMAL_LATENCY_MAX))
        return "normal client %d fetches ok, max %.0f ms" % (len(recs), mx * 1000)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=NORMAL_FETCH_TIMEOUT + 5)


# ---- running a test's cases ----

class Run:
    """What a case gets: the server, the normal client, and helpers."""

    def __init__(self, loom, server, normal):
        self.loom, self.server, self.normal = loom, server, normal
        self.notes = []

    @property
    def pid(self):
        return self.server.pid

    def measure(self):
        """A Monitor of the server whose numbers go into the case's notes
        (even when a check inside the block fails)."""
        run = self

        class Noted(Monitor):
            def __exit__(self, *exc):
                Monitor.__exit__(self, *exc)
                run.note(self.describe())
                return False
        return Noted(self.server.pid)

    def h2(self, **kw):
        return H2Conn(self.server.http_port, **kw)

    def h2tls(self, **kw):
        return H2Conn(self.server.https_port, tls=True, **kw)

    def note(self, msg):
        self.notes.append(msg)

    def check_cost(self, m, cpu, rss_kib):
        check(m.cpu <= cpu, "server CPU %.2f s during the attack, bound %.2f s (%s)" %
              (m.cpu, cpu, m.describe()))
        check(m.rss_growth_kib <= rss_kib, "server RSS grew by %d KiB, bound %d KiB (%s)" %
              (m.rss_growth_kib, rss_kib, m.describe()))


def main(cases, tls=False, extra=(), nofile=None, normal=True):
    """Runs the cases [(name, fn(run))] against one server; every case runs
    (a failure does not stop the others); exit status 1 if any failed."""
    if len(sys.argv) < 2:
        print("usage: %s path/to/loom [case...]" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    loom = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    # SIGTERM (ctest's timeout) ends the test through its finally: blocks
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    test = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    t_start = time.monotonic()
    failures = []
    srv = Server(loom, tls=tls, extra=extra, nofile=nofile)
    nc = None
    try:
        try:
            srv.start()
        except TestFailure as e:
            print("FAIL %s: %s" % (test, e), file=sys.stderr)
            sys.exit(1)
        if normal:
            nc = NormalClient(srv.http_port, srv.files["/1k.bin"])
            nc.start()
            nc.wait_first()
        for name, fn in cases:
            if only and name not in only:
                continue
            run = Run(loom, srv, nc)
            t0 = time.monotonic()
            errors = []
            try:
                fn(run)
            except TestFailure as e:
                errors.append(str(e))
            except Exception:  # a bug of the test itself, or an unexpected error
                errors.append(traceback.format_exc())
            t1 = time.monotonic()
            if nc:
                try:
                    run.note(nc.check(t0, t1, name))
                except TestFailure as e:
                    errors.append(str(e))
            try:
                srv.check_clean("after %s: " % name)
            except TestFailure as e:
                errors.append(str(e))
            if not errors:
                log("PASS %s/%s (%.1f s): %s" % (test, name, t1 - t0, "; ".join(run.notes)))
                continue
            failures.append(name)
            log("FAIL %s/%s (%.1f s): %s\n    notes: %s" % (
                test, name, t1 - t0, "\n    and: ".join(errors), "; ".join(run.notes)))
            if not srv.alive():
                log("the server is gone; the remaining cases are not run")
                failures += [n for n, _ in cases[cases.index((name, fn)) + 1:]]
                break
        if nc:
            nc.stop()
            try:
                log("the whole run: " + nc.check(t_start, time.monotonic(), "the whole run"))
            except TestFailure as e:
                failures.append("normal_client")
                log("FAIL %s/normal_client: %s" % (test, e))
            nc = None
        try:
            srv.check_clean("at the end: ")
            srv.stop()
        except TestFailure as e:
            failures.append("server")
            log("FAIL %s/server: %s" % (test, e))
    finally:
        if nc:
            nc.stop()
        srv.cleanup()
    if failures:
        log("%s: %d failed: %s (%.1f s)" % (test, len(failures), " ".join(failures),
                                           time.monotonic() - t_start))
        sys.exit(1)
    log("%s: ok (%.1f s)" % (test, time.monotonic() - t_start))


def paced(rate, duration, fn, stop=lambda: False, tick=0.02):
    """Calls fn(k) for k = 0, 1, ... at `rate` per second (in small batches
    every `tick` s, on an absolute schedule) for `duration` seconds or until
    stop() or fn returns False. Returns the number of calls."""
    t0 = time.monotonic()
    k = 0
    while True:
        now = time.monotonic()
        if now - t0 >= duration or stop():
            return k
        due = int((now - t0) * rate) + 1
        while k < due:
            if fn(k) is False:
                return k
            k += 1
        time.sleep(tick)


def rng(default_seed):
    seed = int(os.environ.get("LOOM_ATTACK_SEED", default_seed))
    return seed, random.Random(seed)
