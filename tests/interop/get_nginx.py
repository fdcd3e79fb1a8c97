"""loom get against nginx (Debian nginx 1.22): `listen ... ssl http2` with
http2_push on /index.html, a cleartext `listen ... http2` (h2c by prior
knowledge), and a TLS server without http2 (ALPN without h2). nginx runs in
the foreground (daemon off) with a temporary prefix, configuration, error
log and access log; `$connection` in the log format is the server-side
connection id.

Asserts: bodies by sha256 (-o and stdout); several URLs over one
connection (summary and $connection); pushes saved; --no-push; RST_STREAM
CANCEL for a promise of a requested asset (and nginx logs the pushed
stream as cancelled, not served twice); -v trace vs `nghttp -nv`; timeline
and HAR; --fail on a 404 (exit 22, one line); a TLS server without h2 in
ALPN: HTTP/1.1 instead, as curl does (the body by sha256, nginx logs
HTTP/1.1 requests, several URLs on one keep-alive connection), and with
--http2-only exit 16 (one line).

usage: get_nginx.py path/to/loom"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from get_common import (LogTail, Peer, Tmp, check, check_bodies, check_cancel,  # noqa: E402
                        check_har, check_no_push, check_push_dir, check_stats, check_timeline,
                        check_trace_format, cross_check_nghttp, free_port, get, log, main,
                        make_cert, one_line_error, site)

PUSHES = ["/style.css", "/app.js", "/img.png"]

CONF = """user root;
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 128; }}
http {{
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
  uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  include /etc/nginx/mime.types;
  log_format conn '$connection $server_protocol $status $request_uri';
  access_log {tmp}/access.log conn;
  server {{
    listen 127.0.0.1:{tls} ssl http2;
    listen 127.0.0.1:{clear} http2;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
    location = /index.html {{ http2_push /style.css; http2_push /app.js; http2_push /img.png; }}
  }}
  server {{
    listen 127.0.0.1:{h1} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
  }}
}}
"""


def conn_ids(lines):
    return sorted({l.split()[0] for l in lines if l.strip()})


def run(loom, argv):
    tmp = Tmp("nginx")
    root, _, files = site(tmp)
    cert, key = make_cert(tmp.path, ["DNS:localhost", "IP:127.0.0.1"])
    tls, clear, h1 = free_port(), free_port(), free_port()
    conf = tmp.write("nginx.conf", CONF.format(tmp=tmp.path, tls=tls, clear=clear, h1=h1,
                                               cert=cert, key=key, root=root))
    alog = LogTail(tmp.join("access.log"))
    cmd = ["nginx", "-p", tmp.path, "-c", conf, "-e", tmp.join("error.log")]
    with Peer("nginx", cmd, ports=[tls, clear, h1], out=tmp.join("nginx.out")):
        base = "https://127.0.0.1:%d" % tls
        k = ["-k"]
        check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt", "/app.js"], tmp,
                     k)
        log("tls: bodies by -o and stdout match")

        alog.mark()
        pd = tmp.join("push")
        os.mkdir(pd)
        svg, har = tmp.join("n.svg"), tmp.join("n.har")
        urls = [base + p for p in ("/index.html", "/big.bin", "/small.txt")]
        r = get(loom, *k, "-v", "--push-dir", pd, "--timeline", svg, "--har", har, *urls)
        lines = alog.new(6)
        check(r.summary["conns"] == 1 and r.summary["pushed"] == 3 and
              r.summary["responses"] == 6, "summary %s\n%s" % (r.summary, r.describe()))
        check(len(lines) == 6 and len(conn_ids(lines)) == 1,
              "nginx logged %s (wanted 6 requests, pushes included, on one connection)" % lines)
        check_push_dir(pd, files, PUSHES)
        check_trace_format(r)
        check("PUSH_PROMISE" in r.types() and "WINDOW_UPDATE" in r.types(), "trace types %s" %
              r.types())
        cross_check_nghttp(r, urls)
        check_timeline(svg, 6, r)
        check_har(har, urls, [base + p for p in PUSHES])
        log("tls: 3 URLs + 3 pushes over 1 connection ($connection agrees), pushes saved, trace "
            "= nghttp's, timeline and HAR valid")

        alog.mark()
        r = get(loom, *k, "-v", base + "/index.html", base + "/style.css")
        check_cancel(r, "/style.css")
        lines = alog.new(4)
        check(len(conn_ids(lines)) == 1, "cancel run on connections %s" % conn_ids(lines))
        r = get(loom, *k, "-v", "--no-push", base + "/index.html")
        check_no_push(r)
        log("tls: RST_STREAM CANCEL for a requested asset; --no-push")

        first, second, _ = check_stats(loom, base + "/", k + ["--no-push"])
        log("tls: --stats %d then %d octets" % (first["req_h2"], second["req_h2"]))

        # --fail and a 404: exit 22, one line; without --fail the 404 body, exit 0
        r = get(loom, *k, "--fail", base + "/missing.html", expect=None)
        one_line_error(r, 22, r"missing\.html: HTTP status 404$")
        r = get(loom, *k, base + "/missing.html")
        check(b"404 Not Found" in r.out, "the 404 page is not on stdout")
        # ALPN without h2: HTTP/1.1, like curl; --http2-only refuses (nginx
        # then ends the handshake with no_application_protocol)
        h1base = "https://127.0.0.1:%d" % h1
        alog.mark()
        r = get(loom, *k, "-v", h1base + "/small.txt", h1base + "/big.bin", h1base + "/index.html")
        check(r.out == files["/small.txt"] + files["/big.bin"] + files["/index.html"],
              "HTTP/1.1 fallback: the bodies differ: %d octets, wanted %d\n%s" % (len(r.out), sum(len(files[p]) for p in ("/small.txt", "/big.bin", "/index.html")), r.err[-3000:]))
        check("HTTP/1.1" in r.err and "> GET /small.txt HTTP/1.1" in r.err,
              "HTTP/1.1 fallback: -v shows no HTTP/1.1 head\n" + r.err[-2000:])
        lines = alog.new(3)
        check(len(lines) == 3 and all("HTTP/1.1" in l for l in lines),
              "nginx logged %s (wanted 3 HTTP/1.1 requests)" % lines)
        check(len(conn_ids(lines)) == 1, "HTTP/1.1 keep-alive: connections %s" % conn_ids(lines))
        r = get(loom, *k, "--http2-only", h1base + "/small.txt", expect=None)
        one_line_error(r, 16, r"does not offer h2 in ALPN")
        log("--fail 404 exits 22; a TLS server without h2: HTTP/1.1 on one keep-alive connection,"
            " or exit 16 with --http2-only")

        base = "http://127.0.0.1:%d" % clear
        check_bodies(loom, base, files, ["/index.html", "/big.bin", "/small.txt"], tmp, ["--h2c"])
        alog.mark()
        pd = tmp.join("push-h2c")
        os.mkdir(pd)
        r = get(loom, "--h2c", "--push-dir", pd, base + "/index.html", base + "/big.bin")
        lines = alog.new(5)
        check(r.summary["conns"] == 1 and r.summary["pushed"] == 3, "h2c summary %s" % r.summary)
        check(len(lines) == 5 and len(conn_ids(lines)) == 1, "h2c: nginx logged %s" % lines)
        check_push_dir(pd, files, PUSHES)
        log("h2c (prior knowledge): bodies, one connection, pushes saved")


if __name__ == "__main__":
    main(run)
