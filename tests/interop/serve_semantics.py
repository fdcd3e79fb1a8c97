"""loom serve's HTTP semantics for files (RFC 9110), checked with curl over
HTTP/2 and HTTP/1.1, and Python's own parsers where the body has a format:

- a folder without its trailing slash: 301 to the slash form (query kept);
- --autoindex: an HTML listing (folders first, sorted, names escaped, sizes
  and dates) of a folder without index.html; without it such a folder is
  not listed;
- preconditions in RFC 9110 §13.2.2's order: If-Match and
  If-Unmodified-Since (412), If-None-Match (304, weak comparison),
  If-Range (a stale validator: the whole 200, never a 206);
- several ranges: multipart/byteranges, each part's Content-Range and
  octets right; too many ranges: the whole file; ranges of a precompressed
  variant; Vary: accept-encoding whenever a compressed sibling exists;
- dotfiles denied (403) but .well-known/ served, --allow-dotfiles, --deny;
- media types from the system's mime.types and --mime-type;
- on-the-fly brotli and gzip for compressible types without a sibling,
  negotiated by q-values, decoded by independent decoders (Python's gzip,
  Node.js's brotli), a changed file compressed again, --no-compress.

Every server is started here on free loopback ports and stopped by PID."""
import email.parser
import email.policy
import gzip
import html.parser
import os
import re
import shutil
import subprocess
import time

from serve_common import Server, check, main, make_tmp, run


def curl(url, *args, h1=False):
    """(status, headers dict (lower-case names), body) of one request."""
    cmd = ["curl", "-s", "-k", "-D", "-", "--max-time", "20"]
    cmd += ["--http1.1"] if h1 else ["--http2-prior-knowledge"] if url.startswith("http:") \
        else ["--http2"]
    p = run(cmd + list(args) + [url], timeout=30)
    check(p.returncode == 0, "curl %s %s: exit %d" % (" ".join(args), url, p.returncode))
    raw = p.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/") and b" 103 " in head.split(b"\r\n")[0]:
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.texts, self._in = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])
            self._in = True
            self.texts.append("")

    def handle_endtag(self, tag):
        if tag == "a":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.texts[-1] += data


def make_site(root):
    os.makedirs(os.path.join(root, "docs"))
    with open(os.path.join(root, "docs", "index.html"), "w") as f:
        f.write("<a href=page.html>page</a>\n")
    lst = os.path.join(root, "list")
    os.makedirs(os.path.join(lst, "zfolder"))
    os.makedirs(os.path.join(root, "empty"))  # a listing of nothing
    os.makedirs(os.path.join(lst, "afolder"))
    for name, data in (("b.txt", b"bb"), ("a <b>&\"c'.txt", b"x" * 3000), ("c.bin", b"")):
        with open(os.path.join(lst, name), "wb") as f:
            f.write(data)
    with open(os.path.join(lst, ".hidden"), "w") as f:
        f.write("no\n")
    with open(os.path.join(root, "nums.txt"), "wb") as f:
        f.write(b"".join(b"%d\n" % i for i in range(1, 3001)))
    with open(os.path.join(root, "nums.txt.gz"), "wb") as f:
        f.write(gzip.compress(open(os.path.join(root, "nums.txt"), "rb").read()))
    with open(os.path.join(root, "plain.txt"), "w") as f:
        f.write("no sibling\n")
    os.makedirs(os.path.join(root, ".git"))
    with open(os.path.join(root, ".git", "config"), "w") as f:
        f.write("[core]\n")
    with open(os.path.join(root, ".env"), "w") as f:
        f.write("SECRET=1\n")
    os.makedirs(os.path.join(root, ".well-known"))
    with open(os.path.join(root, ".well-known", "token"), "w") as f:
        f.write("acme\n")
    for name in ("old.bak", "notes.md", "doc.odt"):
        with open(os.path.join(root, name), "w") as f:
            f.write(name + "\n")


