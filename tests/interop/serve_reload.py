"""SIGHUP reloads loom serve's certificate, key and push map without
dropping a connection or a request in flight:

- under load (h2load over TLS on connections kept open throughout, and a
  long rate-limited curl download), 20 reloads: every request succeeds,
  the download is whole (its SHA-256), each reload is logged;
- after a reload, new connections get the new certificate (its subject)
  and pages the new push map (their Link preload);
- a reload that fails (a broken certificate file) keeps serving with what
  was in force, and says why in the error log.

Every process started here and stopped by PID."""
import os
import re
import shutil
import signal
import time

from serve_common import (Server, check, load_and_download, main, make_site, make_tmp, run,
                          wait_log)


def make_cert(tmp, name):
    cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + "-key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
         "-addext", "subjectAltName=IP:127.0.0.1"], timeout=30, check_rc=0)
    return cert, key


def subject_and_link(url):
    p = run(["curl", "-sk", "-v", "--http2", "-o", "/dev/null", url], timeout=20)
    err = p.stderr.decode(errors="replace")
    m = re.search(r"subject: CN=(\S+)", err)
    links = re.findall(r"< link: (.*)", err)
    return (m.group(1) if m else None), links


def wait_reloads(elog, n, timeout=20, what="reloaded (SIGHUP)"):
    """Until the error log says n reloads happened (or what, n times)."""
    wait_log(elog, what, n, timeout)

def test(argv):
    loom = argv[0]
    tmp = make_tmp("reload")
    try:
        site = make_site(tmp, [("index.html", "<!doctype html><link rel=stylesheet href=/a.css>\n")] +
                         [(n, n * 100 + "\n") for n in ("a.css", "b.js", "1k.txt")])
        big = os.urandom(24 << 20)
        with open(os.path.join(site, "big.bin"), "wb") as f:
            f.write(big)
        c1, k1 = make_cert(tmp, "first")
        c2, k2 = make_cert(tmp, "second")
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        shutil.copy(c1, cert)
        shutil.copy(k1, key)
        pmap = os.path.join(tmp, "push.map")
        with open(pmap, "w") as f:
            f.write("/index.html /a.css\n")
        elog = os.path.join(tmp, "error.log")
        with Server(loom, site=site, extra=["--cert", cert, "--key", key, "--push-map", pmap,
                                            "--error-log", elog], workers=2) as s:
            cn, links = subject_and_link(s.https + "/index.html")
            check(cn == "first" and any("/a.css" in l for l in links), "before: %r %r" %
                  (cn, links))
            # load on kept connections, and a download that lasts through the reloads
            finish = load_and_download(s.https + "/1k.txt", s.https + "/big.bin")
            time.sleep(0.3)
            for i in range(20):
                # one at a time: signals sent faster than a reload runs
                # (an ASan build on a loaded machine) would merge
                os.kill(s.proc.pid, signal.SIGHUP)
                wait_reloads(elog, i + 1)
            done, _ = finish(big, "through 20 reloads")
            print("20 reloads under load: %d requests succeeded, a %d MiB download whole" %
                  (done, len(big) >> 20))
            # the new certificate and push map, for new connections and requests
            shutil.copy(c2, cert)
            shutil.copy(k2, key)
            with open(pmap, "w") as f:
                f.write("/index.html /b.js\n")
            os.kill(s.proc.pid, signal.SIGHUP)
            wait_reloads(elog, 21)
            cn, links = subject_and_link(s.https + "/index.html")
            check(cn == "second" and any("/b.js" in l for l in links) and
                  not any("/a.css" in l for l in links), "after: %r %r" % (cn, links))
            print("after a reload: certificate CN=second, push map /b.js")
            # a broken certificate: kept serving with the one in force
            with open(cert, "w") as f:
                f.write("broken\n")
            os.kill(s.proc.pid, signal.SIGHUP)
            wait_reloads(elog, 1, what="reload (SIGHUP) failed")
            cn, _ = subject_and_link(s.https + "/index.html")
            check(cn == "second", "a failed reload keeps the certificate: %r" % cn)
        log = open(elog).read()
        check(log.count("reloaded (SIGHUP)") == 21, "21 reloads logged: %r" % log[-2000:])
        check("reload (SIGHUP) failed" in log and "cert.pem" in log, "the failure logged: %r" %
              log[-1000:])
        print("a broken certificate: reload refused, logged, still serving")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
