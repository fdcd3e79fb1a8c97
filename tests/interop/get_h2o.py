"""loom get against h2o (Debian h2o 2.2), TLS h2 and cleartext h2c (prior
knowledge and HTTP/1.1 Upgrade). h2o pushes what a response's
`link: rel=preload` names (set by an mruby handler on /index.html); its
access log carries the connection id (%{connection-id}x), the server-side
witness that several URLs went over one connection.

Asserts: bodies by sha256 (-o and stdout); one connection (summary and
the access log); pushes saved with --push-dir; -a with --no-push fetches the
linked assets instead; --no-push; RST_STREAM CANCEL for a promise of a
requested asset; the -v trace agrees with `nghttp -nv` (DATA streams and
octets); --stats; HAR; Upgrade carries the right HTTP2-Settings.

usage: get_h2o.py path/to/loom"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (LogTail, Peer, Tmp, check, check_bodies, check_cancel,  # noqa: E402
                        check_har, check_no_push, check_push_dir, check_stats, check_trace_format,
                        cross_check_nghttp, free_port, get, log, main, make_cert, site)

PUSHES = ["/style.css", "/app.js", "/img.png"]

CONF = """user: root
pid-file: {tmp}/h2o.pid
error-log: {tmp}/h2o-error.log
access-log:
  path: {tmp}/h2o-access.log
  format: "%{{connection-id}}x %H %s %U"
listen:
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
      /index.html:
        mruby.handler: |
          Proc.new do |env|
            [399, {{"link" => "</style.css>; rel=preload, </app.js>; rel=preload, </img.png>; rel=preload"}}, []]
          end
        file.file: {root}/index.html
      /:
        file.dir: {root}
"""


def conn_ids(lines):
    return sorted({l.split()[0] for l in lines if l.strip()})


def one_conn(alog, r, nreq, what):
    lines = alog.new(nreq)
    check(r.summary and r.summary["conns"] == 1, "%s: summary %s\n%s" % (what, r.summary,
                                                                         r.describe()))
    check(len(lines) >= nreq and len(conn_ids(lines)) == 1,
          "%s: h2o logged %d requests on connections %s:\n%s" % (what, len(lines),
                                                                 conn_ids(lines), lines))


def run(loom, argv):
    tmp = Tmp("h2o")
    root, _, files = site(tmp)
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    tls, clear = free_port(), free_port()
    conf = tmp.write("h2o.conf", CONF.format(tmp=tmp.path, tls=tls, clear=clear, cert=cert,
                                             key=key, root=root))
    alog = LogTail(tmp.join("h2o-access.log"))
    with Peer("h2o", ["h2o", "-c", conf], ports=[tls, clear], out=tmp.join("h2o.out")):
        base = "https://127.0.0.1:%d" % tls
        k = ["-k"]
        check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt", "/app.js"], tmp,
                     k)
        log("tls: bodies by -o and stdout match")

        alog.mark()
        pd = tmp.join("push-tls")
        os.mkdir(pd)
        har = tmp.join("h2o.har")
        urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt")]
        r = get(loom, *k, "-v", "--push-dir", pd, "--har", har, *urls)
        one_conn(alog, r, 3, "tls")
        check(r.summary["pushed"] == 3 and r.summary["responses"] == 6, "summary %s" % r.summary)
        check_push_dir(pd, files, PUSHES)
        check_trace_format(r)
        check("PUSH_PROMISE" in r.types(), "no PUSH_PROMISE in -v")
        cross_check_nghttp(r, urls)
        check_har(har, urls, [base + p for p in PUSHES])
        log("tls: 3 URLs + 3 pushes over 1 connection (h2o's log agrees), pushes saved, "
            "DATA streams = nghttp's, HAR valid")

        # -a without push: the page's links are fetched on the same connection
        alog.mark()
        od = tmp.join("all")
        os.mkdir(od)
        r = get(loom, *k, "-v", "--no-push", "-a", "-O", base + "/index.html", cwd=od)
        check_no_push(r)
        one_conn(alog, r, 4, "-a")
        check(r.summary["responses"] == 4, "-a: summary %s" % r.summary)
        check_push_dir(od, files, ["/index.html"] + PUSHES)
        log("tls: -a --no-push -O fetches the 3 linked assets over the same connection")

        r = get(loom, *k, "-v", base + "/index.html", base + "/app.js")
        check_cancel(r, "/app.js")
        log("tls: the promise of a requested asset refused with RST_STREAM CANCEL")

        first, second, _ = check_stats(loom, base + "/", k)
        log("tls: --stats %d then %d octets" % (first["req_h2"], second["req_h2"]))

        # cleartext: prior knowledge and Upgrade
        base = "http://127.0.0.1:%d" % clear
        check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt"], tmp, ["--h2c"])
        check_bodies(loom, base, files, ["/big.bin", "/small.txt", "/app.js"], tmp)
        log("h2c: bodies match, prior knowledge and Upgrade")
        for mode in (["--h2c"], []):
            alog.mark()
            pd = tmp.join("push-h2c%d" % len(mode))
            os.mkdir(pd)
            urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt")]
            r = get(loom, *mode, "-v", "--push-dir", pd, *urls)
            one_conn(alog, r, 3, "h2c %s" % (mode or "Upgrade"))
            check(r.summary["pushed"] == 3, "h2c %s: summary %s" % (mode, r.summary))
            check_push_dir(pd, files, PUSHES)
            check(r.count("recv", "GOAWAY") == 0, "h2o sent GOAWAY\n" + r.describe())
        r = get(loom, "-v", "--no-push", base + "/index.html")
        check_no_push(r)
        log("h2c: 3 URLs + 3 pushes over 1 connection, prior knowledge and Upgrade; --no-push")


if __name__ == "__main__":
    main(run)
