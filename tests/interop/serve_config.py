"""loom serve's configuration file (--config, --check-config):

- virtual hosts by name, each with its own root, certificate (by SNI: curl
  --resolve, the certificate's subject) and push map (the page's Link
  preload), a wildcard name, the default root for other names; the same
  routing by :authority over h2c and by Host over HTTP/1.1;
- every flag is a directive: a configuration setting a list (deny), a
  switch (autoindex), values (workers, log-format, access-log) shows each
  effect;
- --check-config says ok for a good file (and for contrib/loom.yaml, the
  documented example, with its paths pointed at a temporary tree), and for
  each kind of mistake names the line: YAML syntax, an unknown directive,
  a bad value, a host without root, a missing folder, a key that does not
  match its certificate (exit statuses as the server's: 2, 5, 3).

Every process started here and stopped by PID."""
import json
import os
import re
import shutil
import subprocess

from serve_common import Server, check, free_port, main, make_tmp, run


def make_cert(d, name):
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", os.path.join(d, name + ".key"), "-out",
         os.path.join(d, name + ".pem"), "-days", "2", "-subj", "/CN=" + name, "-addext",
         "subjectAltName=DNS:" + name], timeout=30, check_rc=0)


def fetch(url, *args):
    p = run(["curl", "-sk", "-v", "-o", "-"] + list(args) + [url], timeout=20)
    err = p.stderr.decode(errors="replace")
    m = re.search(r"subject: (.*)", err)
    return p.stdout.decode(errors="replace"), (m.group(1) if m else ""), \
        re.findall(r"< link: (.*)", err, re.I)


def check_config(loom, path, want_rc, want=()):
    p = run([loom, "serve", "--check-config", path], timeout=30, stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).decode(errors="replace").strip()
    check(p.returncode == want_rc, "--check-config %s: exit %d (wanted %d): %s" %
          (os.path.basename(path), p.returncode, want_rc, out))
    for w in want:
        check(w in out, "--check-config %s says %r: %s" % (os.path.basename(path), w, out))
    return out


