"""Shared by the tests/interop/get_*.py tests of `loom get` (the client)
against real HTTP/2 servers: free loopback ports, self-signed certificates
made at test time with the openssl CLI, server children started in a
temporary folder and stopped by their PID, every wait bounded, and `loom get`
runs whose -v trace, summary and exit status are parsed.

    t = Tmp("nginx")                       # a temporary folder, removed at exit
    cert, key = make_cert(t.path, ["DNS:localhost", "IP:127.0.0.1"])
    with Peer("nginx", [...], ports=[p]) as srv:   # ready when the ports accept
        r = get(loom, "-k", "-v", url)     # r.rc, r.out (bytes), r.err (str)
        r.frames                           # [Frame(dir, type, length, flags, sid)]
"""
import collections
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

STOP_TIMEOUT = 10.0
READY_TIMEOUT = 20.0
GET_TIMEOUT = 60.0


class TestFailure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


_T0 = time.monotonic()


def log(msg):
    print("[%5.1f] %s" % (time.monotonic() - _T0, msg), flush=True)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=READY_TIMEOUT, proc=None, host="127.0.0.1"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


_tmps = []


class Tmp:
    """A temporary folder for one test, readable by all (Apache's children
    run as nobody), removed when the test ends."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix="loom-get-%s-" % name)
        os.chmod(self.path, 0o755)
        _tmps.append(self.path)

    def join(self, *a):
        return os.path.join(self.path, *a)

    def write(self, name, data, mode=0o644):
        p = self.join(name)
        os.makedirs(os.path.dirname(p), mode=0o755, exist_ok=True)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(p, mode)
        return p


def make_cert(folder, sans, cn="localhost", name="cert"):
    """A self-signed EC certificate with the given subjectAltName entries
    (e.g. ["DNS:localhost", "IP:127.0.0.1"]); returns (cert, key) paths."""
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + "-key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
           "-addext", "subjectAltName=" + ",".join(sans),
           "-addext", "basicConstraints=critical,CA:FALSE",
           "-addext", "extendedKeyUsage=serverAuth"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 0, "openssl req failed: %s" % p.stderr.decode(errors="replace"))
    os.chmod(key, 0o644)
    return cert, key


def site(tmp, sub="doc"):
    """A small site: a page linking three assets, a 2 MB file, and their
    sha256 by path."""
    files = {
        "/index.html": b"<!doctype html><html><head><link rel=stylesheet href=\"/style.css\">"
                       b"<script src=\"/app.js\"></script></head><body><img src=\"/img.png\">"
                       b"<p>loom get interop</p></body></html>\n",
        "/style.css": os.urandom(300000),
        "/app.js": os.urandom(100000),
        "/img.png": os.urandom(40000),
        "/big.bin": os.urandom(2000000),
        "/small.txt": b"hello from the test\n",
    }
    for p, data in files.items():
        tmp.write(sub + p, data)
    root = tmp.join(sub)
    return root, {p: sha256(d) for p, d in files.items()}, files


class Peer:
    """A server child, in its own process group, ready once its ports accept
    connections; stopped with SIGTERM by PID (then SIGKILL after a bound)."""

    def __init__(self, name, cmd, ports=(), cwd=None, env=None, stop_signal=signal.SIGTERM,
                 out=None):
        self.name, self.cmd, self.ports = name, cmd, list(ports)
        self.cwd, self.env, self.stop_signal = cwd, env, stop_signal
        self.out = out or os.path.join(tempfile.gettempdir(), "loom-get-%s-%d.log" %
                                       (name, os.getpid()))
        self.proc = None

    def start(self):
        self.fh = open(self.out, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self.fh,
                                     stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env,
                                     start_new_session=True)
        for p in self.ports:
            if not wait_port(p, proc=self.proc):
                self.stop()
                raise TestFailure("%s did not listen on port %d within %ss (exit status %r):\n%s"
                                  % (self.name, p, READY_TIMEOUT, self.proc.poll(),
                                     self.output()[-3000:]))
        return self

    def output(self):
        try:
            with open(self.out, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, self.stop_signal)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                try:
                    self.proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            except ProcessLookupError:
                pass
        self.fh.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, typ, val, tb):
        self.stop()
        if typ is not None:
            sys.stderr.write("--- %s output ---\n%s\n" % (self.name, self.output()[-4000:]))
        return False


class LogTail:
    """A server's log file, read from where the last look ended."""

    def __init__(self, path):
        self.path, self.pos = path, 0

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                return f.read()
        except OSError:
            return b""

    def mark(self):
        self.pos += len(self._read())

    def new(self, want_lines=0, timeout=5.0):
        """The lines added since mark(), waiting (bounded) for want_lines."""
        end = time.monotonic() + timeout
        while True:
            data = self._read()
            lines = data.decode(errors="replace").splitlines()
            if len(lines) >= want_lines or time.monotonic() > end:
                self.pos += len(data)
                return lines
            time.sleep(0.05)


