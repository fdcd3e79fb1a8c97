"""Shared by the tests/interop/serve_*.py tests: a `loom serve` child on free
loopback ports with its own cache folder (XDG_CACHE_HOME) and site folder,
bounded waits, and a graceful stop (SIGTERM, exit status 0) of that child
only, by its PID.

    with Server(loom, site=dir) as s:     # site=None: the built-in demo
        s.https, s.http                   # "https://127.0.0.1:PORT"
    # leaving the block stops it and checks the exit status"""
import hashlib
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from get_common import free_port  # noqa: F401 (one definition for every harness)

READY_TIMEOUT = 30.0  # ASan build, and a self-signed certificate on first use
STOP_TIMEOUT = 30.0


class TestFailure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd, timeout=30, check_rc=None, **kw):
    """Runs a peer with a time limit; returns CompletedProcess (bytes)."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise TestFailure("timed out after %ss: %s" % (timeout, " ".join(cmd)))
    if check_rc is not None and p.returncode != check_rc:
        raise TestFailure("%s exited %d (wanted %d)\nstdout: %s\nstderr: %s" %
                          (" ".join(cmd), p.returncode, check_rc,
                           p.stdout[-3000:].decode(errors="replace"),
                           p.stderr[-3000:].decode(errors="replace")))
    return p


def start_refused(loom, args, want, env=None, needles=()):
    """`loom serve ARGS` must stop at once with exit status `want` and one line
    on stderr, "loom serve: ..." (containing each of `needles`), having said
    nowhere that it listens. Returns that line."""
    p = run([loom, "serve"] + list(args), timeout=30, env=env, stdin=subprocess.DEVNULL)
    err = p.stderr.decode(errors="replace")
    what = "loom serve %s" % " ".join(args)
    check(p.returncode == want, "%s: exit %d, wanted %d; stderr:\n%s" %
          (what, p.returncode, want, err[-3000:]))
    lines = err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("loom serve: "),
          "%s: wanted one line 'loom serve: ...' on stderr, got %r" % (what, err[:2000]))
    for n in needles:
        check(n in lines[0], "%s: the message does not say %r: %r" % (what, n, lines[0]))
    check(b"listening on" not in p.stdout, "%s: it said it was listening" % what)
    return lines[0]


def read_to_end(sock):
    """What a socket gives until the peer closes it (or resets it); closes it."""
    data = b""
    try:
        while True:
            b = sock.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    sock.close()
    return data


def tls_h2(raw):
    """raw (a connected socket) in TLS with ALPN h2, which the server must
    choose; its certificate is not checked (the tests' are self-signed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    check(s.selected_alpn_protocol() == "h2", "ALPN chose %r" % s.selected_alpn_protocol())
    return s


def make_site(tmp, files=(("a.txt", "hello\n"),)):
    """tmp/site with these (name, text) files; returns its path."""
    site = os.path.join(tmp, "site")
    os.makedirs(site)
    for name, text in files:
        with open(os.path.join(site, name), "w") as f:
            f.write(text)
    return site


def load_and_download(url_load, url_download):
    """Starts h2load on kept connections (3 s) and a rate-limited curl
    download, for a test to do something across them; returns a function
    that waits for both and returns (requests that succeeded, octets)."""
    h2load = subprocess.Popen(["h2load", "-c", "4", "-m", "2", "-D", "3", url_load],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dl = subprocess.Popen(["curl", "-sk", "--http2", "--limit-rate", "8M", "-o", "-",
                           url_download], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(want, what):
        """Both over: the download equal to want, every h2load request
        succeeded (no failure, no error)."""
        import re
        body, _ = dl.communicate(timeout=60)
        out, _ = h2load.communicate(timeout=60)
        out = out.decode(errors="replace")
        check(dl.returncode == 0 and sha256(body) == sha256(want),
              "the download %s: exit %d, %d of %d octets" % (what, dl.returncode, len(body),
                                                             len(want)))
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", out)
        check(m and m.group(1) == m.group(3) and m.group(4) == "0" and m.group(5) == "0",
              "h2load %s: %s" % (what, out[-1500:]))
        return int(m.group(3)), len(body)
    return finish


def wait_log(path, needle, count, timeout=10):
    """Until the file at path holds needle count times; its text (or fails)."""
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        try:
            text = open(path).read()
        except FileNotFoundError:
            text = ""
        if text.count(needle) >= count:
            return text
        time.sleep(0.05)
    check(False, "%r %d times in %s within %ds: %r" % (needle, count, os.path.basename(path),
                                                      timeout, text[-1500:]))


def make_tmp(prefix):
    return tempfile.mkdtemp(prefix="loom-%s-" % prefix)


class Server:
    """`loom serve [site] --https 127.0.0.1:0 --http 127.0.0.1:0 [extra]`."""

    def __init__(self, loom, site=None, extra=(), tmp=None, workers=None):
        self.loom = loom
        self.own_tmp = tmp is None
        self.tmp = tmp or make_tmp("serve")
        self.cache = os.path.join(self.tmp, "cache")
        os.makedirs(self.cache, exist_ok=True)
        self.site = site
        args = [loom, "serve"]
        if site:
            args.append(site)
        args += ["--https", "127.0.0.1:0", "--http", "127.0.0.1:0"]
        if workers:
            args += ["--workers", str(workers)]
        args += list(extra)
        self.args = args
        self.proc = None
        self.lines = []
        self.err = b""
        self.cond = threading.Condition()
        self.https = self.http = None
        self.rc = None

    def env(self):
        env = dict(os.environ)
        env["XDG_CACHE_HOME"] = self.cache
        asan = env.get("ASAN_OPTIONS", "")
        if "detect_leaks" not in asan:
            asan = (asan + ":" if asan else "") + "detect_leaks=1"
        env["ASAN_OPTIONS"] = asan
        return env

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _read_err(self):
        data = self.proc.stderr.read()
        self.err = data

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env())
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ereader = threading.Thread(target=self._read_err, daemon=True)
        self.ereader.start()
        end = time.monotonic() + READY_TIMEOUT
        ok = False
        with self.cond:
            while True:
                https = [l for l in self.lines if l.startswith("listening on https://")]
                http = [l for l in self.lines if l.startswith("listening on http://")]
                if https and http:
                    ok = True
                    break
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    break
                self.cond.wait(min(left, 0.2))
        if not ok:
            self.kill()
            self.ereader.join(timeout=10)
            raise TestFailure("loom serve did not print both 'listening on' lines within %ss "
                              "(exit status %r); stdout %r stderr %r" %
                              (READY_TIMEOUT, self.proc.poll(), self.lines, self.err[-2000:]))
        self.https = https[0].split()[2].rstrip("/")
        self.http = http[0].split()[2].rstrip("/")
        self.https_port = int(self.https.rsplit(":", 1)[1])
        self.http_port = int(self.http.rsplit(":", 1)[1])
        return self

    def kill(self):
        """Last resort (a failing test): SIGKILL our own child."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc and getattr(self, "ereader", None):
            self.ereader.join(timeout=5)  # its stderr, for the failure report

    def signal_term(self):
        os.kill(self.proc.pid, signal.SIGTERM)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("loom serve did not exit within %ss of SIGTERM" % timeout)
        self.ereader.join(timeout=10)
        self.reader.join(timeout=10)
        return self.rc

    def stop(self):
        """SIGTERM, then the exit status must be 0 (ASan/UBSan clean)."""
        if self.proc.poll() is None:
            self.signal_term()
        rc = self.wait_exit()
        check(rc == 0, "loom serve exited %d after SIGTERM (wanted 0); stderr:\n%s" %
              (rc, self.err[-6000:].decode(errors="replace")))

    def __enter__(self):
        return self.start()

    def __exit__(self, typ, val, tb):
        if typ is None:
            self.stop()
        else:
            self.kill()
            if self.err:
                sys.stderr.write("--- loom serve stderr ---\n%s\n" %
                                 self.err[-6000:].decode(errors="replace"))
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False



def rss_kb(pid):
    """The resident set of a process, KiB (0 once it is gone)."""
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssPeak:
    """Samples a process's RSS every 20 ms from now until stop() (the peak,
    KiB) or done() (the growth over the start, MiB)."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop_ = pid, rss_kb(pid), False
        self.base = self.peak
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_:
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.02)

    def stop(self):
        self.stop_ = True
        self.t.join()
        return self.peak

    def done(self):
        return (self.stop() - self.base) // 1024

def main(fn):
    """Runs fn(argv) and turns a TestFailure into exit status 1."""
    t0 = time.monotonic()
    try:
        fn(sys.argv[1:])
    except TestFailure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("ok (%.1f s)" % (time.monotonic() - t0))
