#!/usr/bin/env python3
"""A web page shaped like a real site, for bench/pageload.py (and the test
that checks which resources loom bench --page finds in it).

generate(root) writes into the folder root:

  index.html   about 30 KB of markup and text referencing 80 resources
  static/css/  4 stylesheets, 10-60 KB (one of them media=print)
  static/js/   9 scripts, 5 KB to ~300 KB: a vendor bundle (~290 KB) and an
               app bundle (~160 KB) among them; defer, async and plain
  fonts/       2 fonts (.woff2), 30-50 KB, as <link rel=preload as=font>
  media/       16 content images, 20-150 KB (.jpg, .png, .webp)
  icons/       47 icons, 0.3-3 KB (.svg, .png), and 2 favicons as
               <link rel=icon>

about 2 MB in all, like a median web page. Everything is deterministic (a
seeded random.Random): the same files, octet for octet, on every run.
Text resources (CSS, JS, SVG) are text built from a small vocabulary (they
compress about as well as real ones); images and fonts are their format's
magic number followed by pseudo-random octets (incompressible, like real
ones), with the right extension.

The page uses only these forms for what it loads, which a simple scanner
finds: <link rel=stylesheet href=...>, <link rel=preload as=font href=...>,
<link rel=icon href=...>, <script src=...>, <img src=...>; attribute values
double-quoted, single-quoted or bare; a few tags in upper or mixed case.
Every reference is same-origin: an absolute path (/static/...) or a path
relative to the page (icons/..., at the root, so the same thing). It also
has things that are NOT to be loaded, as real pages do: <a href=...> links,
<link rel=canonical>, an inline <script> without src, a comment. No
srcset, no loading=lazy, no resource named twice.

generate() returns (paths, total): the absolute paths of the 80 resources
in document order, and the sum of their sizes in octets (index.html not
included).

  python3 bench/pagegen.py DIR     writes the page into DIR
"""
import os
import random
import sys

SEED = 16  # issue 16

WORDS = ("trail tent pack boot jacket summit river ridge canyon forest alpine coast "
         "light warm dry quick fold carry stove lantern rope map compass guide season "
         "spring autumn winter review rating stock ship return size colour weight").split()

CSS_PROPS = ("margin:0 0 {a}px", "padding:{a}px {b}px", "font-size:{r}rem", "line-height:1.{a}",
             "color:#{h}", "background:#{h}", "border:1px solid #{h}", "border-radius:{a}px",
             "display:flex", "display:grid", "gap:{a}px", "align-items:center",
             "justify-content:space-between", "grid-template-columns:repeat({c},1fr)",
             "transition:opacity .{a}s ease", "font-weight:{w}", "max-width:{m}px",
             "box-shadow:0 {a}px {b}px rgba(0,0,0,.1{c})", "position:relative",
             "text-transform:uppercase", "letter-spacing:.0{c}em", "overflow:hidden")

JS_FRAGS = ("function {f}({a},{b}){{return {a}.map(function({c}){{return {c}.{p}+{b}}})}}",
            "var {f}={{{p}:{n},{q}:\"{w}\",{r}:function({a}){{this.{p}+={a};return this}}}};",
            "{f}.prototype.{p}=function({a}){{if(!{a})throw new Error(\"{w} {x}\");"
            "return this.{q}[{a}]||null}};",
            "const {f}=({a},{b})=>{a}.filter({c}=>{c}.{p}!=={b}).length;",
            "document.querySelectorAll(\".{w}-{x}\").forEach(function({a}){{"
            "{a}.addEventListener(\"click\",{f})}});",
            "try{{{f}({n})}}catch({a}){{console.warn(\"{w}\",{a})}}",
            "export function {f}({a}){{return fetch(\"/api/{w}/\"+{a}).then(r=>r.json())}}",
            "let {f}=new Map([[\"{w}\",{n}],[\"{x}\",{m}]]);",
            "if({a}&&{a}.{p}>{n}){{{b}.{q}=Math.min({a}.{p},{m})}}else{{{b}.{q}={n}}}")


def _ident(rng):
    return rng.choice("abcdefghijklmnopqrstuvwxyz") + "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_$") for _ in range(rng.randint(0, 3)))