def folders(s):
    for h1 in (False, True):
        st, hd, _ = curl(s.http + "/docs?x=1", h1=h1)
        check(st == 301 and hd.get("location") == "/docs/?x=1",
              "folder without slash (h1=%s): %d %r" % (h1, st, hd))
        st, hd, body = curl(s.http + "/docs/", h1=h1)
        check(st == 200 and b"page.html" in body, "folder with slash: %d" % st)
    st, hd, body = curl(s.https + "/list/")
    check(st == 200 and hd["content-type"] == "text/html; charset=utf-8",
          "listing over TLS: %d %r" % (st, hd))
    p = Links()
    p.feed(body.decode())
    check(p.links == ["../", "afolder/", "zfolder/", "a%20%3Cb%3E%26%22c%27.txt", "b.txt",
                      "c.bin"], "listing links, folders first then sorted: %r" % p.links)
    check(p.texts[3] == "a <b>&\"c'.txt", "the name shown unescaped by a parser: %r" % p.texts)
    check(b"<b>&" not in body, "the name is escaped in the HTML")
    check(b".hidden" not in body, "dotfiles are not listed")
    check(re.search(rb"2\.9 KiB", body) and re.search(rb"2 B", body), "sizes shown")
    check(re.search(rb"\d{4}-\d\d-\d\d \d\d:\d\d", body), "dates shown")
    st, _, body = curl(s.http + "/empty/")
    check(st == 200 and b"Index of /empty/" in body and b"<td><a" in body,
          "an empty folder's listing: %d %r" % (st, body[:300]))
    # the link the listing gives works
    st, _, body = curl(s.http + "/list/a%20%3Cb%3E%26%22c%27.txt")
    check(st == 200 and body == b"x" * 3000, "the escaped link: %d" % st)
    print("folders: 301 to the slash form (query kept), listing sorted and escaped")


def conditionals(s):
    u = s.http + "/nums.txt"
    st, hd, whole = curl(u)
    etag, lm = hd["etag"], hd["last-modified"]
    check(st == 200 and hd.get("vary") == "accept-encoding",
          "a file with a .gz sibling varies by Accept-Encoding even when not asked: %r" % hd)
    check(curl(s.http + "/plain.txt")[1].get("vary") is None, "no sibling, no Vary")
    cases = [
        (("-H", "If-Match: %s" % etag), 200),
        (("-H", 'If-Match: "x", %s' % etag), 200),
        (("-H", "If-Match: *"), 200),
        (("-H", 'If-Match: "other"'), 412),
        (("-H", "If-Match: W/%s" % etag), 412),  # strong comparison
        (("-H", "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT"), 412),
        (("-H", "If-Unmodified-Since: %s" % lm), 200),
        (("-H", 'If-Match: "other"', "-H", "If-None-Match: %s" % etag), 412),  # order
        (("-H", "If-None-Match: W/%s" % etag), 304),  # weak comparison
        (("-H", "If-Modified-Since: %s" % lm), 304),
        (("-r", "0-9", "-H", "If-Range: %s" % etag), 206),
        (("-r", "0-9", "-H", 'If-Range: "stale"'), 200),
        (("-r", "0-9", "-H", "If-Range: W/%s" % etag), 200),
        (("-r", "0-9", "-H", "If-Range: %s" % lm), 206),
        (("-r", "0-9", "-H", "If-Range: Sat, 01 Jan 2000 00:00:00 GMT"), 200),
    ]
    for h1 in (False, True):
        for args, want in cases:
            st, hd, body = curl(u, *args, h1=h1)
            check(st == want, "%s (h1=%s): %d, wanted %d" % (" ".join(args), h1, st, want))
            if want == 200:
                check(body == whole, "%s: the whole file" % " ".join(args))
            if want == 206:
                check(body == whole[:10], "%s: the range" % " ".join(args))
            if want == 304:
                check(hd.get("vary") == "accept-encoding", "304 keeps Vary")
    print("preconditions: %d cases over h2 and HTTP/1.1" % len(cases))


