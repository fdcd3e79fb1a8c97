"""What the benchmarks in bench/ share: free loopback ports, a self-signed
ECDSA P-256 certificate, a site with a 1 KiB file, the peers' configuration
files, starting a server pinned to a core, and running a command pinned to
another while measuring the CPU seconds it used (its rusage, all threads)."""
import os
import re
import signal
import socket
import subprocess
import time

H2O = """{user}pid-file: {tmp}/h2o.pid
error-log: {tmp}/h2o-error.log
num-threads: 1
{access}listen:
  host: 127.0.0.1
  port: {tls}
  ssl:
    certificate-file: {cert}
    key-file: {key}
listen:
  host: 127.0.0.1
  port: {clear}
hosts:
  default:
    paths:
      /:
        file.dir: {root}
"""

NGINX = """{user}daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  {access} keepalive_requests 10000000;
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  server {{
    listen 127.0.0.1:{tls} ssl http2; listen 127.0.0.1:{clear} http2;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
  }}
  server {{
    listen 127.0.0.1:{h1} ; root {root};
  }}
}}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited: %d" % (proc.args[0], proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("port %d never opened" % port)


def make_site(tmp):
    """A root folder with 1k.txt (and missing.txt absent), a certificate."""
    root = os.path.join(tmp, "site")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "1k.txt"), "wb") as f:
        f.write(b"x" * 1024)
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    for d in ("cb", "px", "fc", "uw", "sc"):
        os.makedirs(os.path.join(tmp, d), exist_ok=True)
    return root, cert, key


def root_user(kind):
    if os.getuid() != 0:
        return ""
    return "user: root\n" if kind == "h2o" else "user root;\n"


def h2o_conf(tmp, tls, clear, cert, key, root, access_log=None, head=""):
    """Writes tmp/h2o.conf for h2o serving root on the two ports (one
    thread), `head` before it; returns its path. No OCSP fetcher: a child
    process per certificate that only fails on a self-signed one."""
    conf = os.path.join(tmp, "h2o.conf")
    access = "access-log: %s\n" % access_log if access_log else ""
    text = H2O.format(tmp=tmp, tls=tls, clear=clear, cert=cert, key=key, root=root,
                      user=root_user("h2o"), access=access)
    text = text.replace("    key-file: %s\n" % key,
                        "    key-file: %s\n    ocsp-update-interval: 0\n" % key)
    with open(conf, "w") as f:
        f.write(head + text)
    return conf


def start_h2o(tmp, root, cert, key, core, access_log=None):
    """h2o with one thread, pinned to `core`. Returns (proc, tls, clear)."""
    tls, clear = free_port(), free_port()
    conf = h2o_conf(tmp, tls, clear, cert, key, root, access_log)
    p = subprocess.Popen(["taskset", "-c", str(core), "h2o", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(tls, p)
    wait_port(clear, p)
    return p, tls, clear


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_measured(cmd, core, timeout=600):
    """Runs cmd pinned to `core`; returns (stdout, stderr, exit code, CPU
    seconds of the process and its threads as (user, system), from its
    rusage)."""
    import threading
    p = subprocess.Popen(["taskset", "-c", str(core)] + cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    bufs = {}

    def drain(name, f):
        bufs[name] = f.read()

    readers = [threading.Thread(target=drain, args=(n, f), daemon=True)
               for n, f in (("out", p.stdout), ("err", p.stderr))]
    for t in readers:
        t.start()
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    _, status, ru = os.wait4(p.pid, 0)  # reaped here, with its rusage
    killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    return (bufs.get("out", b"").decode(errors="replace"),
            bufs.get("err", b"").decode(errors="replace"), p.returncode, (ru.ru_utime, ru.ru_stime))


def parse_load(text):
    """Requests done and succeeded, req/s and mean latency (us) from h2load's
    or loom bench's report (the same format)."""
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", text)
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text)
    lat = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if not done or not rps:
        raise RuntimeError("no report in:\n" + text[-2000:])

    def us(v):
        m = re.match(r"([\d.]+)(us|ms|s)$", v)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]

    return {"done": int(done.group(1)), "ok": int(done.group(2)), "rps": float(rps.group(1)),
            "mean_us": us(lat.group(3)) if lat else float("nan")}


def wait_quiet(a, cores_busy):
    """Waits for the measured cores to be quiet: busy (cores_busy(), in
    seconds) less than a.max_other % of a core over half a second, while
    the server under test is idle, so that is other programs' load; 20 s at
    most, and a.quiet_budget s over the whole run."""
    start = time.monotonic()
    limit = min(a.quiet_budget, 20)
    while time.monotonic() - start < limit:
        t0, b0 = time.monotonic(), cores_busy()
        time.sleep(0.5)
        if (cores_busy() - b0) / (time.monotonic() - t0) * 100 <= a.max_other:
            break
    a.quiet_budget = max(0.0, a.quiet_budget - (time.monotonic() - start))
