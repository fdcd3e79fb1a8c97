"""Shared by tests/interop/bench_*.py: running `loom bench` and reading its
report (the h2load-style text) and its --json."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import TestFailure, check  # noqa: E402

SANITIZER_RE = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                          r"runtime error:)")


class Report:
    def __init__(self, args, rc, out, err, rusage=None):
        self.args, self.rc, self.out, self.err, self.rusage = args, rc, out, err, rusage
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
        self.req = dict(zip(("total", "started", "done", "succeeded", "failed", "errored",
                             "timeout"), map(int, m.groups()))) if m else None
        m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        self.status = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, m.groups()))) if m else None
        m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", out)
        self.secs, self.rps = (float(m.group(1)), float(m.group(2))) if m else (None, None)
        m = re.search(r"header compression: requests (\d+) octets on the wire for (\d+) as "
                      r"HTTP/1.1 text \(([-\d.]+)% saved\), responses (\d+) for (\d+) "
                      r"\(([-\d.]+)% saved\)", out)
        self.headers = dict(req_wire=int(m.group(1)), req_text=int(m.group(2)),
                            resp_wire=int(m.group(4)), resp_text=int(m.group(5))) if m else None

    def describe(self):
        return "loom bench %s\nexit %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(self.args), self.rc, self.out[-2500:], self.err[-2500:])


def bench(loom, *args, expect=0, timeout=120):
    """Runs `loom bench ARGS` (rusage kept); checks the exit status
    (expect=None: any) and that no sanitizer complained."""
    cmd = [loom, "bench"] + [str(a) for a in args]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        raise TestFailure("loom bench did not finish within %ss: %s" % (timeout, " ".join(cmd)))
    r = Report([str(a) for a in args], p.returncode, out.decode(errors="replace"),
               err.decode(errors="replace"))
    check(not SANITIZER_RE.search(r.err), "a sanitizer complained:\n" + r.describe())
    if expect is not None:
        check(r.rc == expect, "exit status %d, wanted %d\n%s" % (r.rc, expect, r.describe()))
    return r


def expect_all(r, n, what):
    """Every one of n requests done and succeeded, as the report says."""
    check(r.req is not None, "%s: no report\n%s" % (what, r.describe()))
    check(r.req["done"] == n and r.req["succeeded"] == n and r.req["errored"] == 0 and
          r.req["failed"] == 0 and r.req["timeout"] == 0,
          "%s: requests %s, wanted %d succeeded\n%s" % (what, r.req, n, r.describe()))
    check(r.status["2xx"] == n, "%s: status %s\n%s" % (what, r.status, r.describe()))


def load_json(path):
    with open(path) as f:
        return json.load(f)