def ranges(s):
    u = s.http + "/nums.txt"
    whole = curl(u)[2]
    size = len(whole)
    for h1 in (False, True):
        st, hd, body = curl(u, "-r", "0-4,100-199,-7", h1=h1)
        check(st == 206, "three ranges: %d" % st)
        ctype = hd["content-type"]
        check(ctype.startswith("multipart/byteranges; boundary="), "type %r" % ctype)
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        parts = list(msg.iter_parts())
        want = [(0, 4), (100, 199), (size - 7, size - 1)]
        check(len(parts) == 3, "three parts: %d" % len(parts))
        for part, (a, b) in zip(parts, want):
            check(part["Content-Range"] == "bytes %d-%d/%d" % (a, b, size),
                  "part range %r" % part["Content-Range"])
            check(part["Content-Type"].startswith("text/plain"), "part type")
            check(part.get_payload(decode=True) == whole[a:b + 1], "part octets %d-%d" % (a, b))
        check(int(hd["content-length"]) == len(body), "content-length of the multipart body")
    many = ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(17))
    st, _, body = curl(u, "-r", many)
    check(st == 200 and body == whole, "17 ranges: the whole file (%d)" % st)
    st, hd, _ = curl(u, "-r", "99999-")
    check(st == 416 and hd.get("content-range") == "bytes */%d" % size, "unsatisfiable: %d" % st)
    # a range of the precompressed variant: octets of the .gz file
    gz = open(os.path.join(s.site, "nums.txt.gz"), "rb").read()
    st, hd, body = curl(u, "-r", "0-99", "-H", "Accept-Encoding: gzip")
    check(st == 206 and hd.get("content-encoding") == "gzip" and body == gz[:100],
          "range of the gzip variant: %d %r" % (st, hd))
    check(hd.get("content-range") == "bytes 0-99/%d" % len(gz), "its Content-Range")
    print("ranges: multipart/byteranges parsed by Python's email, 17 ranges whole, 416, gzip variant")


def denied_and_types(s):
    for path, want in (("/.env", 403), ("/.git/config", 403), ("/list/.hidden", 403),
                       ("/.well-known/token", 200), ("/old.bak", 403), ("/notes.md", 200)):
        for h1 in (False, True):
            st, _, _ = curl(s.http + path, h1=h1)
            check(st == want, "%s (h1=%s): %d, wanted %d" % (path, h1, st, want))
    check(curl(s.http + "/notes.md")[1]["content-type"] == "text/markdown", "--mime-type md")
    t = curl(s.http + "/doc.odt")[1]["content-type"]
    check(t == "application/vnd.oasis.opendocument.text", "odt from /etc/mime.types: %r" % t)
    print("dotfiles and --deny: 403, .well-known served; media types from mime.types and flags")


def unbrotli(data):
    p = subprocess.run(["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync("
                        "require('fs').readFileSync(0)))"], input=data, capture_output=True,
                       timeout=30)
    check(p.returncode == 0, "node could not decode brotli: %r" % p.stderr[-500:])
    return p.stdout