def _css(rng, size):
    out, n = [], 0
    while n < size:
        sel = ".%s-%s%s" % (rng.choice(WORDS), rng.choice(WORDS),
                            rng.choice(("", "__title", "__body", "--active", ":hover", " > a",
                                        " img", "__meta")))
        props = ";".join(rng.choice(CSS_PROPS).format(
            a=rng.randint(1, 32), b=rng.randint(1, 48), c=rng.randint(2, 6),
            r="%.3f" % rng.uniform(0.75, 2.5), h="%06x" % rng.getrandbits(24),
            w=rng.choice((400, 500, 600, 700)), m=rng.choice((480, 720, 960, 1200)))
            for _ in range(rng.randint(2, 6)))
        rule = "%s{%s}\n" % (sel, props)
        if rng.random() < 0.08:
            rule = "@media (max-width:%dpx){%s}\n" % (rng.choice((480, 768, 1024)), rule.strip())
        out.append(rule)
        n += len(rule)
    return "".join(out).encode()


def _js(rng, size):
    out, n = ["/*! %s v%d.%d.%d | MIT */\n" % (_ident(rng), rng.randint(1, 9), rng.randint(0, 20),
                                              rng.randint(0, 9))], 0
    while n < size:
        s = rng.choice(JS_FRAGS).format(
            f=_ident(rng), a=_ident(rng), b=_ident(rng), c=_ident(rng), p=_ident(rng),
            q=_ident(rng), r=_ident(rng), w=rng.choice(WORDS), x=rng.choice(WORDS),
            n=rng.randint(0, 999), m=rng.randint(1000, 99999))
        out.append(s)
        n += len(s)
        if rng.random() < 0.05:
            out.append("\n")
    return "".join(out).encode()


def _svg(rng, size):
    head = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">'
    parts, n = [head], len(head) + 7
    while n < size:
        d = "M%.2f %.2f" % (rng.uniform(0, 24), rng.uniform(0, 24)) + "".join(
            rng.choice(("l%.2f %.2f", "c%.2f %.2f 1.5 2 3 3", "h%.2fv%.2f")) % (
                rng.uniform(-6, 6), rng.uniform(-6, 6)) for _ in range(rng.randint(3, 9))) + "z"
        p = '<path fill="#%06x" d="%s"/>' % (rng.getrandbits(24), d)
        parts.append(p)
        n += len(p)
    parts.append("</svg>\n")
    return "".join(parts).encode()


MAGIC = {
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "woff2": b"wOF2\x00\x01\x00\x00",
}


def _binary(rng, ext, size):
    head = MAGIC[ext]
    return head + rng.randbytes(size - len(head))


def _words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _para(rng):
    s = _words(rng, rng.randint(30, 70))
    return s[0].upper() + s[1:] + "."