# ---- loom get ----

Frame = collections.namedtuple("Frame", "t conn dir type length flags sid")
FRAME_RE = re.compile(r"^\[\s*([0-9.]+)\] (?:#(\d) )?(send|recv) ([A-Z_0-9]+) frame "
                      r"<length=(\d+), flags=0x([0-9a-f]{2}), stream_id=(\d+)>$")
SUMMARY_RE = re.compile(r"^; (\d+) responses? \((\d+) octets\) over (\d+) connections?; "
                        r"(\d+) pushed, (\d+) push(?:es)? refused$")
SANITIZER_RE = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                          r"runtime error:)")


class GetResult:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err
        self.frames = []
        self.summary = None
        for line in err.splitlines():
            m = FRAME_RE.match(line)
            if m:
                self.frames.append(Frame(float(m.group(1)), int(m.group(2) or 0), m.group(3),
                                         m.group(4), int(m.group(5)), int(m.group(6), 16),
                                         int(m.group(7))))
                continue
            m = SUMMARY_RE.match(line)
            if m:
                self.summary = dict(responses=int(m.group(1)), octets=int(m.group(2)),
                                    conns=int(m.group(3)), pushed=int(m.group(4)),
                                    refused=int(m.group(5)))

    def count(self, direction, ftype, **kw):
        return len(self.sel(direction, ftype, **kw))

    def sel(self, direction=None, ftype=None, **kw):
        out = []
        for f in self.frames:
            if direction and f.dir != direction:
                continue
            if ftype and f.type != ftype:
                continue
            if any(getattr(f, k) != v for k, v in kw.items()):
                continue
            out.append(f)
        return out

    def types(self):
        return {f.type for f in self.frames}

    def data_streams(self):
        return {f.sid for f in self.frames if f.dir == "recv" and f.type == "DATA" and f.length}

    def describe(self):
        return "loom get %s\nexit %d\nstderr (tail):\n%s" % (
            " ".join(self.args), self.rc, self.err[-4000:])


def get(loom, *args, timeout=GET_TIMEOUT, cwd=None, expect=0):
    """Runs `loom get ARGS`; checks the exit status (expect=None: any) and
    that no sanitizer complained."""
    cmd = [loom, "get"] + list(args)
    env = dict(os.environ)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        raise TestFailure("loom get did not finish within %ss: %s" % (timeout, " ".join(cmd)))
    r = GetResult(list(args), p.returncode, p.stdout, p.stderr.decode(errors="replace"))
    check(not SANITIZER_RE.search(r.err), "a sanitizer complained:\n" + r.describe())
    if expect is not None:
        check(r.rc == expect, "exit status %d, wanted %d\n%s" % (r.rc, expect, r.describe()))
    return r


def one_line_error(r, code, pattern):
    """A failure: exit status `code`, and stderr exactly one line
    'loom get: ...' matching pattern."""
    check(r.rc == code, "exit status %d, wanted %d\n%s" % (r.rc, code, r.describe()))
    lines = [l for l in r.err.splitlines() if l.strip()]
    check(len(lines) == 1 and lines[0].startswith("loom get: "),
          "wanted one 'loom get: ...' line on stderr, got:\n%s" % r.err)
    check(re.search(pattern, lines[0]), "the message %r does not match %r" % (lines[0], pattern))