def on_the_fly(s, site):
    text = os.path.join(site, "app.js")
    src = b"".join(b"function f%d(x) { return x * %d + 'loom'; }\n" % (i, i) for i in range(800))
    with open(text, "wb") as f:
        f.write(src)
    u = s.http + "/app.js"
    tags = set()
    for ae, want in (("br", "br"), ("gzip", "gzip"), ("gzip, br;q=0.5", "gzip"),
                     ("br;q=0, gzip", "gzip"), ("*", "br"), ("deflate, br;q=0.2", "br"),
                     ("identity", None), ("br;q=0, gzip;q=0", None), ("", None)):
        for h1 in (False, True):
            args = ["-H", "Accept-Encoding: %s" % ae] if ae else []
            st, hd, body = curl(u, *args, h1=h1)
            check(st == 200 and hd.get("content-encoding") == want,
                  "Accept-Encoding %r (h1=%s): %d %r" % (ae, h1, st, hd.get("content-encoding")))
            check(hd.get("vary") == "accept-encoding", "Vary on every answer of a compressible file")
            check(int(hd["content-length"]) == len(body), "content-length is the sent length")
            plain = unbrotli(body) if want == "br" else gzip.decompress(body) if want else body
            check(plain == src, "decoded %s (%r) is the file" % (want, ae))
            if want:
                check(len(body) < len(src) // 3, "%s makes it smaller: %d" % (want, len(body)))
            tags.add((want, hd["etag"]))
    check(len({t for _, t in tags}) == 3, "one entity tag per coding: %r" % tags)
    # HEAD says what GET sends; a range is of the compressed octets
    _, hd, br = curl(u, "-H", "Accept-Encoding: br")
    _, hh, body = curl(u, "-I", "-H", "Accept-Encoding: br")
    check(hh["content-length"] == hd["content-length"] and hh.get("content-encoding") == "br",
          "HEAD: %r" % hh)
    st, hr, part = curl(u, "-r", "10-29", "-H", "Accept-Encoding: br")
    check(st == 206 and part == br[10:30] and hr["content-range"] == "bytes 10-29/%d" % len(br),
          "range of the brotli form: %d %r" % (st, hr))
    # a changed file is compressed again (the cache revalidates within a second)
    src2 = src.replace(b"loom", b"LOOM!")
    with open(text, "wb") as f:
        f.write(src2)
    time.sleep(1.2)
    for ae in ("br", "gzip"):
        _, hd, body = curl(u, "-H", "Accept-Encoding: %s" % ae)
        plain = unbrotli(body) if ae == "br" else gzip.decompress(body)
        check(plain == src2, "the changed file, %s" % ae)
    # not compressed: small, not a text type
    small = os.path.join(site, "small.css")
    with open(small, "w") as f:
        f.write("a{b:c}\n")
    _, hd, _ = curl(s.http + "/small.css", "-H", "Accept-Encoding: br")
    check(hd.get("content-encoding") is None and hd.get("vary") is None, "a 7-octet file: %r" % hd)
    with open(os.path.join(site, "pic.png"), "wb") as f:
        f.write(b"\x89PNG" + b"\0" * 5000)
    _, hd, _ = curl(s.http + "/pic.png", "-H", "Accept-Encoding: br, gzip")
    check(hd.get("content-encoding") is None and hd.get("vary") is None, "a PNG: %r" % hd)
    print("on the fly: br/gzip by q-values, decoded by node and Python, HEAD, range, "
          "a changed file, not for small or binary files")


def test(argv):
    loom = argv[0]
    check(os.path.exists("/etc/mime.types"), "/etc/mime.types (package media-types)")
    tmp = make_tmp("semantics")
    site = os.path.join(tmp, "site")
    try:
        make_site(site)
        with Server(loom, site=site, extra=["--autoindex", "--deny", "*.bak", "--mime-type",
                                            "md=text/markdown"]) as s:
            folders(s)
            conditionals(s)
            ranges(s)
            denied_and_types(s)
            on_the_fly(s, site)
        with Server(loom, site=site, extra=["--allow-dotfiles"]) as s:
            st, _, body = curl(s.http + "/.env")
            check(st == 200 and body == b"SECRET=1\n", "--allow-dotfiles: %d" % st)
            st, _, _ = curl(s.http + "/list/")
            check(st == 404, "no --autoindex: a folder without index.html is not listed (%d)" % st)
            st, _, _ = curl(s.http + "/old.bak")
            check(st == 200, "no --deny: served (%d)" % st)
        with Server(loom, site=site, extra=["--no-compress"]) as s:
            _, hd, _ = curl(s.http + "/app.js", "-H", "Accept-Encoding: br, gzip")
            check(hd.get("content-encoding") is None and hd.get("vary") is None,
                  "--no-compress: %r" % hd)
        print("--allow-dotfiles serves .env; without --autoindex no listing")
        p = run([loom, "serve", site, "--mime-type", "nonsense"], timeout=20,
                stdin=subprocess.DEVNULL)
        check(p.returncode == 2 and b"--mime-type" in p.stderr, "a bad --mime-type: exit %d %r" %
              (p.returncode, p.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
