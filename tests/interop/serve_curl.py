#!/usr/bin/python3
"""loom serve against curl (built with nghttp2): h2 over TLS (ALPN), h2c by
prior knowledge, h2c by HTTP/1.1 Upgrade, and HTTP/1.1 in clear and over
TLS. Bodies by sha256 (a small and a 6 MB file), HEAD, 304 (If-None-Match,
If-Modified-Since), 206/416, 404, 405, path traversal refused (.., %2e%2e,
symlinks out of the root, NUL), a precompressed .gz sibling, HTTP/1.1
keep-alive, a chunked request body, and clients that abort a download
(the server must go on and still exit 0).

Usage: serve_curl.py LOOM"""
import email.utils
import gzip
import os
import re
import shutil
import socket
import time

from serve_common import Server, check, main, make_tmp, run, sha256

SECRET = b"loom-interop-secret-outside-the-root\n"


class Reply:
    pass


def curl(args, url, tmp, timeout=30):
    hdr = os.path.join(tmp, "curl.h")
    body = os.path.join(tmp, "curl.b")
    for p in (hdr, body):
        if os.path.exists(p):
            os.unlink(p)
    cmd = ["curl", "-sS", "-v", "--max-time", str(timeout - 5), "-D", hdr, "-o", body,
           "-w", "%{http_code} %{http_version}"] + list(args) + [url]
    p = run(cmd, timeout=timeout)
    r = Reply()
    r.cmd = " ".join(cmd)
    r.rc = p.returncode
    r.verbose = p.stderr.decode(errors="replace")
    out = p.stdout.decode().split()
    r.code = int(out[0]) if out else 0
    r.version = out[1] if len(out) > 1 else ""
    r.body = open(body, "rb").read() if os.path.exists(body) else b""
    raw = open(hdr, "rb").read().decode(errors="replace") if os.path.exists(hdr) else ""
    blocks = [b for b in re.split(r"\r?\n\r?\n", raw) if b.strip()]
    r.status_lines = [b.splitlines()[0] for b in blocks]
    r.headers = {}
    if blocks:
        for line in blocks[-1].splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                r.headers[k.strip().lower()] = v.strip()
    return r


def expect(r, code, what, body=None, version=None):
    check(r.rc == 0, "%s: curl exited %d\n%s\n%s" % (what, r.rc, r.cmd, r.verbose[-2000:]))
    check(r.code == code, "%s: status %d, wanted %d\n%s\n%s" %
          (what, r.code, code, r.cmd, r.verbose[-2000:]))
    if version:
        check(r.version == version, "%s: HTTP version %r, wanted %r" % (what, r.version, version))
    if body is not None:
        check(sha256(r.body) == sha256(body), "%s: body sha256 %s (%d octets), wanted %s (%d)" %
              (what, sha256(r.body), len(r.body), sha256(body), len(body)))