def check_bodies(loom, base, files, paths, tmp, extra=(), o_paths=None):
    """Each path (or each of o_paths) with -o FILE, then all of them in one
    run on stdout (in the order asked): sha256 equal to the file served.
    Returns the last run."""
    for p in paths if o_paths is None else o_paths:
        out = tmp.join("o-" + p.strip("/").replace("/", "_"))
        get(loom, *extra, "-o", out, base + p)
        check(file_sha256(out) == sha256(files[p]), "%s%s: -o body sha256 differs" % (base, p))
        os.unlink(out)
    r = get(loom, *extra, *[base + p for p in paths])
    check_stdout_concat(r, files, paths)
    return r


def check_stdout_concat(r, files, paths):
    """stdout holds the bodies of paths in the order asked."""
    want = b"".join(files[p] for p in paths)
    check(sha256(r.out) == sha256(want),
          "stdout is %d octets (sha256 %s), wanted the %d bodies in order (%d octets)" %
          (len(r.out), sha256(r.out)[:16], len(paths), len(want)))


def check_push_dir(push_dir, files, paths):
    for p in paths:
        f = os.path.join(push_dir, p.rsplit("/", 1)[1])
        check(os.path.exists(f), "pushed %s not saved in %s (%s)" %
              (p, push_dir, os.listdir(push_dir)))
        check(file_sha256(f) == sha256(files[p]), "pushed %s saved with other content" % p)


def check_no_push(r):
    """--no-push: SETTINGS_ENABLE_PUSH(0x02):0 sent, no PUSH_PROMISE."""
    check("[SETTINGS_ENABLE_PUSH(0x02):0]" in r.err, "--no-push: ENABLE_PUSH 0 not sent\n" +
          r.describe())
    check(r.count("recv", "PUSH_PROMISE") == 0, "--no-push: a PUSH_PROMISE came\n" + r.describe())


def check_cancel(r, pushed_path):
    """The pushed path was also asked for: its promise is refused with
    RST_STREAM CANCEL on the promised stream."""
    lines = r.err.splitlines()
    promised = None
    for i, l in enumerate(lines):
        if FRAME_RE.match(l) and " recv PUSH_PROMISE " in l:
            for k in range(i + 1, min(i + 6, len(lines))):
                m = re.search(r"promised_stream_id=(\d+)", lines[k])
                if m:
                    if any(pushed_path in x and "refusing" in x for x in lines[k:k + 3]):
                        promised = int(m.group(1))
                    break
    check(promised is not None, "no refused PUSH_PROMISE of %s in the trace\n%s" %
          (pushed_path, r.describe()))
    rst = [i for i, l in enumerate(lines) if FRAME_RE.match(l) and " send RST_STREAM " in l and
           l.endswith("stream_id=%d>" % promised)]
    check(rst and "error_code=CANCEL(0x08)" in lines[rst[0] + 1],
          "no RST_STREAM CANCEL sent on promised stream %d\n%s" % (promised, r.describe()))
    check(r.summary and r.summary["refused"] >= 1, "the summary counts no refused push")


def check_trace_format(r):
    """Every frame line is nghttp-like; SETTINGS and HEADERS both ways,
    DATA received, our GOAWAY at the end."""
    for line in r.err.splitlines():
        if re.search(r"\b(send|recv) [A-Z_]+ frame", line):
            check(FRAME_RE.match(line), "trace line not nghttp-like: %r" % line)
    for d, t in (("send", "SETTINGS"), ("recv", "SETTINGS"), ("send", "HEADERS"),
                 ("recv", "HEADERS"), ("recv", "DATA"), ("send", "GOAWAY")):
        check(r.count(d, t), "-v shows no %s %s frame\n%s" % (d, t, r.describe()))


