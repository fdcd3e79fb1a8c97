"""loom bench against independent servers, each started here on free
loopback ports with its own temporary configuration (the same ones the
loom get tests use): nghttpd (TLS h2, h2c), h2o (TLS h2, h2c, HTTP/1.1),
nginx (TLS h2, h2c, HTTP/1.1 over TLS) and Apache httpd with mod_http2
(TLS h2, h2c, HTTP/1.1). Every run: all requests done and succeeded, the
protocol the one asked for; nginx's and Apache's access logs count exactly
the requests loom bench made, with the protocol it says.

usage: bench_peers.py path/to/loom"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import bench, expect_all  # noqa: E402
from get_common import Peer, Tmp, check, free_port, log, main, make_cert, site  # noqa: E402
import get_apache  # noqa: E402
import get_h2o  # noqa: E402
import get_nginx  # noqa: E402

N = 2000


def logged(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def runs(loom, name, plans, alog=None, proto_word=None):
    """plans: (what, args, url). With alog, its new lines must number N
    and carry proto_word[what]."""
    for what, args, url in plans:
        before = len(logged(alog)) if alog else 0
        r = bench(loom, "-n", N, "-c", 4, "-m", 8, *args, url)
        expect_all(r, N, "%s %s" % (name, what))
        if alog:
            end = time.monotonic() + 10
            while len(logged(alog)) < before + N and time.monotonic() < end:
                time.sleep(0.05)
            new = logged(alog)[before:]
            check(len(new) == N, "%s %s: the server logged %d requests, loom bench did %d" %
                  (name, what, len(new), N))
            word = proto_word[what]
            check(all(word in l for l in new), "%s %s: logged as %r? %s" % (name, what, word,
                                                                             new[:2]))
        log("%s %s: %d requests%s" % (name, what, N, " (its log agrees)" if alog else ""))


def run(loom, argv):
    tmp = Tmp("bench-peers")
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    root, _, _ = site(tmp)
    path = "/small.txt"

    # nghttpd: TLS and h2c, one process each
    tls, clear = free_port(), free_port()
    with Peer("nghttpd", ["nghttpd", "-d", root, "-a", "127.0.0.1", str(tls), key, cert],
              ports=[tls], out=tmp.join("nghttpd.out")), \
            Peer("nghttpd-h2c", ["nghttpd", "-d", root, "-a", "127.0.0.1", "--no-tls",
                                 str(clear)], ports=[clear], out=tmp.join("nghttpd2.out")):
        runs(loom, "nghttpd", [("TLS h2", [], "https://127.0.0.1:%d%s" % (tls, path)),
                               ("h2c", [], "http://127.0.0.1:%d%s" % (clear, path))])

    # h2o
    tls, clear = free_port(), free_port()
    conf = tmp.write("h2o.conf", get_h2o.CONF.format(tmp=tmp.path, tls=tls, clear=clear,
                                                     cert=cert, key=key, root=root))
    with Peer("h2o", ["h2o", "-c", conf], ports=[tls, clear], out=tmp.join("h2o.out")):
        runs(loom, "h2o", [("TLS h2", [], "https://127.0.0.1:%d%s" % (tls, path)),
                           ("h2c", [], "http://127.0.0.1:%d%s" % (clear, path)),
                           ("HTTP/1.1", ["--h1"], "http://127.0.0.1:%d%s" % (clear, path))])

    # nginx: its access log counts
    tls, clear, h1 = free_port(), free_port(), free_port()
    for d in ("cb", "px", "fc", "uw", "sc"):
        os.makedirs(tmp.join(d), exist_ok=True)
    conf = tmp.write("nginx.conf", get_nginx.CONF.format(tmp=tmp.path, tls=tls, clear=clear,
                                                         h1=h1, cert=cert, key=key, root=root))
    with Peer("nginx", ["nginx", "-p", tmp.path, "-c", conf, "-e", tmp.join("error.log")],
              ports=[tls, clear, h1], out=tmp.join("nginx.out")):
        runs(loom, "nginx", [("TLS h2", [], "https://127.0.0.1:%d%s" % (tls, path)),
                             ("h2c", [], "http://127.0.0.1:%d%s" % (clear, path)),
                             ("HTTP/1.1 (TLS)", ["--h1"], "https://127.0.0.1:%d%s" % (h1, path))],
             alog=tmp.join("access.log"),
             proto_word={"TLS h2": " HTTP/2.0 ", "h2c": " HTTP/2.0 ",
                         "HTTP/1.1 (TLS)": " HTTP/1.1 "})

    # Apache httpd, mod_http2
    tls, clear = free_port(), free_port()
    atmp = Tmp("bench-apache")
    conf = atmp.write("httpd.conf", get_apache.CONF.format(
        tmp=atmp.path, tls=tls, clear=clear, cert=cert, key=key, root=root,
        mods=get_apache.MODS))
    with Peer("apache", ["apache2", "-d", atmp.path, "-f", conf, "-DFOREGROUND"], ports=[tls, clear],
              out=atmp.join("apache.out")):
        runs(loom, "apache", [("TLS h2", [], "https://127.0.0.1:%d%s" % (tls, path)),
                              ("h2c", [], "http://127.0.0.1:%d%s" % (clear, path)),
                              ("HTTP/1.1", ["--h1"], "http://127.0.0.1:%d%s" % (clear, path))],
             alog=atmp.join("access.log"),
             proto_word={"TLS h2": " HTTP/2.0 ", "h2c": " HTTP/2.0 ",
                         "HTTP/1.1": " HTTP/1.1 "})


if __name__ == "__main__":
    main(run)