def make_site(tmp):
    site = os.path.join(tmp, "site")
    outside = os.path.join(tmp, "outside")
    os.makedirs(os.path.join(site, "sub"))
    os.makedirs(outside)
    files = {}

    def put(name, data):
        with open(os.path.join(site, name), "wb") as f:
            f.write(data)
        files[name] = data

    put("small.txt", b"hello from loom serve\n" * 40)
    put("big.bin", os.urandom(6 * 1024 * 1024 + 12345))
    plain = b"precompressed text, " * 500
    put("x.txt", plain)
    # bigger than any socket buffer: a client that stops reading leaves
    # the server with output pending (sparse: costs no disk)
    with open(os.path.join(site, "huge.bin"), "wb") as f:
        f.truncate(256 * 1024 * 1024)
    put("x.txt.gz", gzip.compress(plain, mtime=0))
    put("sub/index.html", b"<!doctype html><title>sub</title>\n")
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink("../outside", os.path.join(site, "escape"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(site, "secret-link.txt"))
    os.symlink("small.txt", os.path.join(site, "inside-link.txt"))
    return site, files


def test(argv):
    loom = argv[0]
    tmp = make_tmp("curl")
    try:
        site, files = make_site(tmp)
        with Server(loom, site=site, tmp=tmp) as s:
            run_checks(s, files, tmp)
            cache_checks(s, site, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cache_checks(s, site, tmp):
    """Small files are kept in memory for a second: after that a changed
    file is served as it is now, whether its size changed or not, and a
    removed one is gone."""
    h2c = ["--http2-prior-knowledge"]
    path = os.path.join(site, "cached.txt")
    url = s.http + "/cached.txt"
    with open(path, "wb") as f:
        f.write(b"version one\n")
    expect(curl(h2c, url, tmp), 200, "cache: first", b"version one\n")
    expect(curl(h2c, url, tmp), 200, "cache: again", b"version one\n")
    # the same size, written in place within the same second
    with open(path, "r+b") as f:
        f.write(b"version two\n")
    time.sleep(1.3)
    expect(curl(h2c, url, tmp), 200, "cache: changed in place, same size", b"version two\n")
    with open(path, "wb") as f:
        f.write(b"version three, longer\n")
    time.sleep(1.3)
    expect(curl(h2c, url, tmp), 200, "cache: changed size", b"version three, longer\n")
    # unchanged: still served (revalidated, not reloaded)
    time.sleep(1.3)
    expect(curl(h2c, url, tmp), 200, "cache: unchanged after its second",
           b"version three, longer\n")
    os.unlink(path)
    time.sleep(1.3)
    expect(curl(h2c, url, tmp), 404, "cache: removed")

    # Over TLS files up to 1 MiB are served from memory too (records sealed
    # straight from it): the same rules, and ranges cut from memory
    path = os.path.join(site, "cached.bin")
    one, two = os.urandom(300 * 1024), os.urandom(300 * 1024)
    with open(path, "wb") as f:
        f.write(one)
    for label, args in (("h2", ["--http2", "-k"]), ("http/1.1", ["--http1.1", "-k"])):
        url = s.https + "/cached.bin"
        expect(curl(args, url, tmp), 200, "TLS cache %s: first" % label, one)
        expect(curl(args, url, tmp), 200, "TLS cache %s: again" % label, one)
        r = curl(args + ["-r", "70000-200000"], url, tmp)
        expect(r, 206, "TLS cache %s: a range" % label, one[70000:200001])
        r = curl(args + ["-r", "5-9,100000-100009"], url, tmp)
        expect(r, 206, "TLS cache %s: two ranges" % label)
        check(one[5:10] in r.body and one[100000:100010] in r.body,
              "TLS cache %s: two ranges: the parts are not in the body" % label)
        with open(path, "r+b") as f:  # in place, the same size
            f.write(two)
        time.sleep(1.3)
        expect(curl(args, url, tmp), 200, "TLS cache %s: changed in place" % label, two)
        one, two = two, one


def run_checks(s, files, tmp):
    tls = ["--http2", "-k"]
    h2c = ["--http2-prior-knowledge"]
    small, big = files["small.txt"], files["big.bin"]

    # -- the three ways to HTTP/2, small and big bodies
    for name in ("small.txt", "big.bin"):
        expect(curl(tls, s.https + "/" + name, tmp), 200, "h2 (TLS) " + name, files[name], "2")
        expect(curl(h2c, s.http + "/" + name, tmp), 200, "h2c prior knowledge " + name,
               files[name], "2")
        r = curl(["--http2"], s.http + "/" + name, tmp)
        expect(r, 200, "h2c Upgrade " + name, files[name])
        check("HTTP/1.1 101" in r.verbose and "HTTP/2 200" in r.verbose,
              "h2c Upgrade %s: no 101 then HTTP/2 200 in curl -v:\n%s" % (name, r.verbose[-3000:]))
    # HTTP/1.1 both ways (ALPN http/1.1 over TLS)
    expect(curl(["--http1.1", "-k"], s.https + "/big.bin", tmp), 200, "http/1.1 over TLS", big,
           "1.1")
    expect(curl(["--http1.1"], s.http + "/big.bin", tmp), 200, "http/1.1 cleartext", big, "1.1")

    variants = [("h2", tls, s.https), ("h2c", h2c, s.http), ("http/1.1", ["--http1.1"], s.http)]
    for label, args, base in variants:
        # a folder's index.html
        expect(curl(args, base + "/sub/", tmp), 200, label + " folder index",
               files["sub/index.html"])
        # HEAD: the headers of a GET, no body
        r = curl(args + ["-I"], base + "/big.bin", tmp)
        expect(r, 200, label + " HEAD")
        # with -I curl writes the header block where the body would go
        check(len(r.body) < 2000 and r.body.endswith(b"\r\n\r\n"),
              "%s HEAD: a body came (%d octets)" % (label, len(r.body)))
        check(r.headers.get("content-length") == str(len(big)),
              "%s HEAD: content-length %r, wanted %d" % (label, r.headers.get("content-length"),
                                                        len(big)))
        # validators
        r = curl(args, base + "/small.txt", tmp)
        expect(r, 200, label + " GET for validators", small)
        etag, lm = r.headers.get("etag"), r.headers.get("last-modified")
        check(etag and lm, "%s: no etag/last-modified in %r" % (label, r.headers))
        # RFC 9110 §6.6.1: Date, an IMF-fixdate of now
        date = r.headers.get("date")
        check(date and date.endswith(" GMT") and
              abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time()) < 120,
              "%s: date %r is not now" % (label, date))
        r = curl(args + ["-H", "If-None-Match: " + etag], base + "/small.txt", tmp)
        expect(r, 304, label + " If-None-Match", b"")
        check(r.headers.get("etag") == etag, "%s 304: etag %r" % (label, r.headers.get("etag")))
        expect(curl(args + ["-H", 'If-None-Match: "nope"'], base + "/small.txt", tmp), 200,
               label + " If-None-Match other", small)
        expect(curl(args + ["-H", "If-Modified-Since: " + lm], base + "/small.txt", tmp), 304,
               label + " If-Modified-Since", b"")
        expect(curl(args + ["-H", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT"],
                    base + "/small.txt", tmp), 200, label + " If-Modified-Since old", small)
        # ranges
        r = curl(args + ["-r", "1000-1999"], base + "/big.bin", tmp)
        expect(r, 206, label + " Range", big[1000:2000])
        check(r.headers.get("content-range") == "bytes 1000-1999/%d" % len(big),
              "%s 206: content-range %r" % (label, r.headers.get("content-range")))
        expect(curl(args + ["-r", "-100"], base + "/big.bin", tmp), 206, label + " suffix Range",
               big[-100:])
        r = curl(args + ["-H", "Range: bytes=%d-" % (len(big) + 10)], base + "/big.bin", tmp)
        expect(r, 416, label + " unsatisfiable Range")
        check(r.headers.get("content-range") == "bytes */%d" % len(big),
              "%s 416: content-range %r" % (label, r.headers.get("content-range")))
        # 404, 405
        expect(curl(args, base + "/no-such-file.txt", tmp), 404, label + " 404")
        r = curl(args + ["--data-binary", "some body"], base + "/small.txt", tmp)
        expect(r, 405, label + " POST")
        check(r.headers.get("allow", "").replace(" ", "") == "GET,HEAD",
              "%s 405: allow %r" % (label, r.headers.get("allow")))
        # precompressed sibling, taken only when the client says gzip
        r = curl(args + ["-H", "Accept-Encoding: gzip"], base + "/x.txt", tmp)
        expect(r, 200, label + " precompressed", files["x.txt.gz"])
        check(r.headers.get("content-encoding") == "gzip",
              "%s: content-encoding %r" % (label, r.headers.get("content-encoding")))
        check(r.headers.get("content-type", "").startswith("text/plain"),
              "%s: content-type of x.txt.gz %r" % (label, r.headers.get("content-type")))
        r = curl(args + ["-H", "Accept-Encoding: identity"], base + "/x.txt", tmp)
        expect(r, 200, label + " identity", files["x.txt"])
        check("content-encoding" not in r.headers, "%s identity: %r" % (label, r.headers))
        # a symlink inside the root is fine
        expect(curl(args, base + "/inside-link.txt", tmp), 200, label + " inside symlink", small)
        # path traversal: never 200, never the outside file
        for path in ["/../outside/secret.txt", "/%2e%2e/outside/secret.txt",
                     "/%2E%2E%2Foutside%2Fsecret.txt", "/sub/../../outside/secret.txt",
                     "/escape/secret.txt", "/secret-link.txt", "/small.txt%00.html",
                     "/%00/../outside/secret.txt", "/..", "/.%2e/outside/secret.txt"]:
            r = curl(args + ["--path-as-is"], base + path, tmp)
            check(r.rc == 0, "%s traversal %s: curl failed %d\n%s" %
                  (label, path, r.rc, r.verbose[-2000:]))
            check(r.code in (400, 403, 404), "%s traversal %s: status %d, wanted 400/403/404" %
                  (label, path, r.code))
            check(SECRET not in r.body, "%s traversal %s: the outside file was served" %
                  (label, path))

    # -- HTTP/1.1 keep-alive: two URLs on one connection (cleartext and TLS)
    for label, base, extra in (("http", s.http, []), ("https", s.https, ["-k"])):
        f1, f2 = os.path.join(tmp, "k1"), os.path.join(tmp, "k2")
        p = run(["curl", "-sS", "-v", "--max-time", "25", "--http1.1"] + extra +
                [base + "/small.txt", "-o", f1, base + "/x.txt", "-o", f2], timeout=30,
                check_rc=0)
        v = p.stderr.decode(errors="replace")
        check("Re-using existing connection" in v,
              "%s/1.1 keep-alive: the second request did not reuse the connection:\n%s" %
              (label, v[-3000:]))
        check(open(f1, "rb").read() == small and open(f2, "rb").read() == files["x.txt"],
              "%s/1.1 keep-alive: wrong bodies" % label)

    # -- clients that go away mid-download (the server has output pending)
    for label, args, base in variants + [("http/1.1 over TLS", ["--http1.1", "-k"], s.https)]:
        p = run(["curl", "-sS", "--limit-rate", "1M", "--max-time", "0.7", "-o",
                 os.path.join(tmp, "aborted")] + args + [base + "/huge.bin"], timeout=20)
        check(p.returncode == 28, "%s: the aborted download ended with curl %d" %
              (label, p.returncode))
    expect(curl(tls, s.https + "/small.txt", tmp), 200, "h2 after aborted downloads", small)
    expect(curl(h2c, s.http + "/small.txt", tmp), 200, "h2c after aborted downloads", small)

    # -- a chunked request body: 405, and the connection goes on
    r = curl(["--http1.1", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-"],
             s.http + "/small.txt", tmp)
    expect(r, 405, "chunked POST (curl)")
    check("chunked" in r.verbose.lower(), "chunked POST: curl did not send chunked")
    raw_chunked(s.http_port, small)


def raw_chunked(port, small):
    req = (b"POST /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: text/plain\r\n\r\n"
           b"5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"
           b"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sk:
        sk.sendall(req)
        data = b""
        end = time.monotonic() + 15
        while time.monotonic() < end:
            try:
                chunk = sk.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    check(data.startswith(b"HTTP/1.1 405 "), "raw chunked POST: reply %r" % data[:200])
    second = data.find(b"HTTP/1.1 200 ")
    check(second > 0, "raw chunked POST then GET on one connection: no 200 for the GET; "
          "got %r" % data[:600])
    check(data.endswith(small), "raw chunked POST then GET: the GET's body is wrong")


if __name__ == "__main__":
    main(test)