def nghttp_trace(url_list, extra=(), timeout=20):
    """nghttp -nv: the frames nghttp2's own client saw (for a cross-check).
    Its windows are made as large as loom get's (16 MiB per stream and more
    for the connection), so that both see the same flow of DATA."""
    cmd = ["nghttp", "-nv", "-w", "24", "-W", "26"] + list(extra) + list(url_list)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("nghttp did not finish within %ss: %s" % (timeout, " ".join(cmd)))
    return GetResult(cmd, p.returncode, b"", p.stdout.decode(errors="replace"))


def cross_check_nghttp(r, urls, extra=()):
    """Same page with nghttp -v: as many DATA-bearing streams and as many
    body octets (pushes included)."""
    n = nghttp_trace(urls, extra)
    check(n.rc == 0, "nghttp failed: %s" % n.err[-2000:])
    ours = sum(f.length for f in r.sel("recv", "DATA"))
    theirs = sum(f.length for f in n.sel("recv", "DATA"))
    check(len(r.data_streams()) == len(n.data_streams()),
          "DATA-bearing streams: loom %s, nghttp %s" % (sorted(r.data_streams()),
                                                        sorted(n.data_streams())))
    check(ours == theirs, "DATA octets: loom %d, nghttp %d" % (ours, theirs))
    return n


def check_har(path, want_urls, pushed_urls=()):
    import json
    with open(path) as f:
        har = json.load(f)
    check(har["log"]["version"] == "1.2", "HAR version %r" % har["log"]["version"])
    entries = har["log"]["entries"]
    urls = sorted(e["request"]["url"] for e in entries)
    check(urls == sorted(list(want_urls) + list(pushed_urls)),
          "HAR entries %s, wanted %s + pushed %s" % (urls, sorted(want_urls), sorted(pushed_urls)))
    for e in entries:
        for k in ("request", "response", "timings", "startedDateTime", "time"):
            check(k in e, "HAR entry without %s: %s" % (k, e))
        check(e["response"]["status"] == 200, "HAR status %r for %s" %
              (e["response"]["status"], e["request"]["url"]))
        tm = e["timings"]
        for k in ("send", "wait", "receive"):
            check(isinstance(tm[k], (int, float)) and tm[k] >= 0, "HAR timings.%s %r" % (k, tm[k]))
        # HAR 1.2: time is the sum of the timings that apply; ssl is part of connect
        total = sum(v for k, v in tm.items() if k != "ssl" and v >= 0)
        check(abs(total - e["time"]) < 0.01, "HAR time %r is not the sum of %s" % (e["time"], tm))
        check(tm.get("ssl", -1) < 0 or tm["ssl"] <= tm["connect"], "HAR ssl > connect: %s" % tm)
        check(e["request"]["httpVersion"] == "HTTP/2", "HAR httpVersion")
        check(isinstance(e["request"]["headers"], list) and e["request"]["headers"],
              "HAR request without headers")
    pushed = sorted(e["request"]["url"] for e in entries if e.get("_pushed"))
    check(pushed == sorted(pushed_urls), "HAR pushed entries %s, wanted %s" %
          (pushed, sorted(pushed_urls)))
    return har


def check_timeline(path, nstreams, r=None):
    """Well-formed XML (SVG), a lane (<g class="stream">) per stream and a
    mark (<rect class="frame">) per frame of the trace (when r has one)."""
    import xml.etree.ElementTree as ET
    tree = ET.parse(path)
    root = tree.getroot()
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", "the timeline's root is %s" % root.tag)
    lanes = [g for g in root.iter(ns + "g") if g.get("class") == "stream"]
    marks = [x for x in root.iter(ns + "rect") if x.get("class") == "frame"]
    check(len(lanes) == nstreams, "timeline: %d lanes, wanted %d" % (len(lanes), nstreams))
    check(len({(g.get("data-conn"), g.get("data-stream")) for g in lanes}) == nstreams,
          "timeline: lanes repeat a stream")
    check(marks, "timeline: no frame marks")
    if r is not None and r.frames:
        # a mark per traced frame, but for the closing GOAWAY, sent after the
        # picture was written
        frames = list(r.frames)
        while frames and frames[-1].dir == "send" and frames[-1].type == "GOAWAY":
            frames.pop()
        check(len(marks) == len(frames), "timeline: %d marks for %d traced frames" %
              (len(marks), len(frames)))
        types = {f.type for f in frames}
        check({m.get("data-type") for m in marks} == types,
              "timeline frame types %s, trace %s" % ({m.get("data-type") for m in marks}, types))
    return lanes, marks


