"""loom serve as it runs on :443 without root, under systemd:

- --user NAME: bound and keys read as root, then every thread runs as
  NAME (real, effective and saved ids, groups; /proc/PID/task/*/status),
  files NAME cannot read are 403, an unknown user is refused (exit 2);
- socket activation (contrib/loom.socket): the sockets systemd passes
  (here systemd-socket-activate, systemd's own tool) are served by every
  worker and loom binds none of its own; a passed socket that no
  --https/--http names is refused (exit 4);
- readiness (Type=notify): READY=1 once listening, STOPPING=1 on SIGTERM,
  read from a NOTIFY_SOCKET as systemd would.

Every process started here and stopped by PID."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from serve_common import Server, check, free_port, main, make_site, make_tmp, run


def status_ids(pid):
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, t)) as f:
            d = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        out.append((d["Uid"].split(), d["Gid"].split(), d["Groups"].split()))
    return out


def curl_code(url, *args):
    p = run(["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}"] + list(args) + [url],
            timeout=20)
    return p.stdout.decode()


def user_drop(loom, site):
    check(os.geteuid() == 0, "this test runs as root (to drop to nobody)")
    with Server(loom, site=site, extra=["--user", "nobody"], workers=3) as s:
        ids = status_ids(s.proc.pid)
        check(len(ids) >= 4, "main thread and 3 workers: %r" % ids)
        for uid, gid, groups in ids:
            check(uid == ["65534"] * 4 and gid == ["65534"] * 4 and groups == ["65534"],
                  "every thread runs as nobody: %r %r %r" % (uid, gid, groups))
        check(curl_code(s.https + "/a.txt", "--http2") == "200", "a readable file")
        check(curl_code(s.http + "/root-only.txt", "--http2-prior-knowledge") == "403",
              "a file only root may read: 403")
    p = run([loom, "serve", site, "--http", "127.0.0.1:0", "--user", "no-such-user-here"],
            timeout=20, stdin=subprocess.DEVNULL)
    check(p.returncode == 2 and b"no such user" in p.stderr, "unknown user: %d %r" %
          (p.returncode, p.stderr))
    print("--user nobody: every thread as 65534, root-only files 403")


class Notify:
    """A NOTIFY_SOCKET as systemd's: datagrams collected in the background."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def wait(self, word, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(word in m for m in self.msgs):
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.stop = True
        self.t.join(timeout=5)
        self.sock.close()


def activation(loom, site, tmp):
    tls, clear = free_port(), free_port()
    notify = Notify(tmp)
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"),
               NOTIFY_SOCKET=notify.path)
    cmd = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % tls, "-l", "127.0.0.1:%d" % clear,
           "-E", "NOTIFY_SOCKET", "-E", "XDG_CACHE_HOME", loom, "serve", site,
           "--https", "127.0.0.1:%d" % tls, "--http", "127.0.0.1:%d" % clear, "--workers", "3"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        # the tool listens a moment after it starts; the first connection starts loom
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", clear), timeout=5).close()
                break
            except ConnectionRefusedError:
                check(time.monotonic() < end, "systemd-socket-activate never listened")
                time.sleep(0.05)
        codes = set()
        for _ in range(30):
            codes.add(curl_code("https://127.0.0.1:%d/a.txt" % tls, "--http2"))
            codes.add(curl_code("http://127.0.0.1:%d/a.txt" % clear, "--http2-prior-knowledge"))
        check(codes == {"200"}, "served on both passed sockets: %r" % codes)
        check(notify.wait("READY=1"), "READY=1 sent: %r" % notify.msgs)
        # loom binds nothing itself: the process's listening sockets are the two passed (3, 4)
        fds = {}
        for fd in os.listdir("/proc/%d/fd" % p.pid):
            try:
                fds[int(fd)] = os.readlink("/proc/%d/fd/%s" % (p.pid, fd))
            except OSError:
                pass
        inodes = {l.split()[9] for l in open("/proc/net/tcp").read().splitlines()[1:]
                  if l.split()[3] == "0A"} | \
                 {l.split()[9] for l in open("/proc/net/tcp6").read().splitlines()[1:]
                  if l.split()[3] == "0A"}
        listening = sorted(fd for fd, t in fds.items()
                           if t.startswith("socket:[") and t[8:-1] in inodes)
        check(listening == [3, 4], "listening descriptors are systemd's 3 and 4: %r" % listening)
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=30)
        check(rc == 0, "exit %d after SIGTERM: %r" % (rc, p.stderr.read()[-2000:]))
        check(notify.wait("STOPPING=1"), "STOPPING=1 sent: %r" % notify.msgs)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        notify.close()
    print("socket activation: 3 workers on systemd's 2 sockets, none of their own; "
          "READY=1 then STOPPING=1")
    # a passed socket no flag names
    other = free_port()
    cmd = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % other, "-E", "XDG_CACHE_HOME", loom,
           "serve", site, "--http", "127.0.0.1:%d" % free_port()]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        end = time.monotonic() + 10
        while True:  # the tool listens a moment after it starts; a connection starts loom
            try:
                c = socket.create_connection(("127.0.0.1", other), timeout=5)
                break
            except ConnectionRefusedError:
                check(time.monotonic() < end, "systemd-socket-activate never listened")
                time.sleep(0.05)
        rc = p.wait(timeout=30)
        c.close()
        err = p.stderr.read().decode(errors="replace")
        check(rc == 4 and "socket activation" in err, "unnamed socket: exit %d %r" % (rc, err))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    print("a passed socket no --https/--http names: exit 4")


def test(argv):
    loom = argv[0]
    tmp = make_tmp("systemd")
    os.chmod(tmp, 0o755)
    try:
        site = make_site(tmp, [("a.txt", "hello\n"), ("root-only.txt", "secret\n")])
        os.chmod(site, 0o755)
        os.chmod(os.path.join(site, "a.txt"), 0o644)
        os.chmod(os.path.join(site, "root-only.txt"), 0o600)
        user_drop(loom, site)
        activation(loom, site, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
