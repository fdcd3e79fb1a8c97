"""SIGHUP reads loom serve's configuration file again, not only the files
it names: a changed file takes effect for new requests while a download
and a load that began before it go on untouched.

- Before: one root, one virtual host, the combined access log, no listing,
  the default media types, a 1 MiB request-body limit, no status page.
- The file is rewritten and SIGHUP sent, with a rate-limited download and
  h2load (TLS, kept connections) running across it: the download is whole,
  every h2load request succeeds.
- After: the top-level root is another folder (its content served), a new
  virtual host answers by :authority (h2c) and Host (HTTP/1.1), a --deny
  glob and a --mime-type apply, --autoindex lists a folder, a 2 KiB body
  gets 413 under the new 1k limit, --status shows metrics, the access log
  moved to another file in JSON lines, and --workers changed is named as
  needing a restart (the rest applied).
- A broken file (an unknown directive) is refused with its line in the
  error log, and the configuration in force keeps serving.

Every process started here and stopped by PID."""
import json
import os
import re
import shutil
import signal
import time

from serve_common import Server, check, load_and_download, main, make_tmp, run, wait_log


def get(url, *args):
    """(status, content-type, body) of one request with curl."""
    p = run(["curl", "-sk", "-o", "-", "-w", "\n%{http_code} %{content_type}"] + list(args) +
            [url], timeout=20)
    out = p.stdout.decode(errors="replace")
    body, _, tail = out.rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return int(code or 0), ctype, body


def test(argv):
    loom = argv[0]
    tmp = make_tmp("reloadconf")
    try:
        for d in ("one", "two", "two/stuff", "vh"):
            os.makedirs(os.path.join(tmp, d))
        files = {"one/index.html": "root one\n", "two/index.html": "root two\n",
                 "two/notes.md": "# notes\n", "two/secret.key": "k\n",
                 "two/stuff/a.txt": "a\n", "vh/index.html": "virtual host c\n",
                 "one/1k.txt": "x" * 1024, "two/1k.txt": "y" * 1024}
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        big = os.urandom(16 << 20)
        with open(os.path.join(tmp, "one", "big.bin"), "wb") as f:
            f.write(big)
        conf = os.path.join(tmp, "loom.yaml")
        elog, alog1, alog2 = (os.path.join(tmp, n) for n in ("error.log", "a1.log", "a2.log"))
        with open(conf, "w") as f:
            f.write("root: %s\nworkers: 2\nerror-log: %s\naccess-log: %s\n"
                    "hosts:\n  - name: b.test\n    root: %s\n" %
                    (os.path.join(tmp, "one"), elog, alog1, os.path.join(tmp, "vh")))
        with Server(loom, extra=["--config", conf]) as s:
            check(get(s.http + "/")[2] == "root one\n", "before: the first root")
            code, ctype, _ = get(s.http + "/notes.md")
            check(code == 404, "before: no notes.md in the first root (%d)" % code)
            code, _, _ = get(s.http + "/stuff/", "-H", "Host: c.test")
            check(code == 404, "before: no c.test host, no stuff/ (%d)" % code)
            code, _, _ = get(s.http + "/loom-status/metrics")
            check(code == 404, "before: no status page (%d)" % code)

            # a load on kept connections, and a download, across the reload
            finish = load_and_download(s.https + "/1k.txt", s.https + "/big.bin")
            time.sleep(0.4)
            with open(conf, "w") as f:
                f.write("root: %s\nworkers: 3\nerror-log: %s\naccess-log: %s\n"
                        "log-format: json\nmime-type: md=text/x-loom-notes\n"
                        "deny: ['*.key']\nautoindex: true\nmax-request-body: 1k\n"
                        "status: /loom-status\n"
                        "hosts:\n  - name: b.test\n    root: %s\n"
                        "  - name: c.test\n    root: %s\n" %
                        (os.path.join(tmp, "two"), elog, alog2, os.path.join(tmp, "vh"),
                         os.path.join(tmp, "two")))
            os.kill(s.proc.pid, signal.SIGHUP)
            log = wait_log(elog, "reloaded (SIGHUP)", 1)
            check("--workers need a restart" in log, "the --workers change named: %r" % log)

            # the top-level root, media types, deny, listing: new requests see them
            check(get(s.http + "/")[2] == "root two\n", "after: the second root")
            code, ctype, body = get(s.http + "/notes.md", "--http2-prior-knowledge")
            check(code == 200 and ctype == "text/x-loom-notes" and body == "# notes\n",
                  "after: notes.md as text/x-loom-notes: %d %r" % (code, ctype))
            code, _, _ = get(s.http + "/secret.key")
            check(code == 403, "after: *.key denied (%d)" % code)
            code, ctype, body = get(s.http + "/stuff/")
            check(code == 200 and "text/html" in ctype and "a.txt" in body,
                  "after: stuff/ listed: %d %r %r" % (code, ctype, body[:200]))
            # the new virtual host, by :authority and by Host
            for proto in (["--http2-prior-knowledge"], ["--http1.1"]):
                code, _, body = get(s.http + "/", "-H", "Host: c.test", *proto)
                check(code == 200 and body == "root two\n", "c.test over %s: %d %r" %
                      (proto, code, body))
                code, _, body = get(s.http + "/", "-H", "Host: b.test", *proto)
                check(body == "virtual host c\n", "b.test over %s still: %r" % (proto, body))
            # the request-body limit and the status page
            code, _, _ = get(s.http + "/", "--http2-prior-knowledge", "--data-binary",
                             "y" * 2048)
            check(code == 413, "after: a 2 KiB body over the 1k limit gets 413 (%d)" % code)
            code, ctype, body = get(s.http + "/loom-status/metrics")
            check(code == 200 and "loom_requests_total" in body,
                  "after: metrics at /loom-status/metrics: %d %r" % (code, body[:200]))

            done, _ = finish(big, "across the reload")
            print("across a reload of the file: %d requests succeeded, a %d MiB download whole"
                  % (done, len(big) >> 20))

            # the access log moved to a2.log, in JSON lines
            time.sleep(0.2)
            lines = [json.loads(l) for l in open(alog2) if l.strip()]
            check(any(l["path"] == "/notes.md" and l["status"] == 200 for l in lines),
                  "a2.log has the notes.md request as JSON: %r" % lines[:3])
            old = open(alog1).read()
            check(re.search(r'"GET /notes.md HTTP/1.1" 404', old) and
                  not re.search(r'/notes.md HTTP/[0-9.]+" 200', old),
                  "a1.log (combined) has the requests before the reload only")
            print("after: second root, c.test host, *.key denied, md type, listing, 413 at 1k, "
                  "status page, JSON log in a new file; --workers named as needing a restart")

            # a broken file: refused with its line, the one in force serves
            with open(conf, "w") as f:
                f.write("root: %s\nbogus-directive: 1\n" % os.path.join(tmp, "one"))
            os.kill(s.proc.pid, signal.SIGHUP)
            log = wait_log(elog, "reload (SIGHUP) failed", 1)
            check("loom.yaml:2: unknown directive 'bogus-directive'" in log,
                  "the failure names the line: %r" % log[-600:])
            check(get(s.http + "/")[2] == "root two\n", "still the second root after a failure")
            print("a broken file: refused, its line logged, the configuration in force serves")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