STATS_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(-?[0-9.]+)%\s+(\d+)\s+(\d+)\s+"
                       r"(-?[0-9.]+)%\s+(\S+)(.*)$")


def stats_rows(r):
    """--stats table: [(conn, stream, req_h1, req_h2, resp_h1, resp_h2, url, pushed)]."""
    rows = []
    for line in r.err.splitlines():
        m = STATS_ROW.match(line)
        if m:
            rows.append(dict(conn=int(m.group(1)), sid=int(m.group(2)), req_h1=int(m.group(3)),
                             req_h2=int(m.group(4)), resp_h1=int(m.group(6)),
                             resp_h2=int(m.group(7)), url=m.group(9),
                             pushed="(pushed)" in m.group(10)))
    return rows


def check_stats(loom, url, extra=()):
    """The same URL twice: the second request's header block is a few
    octets (indexed fields), the first much more; a long cookie costs about
    one octet when repeated. (loom's encoder never indexes :path, a measured
    choice, so use a URL whose path is in the static table: "/".)"""
    r = get(loom, "--stats", "-n", "2", *extra, url)
    rows = sorted((x for x in stats_rows(r) if not x["pushed"]), key=lambda x: x["sid"])
    check(len(rows) == 2, "--stats: %d rows\n%s" % (len(rows), r.describe()))
    first, second = rows
    check(first["req_h2"] >= 25 and second["req_h2"] <= 10,
          "--stats: request header blocks %d then %d octets (wanted >= 25 then <= 10)" %
          (first["req_h2"], second["req_h2"]))
    check(first["req_h1"] > first["req_h2"], "--stats: HTTP/1.1 size not above HPACK")
    check("total:" in r.err and "saved" in r.err, "--stats: no total line")
    cookie = "cookie: session=" + "c0ffee" * 30
    rc = get(loom, "--stats", "-n", "2", "-H", cookie, *extra, url)
    crow = sorted((x for x in stats_rows(rc) if not x["pushed"]), key=lambda x: x["sid"])
    check(len(crow) == 2, "--stats with cookie: %d rows" % len(crow))
    check(crow[0]["req_h2"] >= first["req_h2"] + 80,
          "--stats: first request with a 188-octet cookie only %d octets" % crow[0]["req_h2"])
    check(crow[1]["req_h2"] - second["req_h2"] <= 2,
          "--stats: the repeated cookie cost %d octets (wanted about 1)" %
          (crow[1]["req_h2"] - second["req_h2"]))
    return first, second, crow


def check_priority(loom, url, extra=()):
    r = get(loom, "-v", "--priority", "u=1, i", *extra, url)
    check(re.search(r"^\s+priority: u=1, i$", r.err, re.M),
          "--priority: no priority header field sent\n" + r.describe())
    pu = r.sel("send", "PRIORITY_UPDATE")
    check(len(pu) == 1 and pu[0].sid == 0, "--priority: PRIORITY_UPDATE frames %s\n%s" %
          (pu, r.describe()))
    check(re.search(r"prioritized_stream_id=1, priority_field_value=u=1, ?i\)", r.err),
          "--priority: PRIORITY_UPDATE does not name stream 1 with u=1, i\n" + r.describe())
    return r


def cleanup():
    for p in _tmps:
        shutil.rmtree(p, ignore_errors=True)


def main(fn):
    """fn(loom, argv): TestFailure → exit 1; temporary folders removed."""
    t0 = time.monotonic()
    if len(sys.argv) < 2:
        print("usage: %s path/to/loom" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    try:
        fn(os.path.abspath(sys.argv[1]), sys.argv[2:])
    except TestFailure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    finally:
        cleanup()
    print("ok (%.1f s)" % (time.monotonic() - t0))