def generate(root, seed=SEED):
    """Writes the page into root (created if missing); returns (paths in
    document order, total octets of those resources)."""
    rng = random.Random(seed)
    files = {}  # absolute path -> content
    order = []  # absolute paths, document order

    def add(path, data):
        assert path.startswith("/") and path not in files, path
        files[path] = data
        order.append(path)
        return path

    def rel(path):  # the page is at the root: "icons/x.svg" is "/icons/x.svg"
        return path[1:]

    h = []  # the page, in pieces

    def out(s):
        h.append(s)

    # -- head
    out("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>Northwind Outfitters &ndash; trail gear, tents and guides</title>\n"
        "<meta name=\"description\" content=\"%s\">\n"
        "<link rel=\"canonical\" href=\"/\">\n" % _words(rng, 20))
    fav_svg = add("/icons/favicon.svg", _svg(rng, 900))
    fav_png = add("/icons/apple-touch-icon.png", _binary(rng, "png", 2600))
    out("<link rel=\"icon\" type=\"image/svg+xml\" href=\"%s\">\n" % fav_svg)
    out("<link rel=icon sizes=180x180 href=%s>\n" % rel(fav_png))
    f1 = add("/fonts/inter-var.latin.woff2", _binary(rng, "woff2", rng.randint(44000, 50000)))
    f2 = add("/fonts/merriweather-700.woff2", _binary(rng, "woff2", rng.randint(30000, 36000)))
    out("<link rel=\"preload\" as=\"font\" type=\"font/woff2\" href=\"%s\" crossorigin>\n" % f1)
    out("<link rel=preload as=font type=font/woff2 href=%s crossorigin>\n" % f2)
    css = [("/static/css/main.5f3a9c1e.css", rng.randint(52000, 60000)),
           ("/static/css/components.css", rng.randint(20000, 28000)),
           ("/static/css/theme-autumn.css", rng.randint(10000, 14000)),
           ("/static/css/print.css", rng.randint(10000, 12000))]
    for i, (p, n) in enumerate(css):
        add(p, _css(rng, n))
        if i == 0:
            out("<link rel=\"stylesheet\" href=\"%s\">\n" % p)
        elif i == 1:
            out("<link rel=stylesheet href=%s>\n" % p)
        elif i == 2:
            out("<link rel='stylesheet' href='%s'>\n" % rel(p))
        else:
            out("<LINK REL=\"stylesheet\" HREF=\"%s\" media=\"print\">\n" % p)
    vendor = add("/static/js/vendor.8c41d2.bundle.js", _js(rng, rng.randint(285000, 298000)))
    out("<script src=\"%s\" defer></script>\n" % vendor)
    an = add("/static/js/analytics.js", _js(rng, rng.randint(18000, 24000)))
    out("<script async src=%s></script>\n" % an)
    out("<script>window.dataLayer=window.dataLayer||[];dataLayer.push({page:'home'});</script>\n")
    out("</head>\n<body class=\"home\">\n")

    # -- header: logo, navigation (links: not loaded), a few icons
    out("<!-- site header -->\n<header class=\"site-header\">\n")
    logo = add("/icons/logo.svg", _svg(rng, 2900))
    out("<a href=\"/\" class=\"logo\"><img src=\"%s\" alt=\"Northwind Outfitters\" width=160 "
        "height=40></a>\n<nav>\n" % logo)
    for name in ("tents", "packs", "footwear", "jackets", "guides", "sale"):
        ic = add("/icons/nav/%s.svg" % name, _svg(rng, rng.randint(400, 1400)))
        out("<a href=\"/shop/%s/\"><img src=%s alt=\"\" width=20 height=20> %s</a>\n" % (
            name, rel(ic), name.capitalize()))
    out("</nav>\n<div class=tools>")
    for name in ("search", "account", "cart"):
        ic = add("/icons/ui/%s.svg" % name, _svg(rng, rng.randint(350, 900)))
        out("<a href=\"/%s\"><img src=\"%s\" alt=\"%s\"></a>" % (name, ic, name))
    out("</div>\n</header>\n<main>\n")

    # -- hero and content
    hero = add("/media/hero-summit-2400.jpg", _binary(rng, "jpg", rng.randint(140000, 150000)))
    out("<section class=hero><img src=\"%s\" alt=\"%s\" width=1200 height=600>\n"
        "<h1>%s</h1>\n<p>%s</p>\n<a class=button href=\"/shop/\">Shop the season</a></section>\n"
        % (hero, _words(rng, 6), _words(rng, 5).title(), _para(rng)))
    comp = add("/static/js/components.js", _js(rng, rng.randint(40000, 52000)))
    out("<script src=\"%s\"></script>\n" % comp)
    exts = ["jpg", "webp", "jpg", "png", "webp", "jpg", "jpg", "webp", "png", "jpg", "webp",
            "jpg", "png", "jpg", "webp"]
    badge = ("star", "truck", "leaf", "shield", "return", "heart")
    out("<section class=products>\n<h2>New this %s</h2>\n<div class=grid>\n" % rng.choice(
        ("spring", "autumn", "winter")))
    for i, ext in enumerate(exts):
        name = "%s-%s-%02d" % (rng.choice(WORDS), rng.choice(WORDS), i)
        img = add("/media/products/%s.%s" % (name, ext),
                  _binary(rng, ext, rng.randint(20000, 128000)))
        b = add("/icons/badges/%s-%02d.%s" % (badge[i % 6], i, "svg" if i % 3 else "png"),
                _svg(rng, rng.randint(300, 1800)) if i % 3 else
                _binary(rng, "png", rng.randint(300, 3000)))
        tag = "<IMG SRC=\"%s\" alt=\"%s\">" if i == 7 else "<img src=\"%s\" alt=\"%s\">"
        out("<article class=card><a href=\"/p/%s\">" % name + tag % (img, name.replace("-", " "))
            + "</a>\n<h3>%s</h3><p>%s</p>" % (_words(rng, 3).title(), _para(rng))
            + "<img src=%s alt=\"\" class=badge width=16 height=16>"
              "<span class=price>$%d.%02d</span></article>\n"
              % (b if i % 2 else rel(b), rng.randint(19, 499), rng.choice((0, 49, 95, 99))))
        if i == 5:
            mid = add("/static/js/carousel.js", _js(rng, rng.randint(12000, 16000)))
            out("<Script src=\"%s\" defer></Script>\n" % mid)
    out("</div>\n</section>\n")

    out("<section class=stories>\n<h2>From the trail</h2>\n")
    for i in range(8):
        out("<article><p>%s</p><p>%s</p><a href=\"/journal/%d\">Read more</a></article>\n" % (
            _para(rng), _para(rng), 100 + i))
    out("</section>\n")

    out("<section class=features><ul>\n")
    for i in range(6):
        ic = add("/icons/features/f%02d.svg" % i, _svg(rng, rng.randint(500, 2800)))
        out("<li><img src='%s' alt=''> %s</li>\n" % (ic, _words(rng, 8)))
    out("</ul></section>\n</main>\n")

    # -- footer: social and payment icons, the rest of the scripts
    out("<footer>\n<div class=social>")
    for name in ("facebook", "instagram", "youtube", "x", "pinterest", "strava", "tiktok",
                 "mastodon"):
        ic = add("/icons/social/%s.svg" % name, _svg(rng, rng.randint(400, 2200)))
        out("<a href=\"https://%s.example/northwind\"><img src=%s alt=%s></a>" % (
            name, ic, name))
    out("</div>\n<div class=pay>")
    for name in ("visa", "mastercard", "amex", "paypal", "applepay", "googlepay", "klarna"):
        ic = add("/icons/pay/%s.png" % name, _binary(rng, "png", rng.randint(600, 3000)))
        out("<img src=\"%s\" alt=\"%s\" width=38 height=24>" % (rel(ic), name))
    out("</div>\n")
    for i in range(2):
        ic = add("/icons/ui/arrow-%d.svg" % i, _svg(rng, rng.randint(300, 700)))
        out("<a href=\"#top\"><img src=%s alt=\"\"></a>" % ic)
    out("\n<p class=fine>%s</p>\n</footer>\n" % _para(rng))
    app = add("/static/js/app.3e9f0b.bundle.js", _js(rng, rng.randint(150000, 168000)))
    out("<script src=\"%s\" defer></script>\n" % app)
    for name, lo, hi, how in (("consent.js", 5000, 7000, " async"), ("search.js", 26000, 32000,
                              " defer"), ("chat-widget.js", 55000, 62000, " async"),
                              ("polyfills.js", 8000, 10000, "")):
        p = add("/static/js/%s" % name, _js(rng, rng.randint(lo, hi)))
        out("<script src=%s%s></script>\n" % (rel(p) if name == "search.js" else p, how))
    out("</body>\n</html>\n")

    page = "".join(h).encode()
    os.makedirs(root, exist_ok=True)
    for path, data in list(files.items()) + [("/index.html", page)]:
        full = os.path.join(root, path[1:])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    return order, sum(len(files[p]) for p in order)


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: python3 bench/pagegen.py DIR   (writes a page shaped like a "
                         "real site into DIR)\n")
        return 2
    paths, total = generate(argv[1])
    page = os.path.getsize(os.path.join(argv[1], "index.html"))
    print("%s: index.html (%d octets) and %d resources, %d octets (%.2f MB in all)" % (
        argv[1], page, len(paths), total, (page + total) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