def test(argv):
    loom = argv[0]
    tmp = make_tmp("config")
    try:
        for d in ("default", "a", "b", "a/folder"):
            os.makedirs(os.path.join(tmp, d))
        for d, text in (("default", "default site"), ("a", "site A"), ("b", "site B")):
            with open(os.path.join(tmp, d, "index.html"), "w") as f:
                f.write(text + "\n")
        with open(os.path.join(tmp, "a", "old.bak"), "w") as f:
            f.write("x\n")
        make_cert(tmp, "a.test")
        make_cert(tmp, "b.test")
        with open(os.path.join(tmp, "a.map"), "w") as f:
            f.write("/index.html /a.css\n")
        tls, clear = free_port(), free_port()
        alog = os.path.join(tmp, "access.log")
        conf = os.path.join(tmp, "loom.yaml")
        with open(conf, "w") as f:
            f.write("""# a test configuration
root: {t}/default
https: "127.0.0.1:{tls}"
http: ["127.0.0.1:{clear}"]
workers: 2
autoindex: true
deny: ["*.bak"]
log-format: json
access-log: {t}/access.log
hosts:
  - name: [a.test, www.a.test]
    root: {t}/a
    cert: {t}/a.test.pem
    key: {t}/a.test.key
    push-map: {t}/a.map
  - name: "*.b.test"
    root: {t}/b
""".format(t=tmp, tls=tls, clear=clear))
        out = check_config(loom, conf, 0, ("ok", "2 virtual hosts"))
        print(out)
        p = subprocess.Popen([loom, "serve", "--config", conf], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache")))
        try:
            line = p.stdout.readline()  # "listening on ..." once ready
            check(b"listening on" in line, "started: %r" % line)
            p.stdout.readline()
            for host, body, cn in (("a.test", "site A", "CN=a.test"),
                                   ("www.a.test", "site A", "CN=a.test"),
                                   ("x.b.test", "site B", "localhost"),
                                   ("other.test", "default site", "localhost")):
                text, subject, links = fetch("https://%s:%d/index.html" % (host, tls),
                                             "--http2", "--resolve", "%s:%d:127.0.0.1" % (host, tls))
                check(text.strip() == body and cn in subject,
                      "%s: %r over certificate %r" % (host, text, subject))
                check(bool(links) == (body == "site A"), "%s: push map links %r" % (host, links))
            for proto in (["--http2-prior-knowledge"], ["--http1.1"]):
                text, _, _ = fetch("http://127.0.0.1:%d/index.html" % clear, "-H", "Host: a.test",
                                   *proto)
                check(text.strip() == "site A", "by Host/:authority (%s): %r" % (proto, text))
            print("virtual hosts: roots, SNI certificates, push maps, wildcard, default")
            # the directives took effect: autoindex, deny, JSON access log
            text, _, _ = fetch("https://a.test:%d/folder/" % tls, "--resolve",
                               "a.test:%d:127.0.0.1" % tls)
            check("Index of /folder/" in text, "autoindex: %r" % text[:200])
            st = run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                      "a.test:%d:127.0.0.1" % tls, "https://a.test:%d/old.bak" % tls],
                     timeout=20).stdout
            check(st == b"403", "deny: %r" % st)
        finally:
            p.terminate()
            rc = p.wait(timeout=30)
        check(rc == 0, "exit %d after SIGTERM: %r" % (rc, p.stderr.read()[-2000:]))
        recs = [json.loads(l) for l in open(alog).read().splitlines()]
        check(len(recs) >= 8 and {r["host"].split(":")[0] for r in recs} >=
              {"a.test", "x.b.test", "other.test"}, "JSON access log by host: %r" % recs[:3])
        print("directives: autoindex, deny, log-format json and access-log took effect")
        # the documented example is valid, its paths pointed here
        ex = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib",
                               "loom.yaml")).read()
        for d in ("/srv/www", "/srv/example-org", "/srv/example"):
            os.makedirs(tmp + d, exist_ok=True)
        os.makedirs(tmp + "/etc/loom", exist_ok=True)
        for pem, key in (("cert.pem", "key.pem"), ("example.com.pem", "example.com.key")):
            shutil.copy(os.path.join(tmp, "a.test.pem"), tmp + "/etc/loom/" + pem)
            shutil.copy(os.path.join(tmp, "a.test.key"), tmp + "/etc/loom/" + key)
        shutil.copy(os.path.join(tmp, "a.map"), tmp + "/etc/loom/push.map")
        shutil.copy(os.path.join(tmp, "a.map"), tmp + "/etc/loom/example.push")
        with open(tmp + "/etc/loom/ticket.keys", "wb") as f:
            f.write(os.urandom(80))
        ex = ex.replace("/srv/", tmp + "/srv/").replace("/etc/loom/", tmp + "/etc/loom/") \
            .replace("/var/log/loom/", tmp + "/")
        with open(os.path.join(tmp, "example.yaml"), "w") as f:
            f.write(ex)
        check_config(loom, os.path.join(tmp, "example.yaml"), 0, ("ok",))
        print("contrib/loom.yaml: --check-config ok")
        # the reverse proxy's example: valid, and what docs/cli.md shows
        here = os.path.dirname(os.path.abspath(__file__))
        px = open(os.path.join(here, "..", "..", "contrib", "proxy.yaml")).read()
        check(px in open(os.path.join(here, "..", "..", "docs", "cli.md")).read(),
              "docs/cli.md shows contrib/proxy.yaml as it is")
        px = px.replace("/srv/", tmp + "/srv/").replace("/etc/loom/", tmp + "/etc/loom/")
        with open(os.path.join(tmp, "proxy.yaml"), "w") as f:
            f.write(px)
        check_config(loom, os.path.join(tmp, "proxy.yaml"), 0, ("ok",))
        with open(os.path.join(tmp, "badproxy.yaml"), "w") as f:
            f.write("workers: 1\nproxy:\n  - /api=http://127.0.0.1:8000\n  - /x=ftp://h\n")
        check_config(loom, os.path.join(tmp, "badproxy.yaml"), 2,
                     (":4: --proxy: 'ftp://h' is not a backend",))
        print("contrib/proxy.yaml (the proxy example of docs/cli.md): ok; a bad backend: its line")
        # mistakes, each with its line
        bad = [
            ("syntax.yaml", "workers: 2\ndeny: [\"*.bak\"\n", 2, ":3:"),
            ("unknown.yaml", "workers: 2\nwokers: 3\n", 2, ":2: unknown directive 'wokers'"),
            ("value.yaml", "\nworkers: 0\n", 2, ":2: --workers needs a whole number"),
            ("noroot.yaml", "hosts:\n  - name: x.test\n", 2, ":2: a host needs a name and a root"),
            ("folder.yaml", "hosts:\n  - name: x.test\n    root: %s/nope\n" % tmp, 5,
             ":3: host x.test: root folder"),
            ("key.yaml", "hosts:\n  - name: x.test\n    root: %s/a\n    cert: %s/a.test.pem\n"
             "    key: %s/b.test.key\n" % (tmp, tmp, tmp), 3, ":4: host x.test: cannot read "
             "private key"),
        ]
        for name, text, rc, want in bad:
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            check_config(loom, path, rc, (name + want,))
        print("--check-config names the line of %d kinds of mistake" % len(bad))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
