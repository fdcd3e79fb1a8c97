#!/usr/bin/python3
"""`loom hpack`: standard input, "header_table_size": null, --help per
command, --stats and --dump-header-table, and bad input, checked against
Python's hpack (Debian python3-hpack) as an independent implementation.

Usage: /usr/bin/python3 tests/interop/hpack_cli.py LOOM

Uses only the files it makes in a temporary folder and the stories in
tests/data/hpack-test-case. One line per checked thing; exit status 1, with
the failures named, when any check fails.

- stdin: `-` reads the story from standard input, for decode and encode,
  with output identical to reading the file (which still works); errors name
  <stdin>.
- null: "header_table_size": null is "not given": a story whose cases say
  null decodes (and encodes) exactly as the one without the key, while 0 in
  its place makes a difference (so null is not read as 0), and a string is
  still an error.
- help: `loom hpack decode|encode --help` (and -h) print that command's own
  text on stdout and exit 0; an unknown option is one line on stderr, exit 2.
- --stats: each case's output_length is the length of its wire, its
  input_length the octets of its names and values (as Python's hpack decodes
  the wire, for decode), and the Overall line's totals and ratio are the sums
  of those.
- --dump-header-table: after every case, the dynamic table loom prints
  (entries, their wire indices and sizes, the table's size and limit) is the
  one Python's hpack Decoder holds after decoding the same wire, for loom's
  decoder on stories from six encoders and for loom's encoder at several
  table sizes.
- bad input: malformed JSON, bad hex, HPACK errors, bad headers, missing
  files and mutated blocks give exit status 1 with exactly one line on
  stderr, never a crash (no sanitizer report, no signal).
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

try:
    from hpack import Decoder
except ImportError:
    sys.exit("hpack_cli.py: Python's hpack is missing: apt-get install python3-hpack, "
             "and run this with /usr/bin/python3")

HERE = os.path.dirname(os.path.abspath(__file__))
STORIES = os.path.normpath(os.path.join(HERE, "..", "data", "hpack-test-case"))

PASSED = [0]
FAILED = []
OVERALL = re.compile(r"^Overall: input=(\d+) output=(\d+) ratio=(\d+\.\d{4})$")


def check(cond, what, detail=""):
    if cond:
        PASSED[0] += 1
        print(f"ok: {what}")
    else:
        FAILED.append(what)
        detail = str(detail)
        if len(detail) > 600:
            detail = detail[:600] + "..."
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""))
    return cond


class Loom:
    def __init__(self, path):
        self.path = path

    def run(self, *args, stdin=None):
        """(exit status, stdout, stderr) of `loom hpack ARGS`; stdin: bytes
        or str to feed, else /dev/null."""
        if isinstance(stdin, str):
            stdin = stdin.encode()
        p = subprocess.run([self.path, "hpack", *args], input=stdin if stdin is not None else b"",
                           capture_output=True, timeout=120)
        return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def crashed(rc, err):
    """Why a run looks like a crash, or None."""
    if rc < 0:
        return f"killed by signal {-rc}"
    for s in ("Sanitizer", "runtime error:", "Segmentation", "Aborted"):
        if s in err:
            return f"{s!r} on stderr"
    return None


def story_path(rel):
    return os.path.join(STORIES, rel)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write(tmp, name, obj=None, text=None):
    """A story (obj) or a text (str, or bytes as they are) in tmp."""
    path = os.path.join(tmp, name)
    if isinstance(text, bytes):
        with open(path, "wb") as f:
            f.write(text)
        return path
    with open(path, "w", encoding="utf-8") as f:
        f.write(text if text is not None else json.dumps(obj, indent=1))
    return path


def pairs(headers):
    """[{name: value}] as [(name, value)]."""
    out = []
    for h in headers:
        assert len(h) == 1, h
        out += list(h.items())
    return out


def text_octets(headers):
    """The octets deflatehd counts for a header list: names and values."""
    return sum(len(n.encode()) + len(v.encode()) for n, v in pairs(headers))


def py_decoder():
    # the stories' lists are larger than hpack's default 64 KiB limit
    return Decoder(max_header_list_size=1 << 24)


def py_decode(d, case):
    """Decodes a case's wire with Python's hpack (as our settings say)."""
    hts = case.get("header_table_size")
    if hts is not None:
        d.max_allowed_table_size = hts
    return [(bytes(n).decode(), bytes(v).decode())
            for n, v in d.decode(bytes.fromhex(case["wire"]), raw=True)]


def py_table(d):
    t = d.header_table
    return {
        "entries": [(bytes(n).decode(), bytes(v).decode()) for n, v in t.dynamic_entries],
        "size": t._current_size,
        "max_size": t.maxsize,
    }


def table_mismatch(dumped, want):
    """What differs between loom's "header_table" and Python's table."""
    if not isinstance(dumped, dict):
        return f"no header_table ({dumped!r})"
    entries = dumped.get("entries")
    if not isinstance(entries, list):
        return "no entries"
    got = [(e.get("name"), e.get("value")) for e in entries]
    if got != want["entries"]:
        return (f"entries {got[:3]}... vs Python's {want['entries'][:3]}... "
                f"({len(got)} vs {len(want['entries'])})")
    for k, e in enumerate(entries):
        if e.get("index") != 62 + k:
            return f"entry {k}: index {e.get('index')}, want {62 + k}"
        size = len(e["name"].encode()) + len(e["value"].encode()) + 32
        if e.get("size") != size:
            return f"entry {k}: size {e.get('size')}, want {size}"
    if dumped.get("size") != want["size"]:
        return f"size {dumped.get('size')}, Python's {want['size']}"
    if dumped.get("size") != sum(e["size"] for e in entries):
        return "size is not the sum of the entries'"
    if dumped.get("max_size") != want["max_size"]:
        return f"max_size {dumped.get('max_size')}, Python's {want['max_size']}"
    return None


def one_line_error(loom, what, args, stdin=None, must=()):
    """A bad input: exit 1, nothing on stdout, one line on stderr."""
    rc, out, err = loom.run(*args, stdin=stdin)
    why = crashed(rc, err)
    lines = err.splitlines()
    ok = (why is None and rc == 1 and out == "" and len(lines) == 1 and err.endswith("\n")
          and lines[0].startswith("loom hpack: ") and all(m in err for m in must))
    check(ok, f"{what}: exit 1, one line: {err.strip()[:100]}",
          why or f"exit {rc}, stdout {out[:60]!r}, stderr {err[:300]!r}, want {must}")


# ---- --help and options ----


def test_help(loom, tmp):
    good = story_path("raw-data/story_00.json")
    texts = {}
    for cmd in ("decode", "encode"):
        for flag in ("--help", "-h"):
            rc, out, err = loom.run(cmd, flag)
            usage = f"usage: loom hpack {cmd} [options] STORY.json|-\n"
            check(rc == 0 and err == "" and out.startswith(usage),
                  f"hpack {cmd} {flag}: its own usage on stdout, exit 0",
                  f"exit {rc}, stdout {out[:80]!r}, stderr {err!r}")
            texts[cmd, flag] = out
        out = texts[cmd, "--help"]
        check(texts[cmd, "-h"] == out, f"hpack {cmd}: -h prints what --help does")
        for opt in ("-v, --stats", "-d, --dump-header-table", "-h, --help", "standard input"):
            check(opt in out, f"hpack {cmd} --help lists {opt!r}")
        check(("--table-size N" in out) == (cmd == "encode"),
              f"hpack {cmd} --help: --table-size listed only for encode")
        # --help wins over a story, and prints nothing else
        rc, out2, err = loom.run(cmd, good, "--help")
        check(rc == 0 and out2 == out and err == "", f"hpack {cmd} STORY --help: only the usage")
    check(texts["decode", "--help"] != texts["encode", "--help"],
          "decode and encode have texts of their own")
    rc, out, err = loom.run("--help")
    check(rc == 0 and err == "" and "loom hpack decode --help" in out and "--stats" in out,
          "hpack --help: both commands, and where their own texts are")

    for cmd in ("decode", "encode"):
        for bad in ("--bogus", "-x", "--stat", "--dump-table=1"):
            rc, out, err = loom.run(cmd, bad, good)
            check(rc == 2 and out == "" and len(err.splitlines()) == 1 and bad in err
                  and "unknown option" in err and crashed(rc, err) is None,
                  f"hpack {cmd} {bad}: exit 2, one line: {err.strip()}", f"exit {rc}, stderr {err!r}")
    for args in (["decode", "--table-size", "10", good], ["encode", "--table-size"],
                 ["encode", "--table-size", "x1", good], ["encode", "--table-size=4294967296", good],
                 ["decode"], ["decode", good, good], ["frob", good]):
        rc, out, err = loom.run(*args)
        check(rc == 2 and out == "" and len(err.splitlines()) == 1,
              f"usage error {args[:3]}: exit 2, one line",
              f"exit {rc}, stderr {err!r}")


# ---- standard input ----


def test_stdin(loom, tmp):
    for cmd, rel in (("decode", "nghttp2/story_20.json"), ("decode", "go-hpack/story_05.json"),
                     ("encode", "raw-data/story_17.json")):
        path = story_path(rel)
        with open(path, "rb") as f:
            data = f.read()
        for extra in ([], ["-v", "-d"]):
            rc1, out1, err1 = loom.run(cmd, *extra, path)
            rc2, out2, err2 = loom.run(cmd, *extra, "-", stdin=data)
            check(rc1 == 0 and rc2 == 0 and out1 == out2 and err1 == err2 and out1.startswith("{"),
                  f"{cmd} {' '.join(extra + [rel])}: the file and - on stdin print the same",
                  f"exit {rc1}/{rc2}, stderr {err1[:200]!r} / {err2[:200]!r}")
        # "--" ends the options: - is still standard input
        rc, out3, err = loom.run(cmd, "--", "-", stdin=data)
        check(rc == 0 and out3 == loom.run(cmd, path)[1], f"{cmd} -- -: standard input")

    # a story that exists only on the pipe: RFC 7541 C.4
    c4 = {"cases": [{"seqno": 0, "wire": "828684418cf1e3c2e5f23a6ba0ab90f4ff"},
                    {"seqno": 1, "wire": "828684be5886a8eb10649cbf"},
                    {"seqno": 2, "wire": "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"}]}
    rc, out, err = loom.run("decode", "-", stdin=json.dumps(c4))
    want = [[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"),
             ("cache-control", "no-cache")],
            [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
             (":authority", "www.example.com"), ("custom-key", "custom-value")]]
    got = [pairs(c["headers"]) for c in json.loads(out)["cases"]] if rc == 0 else None
    check(got == want, "decode - (RFC 7541 C.4 on stdin): the RFC's header lists",
          f"exit {rc} {err!r} {got}")

    # encode from stdin, decode that from stdin, and Python's hpack agrees
    story = load(story_path("raw-data/story_31.json"))
    rc, enc, err = loom.run("encode", "-", stdin=json.dumps(story))
    rc2, dec, err2 = loom.run("decode", "-", stdin=enc)
    ok = rc == 0 and rc2 == 0
    if ok:
        d = py_decoder()
        for e, b, w in zip(json.loads(enc)["cases"], json.loads(dec)["cases"], story["cases"]):
            ok = ok and b["headers"] == w["headers"] and py_decode(d, e) == pairs(w["headers"])
    check(ok, "encode - | decode -: the headers back, and Python's hpack decodes the wire",
          f"exit {rc}/{rc2} {err!r} {err2!r}")

    one_line_error(loom, "invalid JSON on stdin", ["decode", "-"], stdin='{"cases": [',
                   must=["<stdin>", "JSON"])
    one_line_error(loom, "empty stdin", ["encode", "-"], stdin="", must=["<stdin>"])
    one_line_error(loom, "bad hex on stdin", ["decode", "-v", "-"], stdin='{"cases": [{"wire": "8"}]}',
                   must=["<stdin>", "case 0", "hex"])


# ---- "header_table_size": null ----


def with_null(story, only_absent=False):
    s = json.loads(json.dumps(story))
    for c in s["cases"]:
        if not only_absent or "header_table_size" not in c:
            c["header_table_size"] = None
    return s


def test_null(loom, tmp):
    for rel in ("go-hpack/story_05.json", "nghttp2/story_20.json", "python-hpack/story_30.json"):
        story = load(story_path(rel))
        nulled = with_null(story)
        rc, out, err = loom.run("decode", write(tmp, "null.json", nulled))
        ok = rc == 0 and err == ""
        if ok:
            got = json.loads(out)["cases"]
            ok = [c["headers"] for c in got] == [c["headers"] for c in story["cases"]]
        check(ok, f"decode {rel} with every header_table_size null: the same headers",
              f"exit {rc} {err!r}")
        # The story uses its dynamic table: had null meant 0, the next
        # block would owe a size update (RFC 7541 §4.2). So 0 must fail:
        zeroed = json.loads(json.dumps(story))
        zeroed["cases"][1]["header_table_size"] = 0
        rc, out, err = loom.run("decode", write(tmp, "zero.json", zeroed))
        check(rc == 1 and "size update" in err,
              f"decode {rel} with header_table_size 0 instead: an error (0 is not null)",
              f"exit {rc} {err!r}")
    # a story that changes sizes, null where it says nothing
    rel = "nghttp2-change-table-size/story_02.json"
    story = load(story_path(rel))
    rc, out, err = loom.run("decode", "-d", write(tmp, "null2.json", with_null(story, only_absent=True)))
    rc0, out0, _ = loom.run("decode", "-d", story_path(rel))
    ok = rc == 0 and rc0 == 0
    if ok:
        a, b = json.loads(out)["cases"], json.loads(out0)["cases"]
        ok = ([(c["headers"], c["header_table"]) for c in a]
              == [(c["headers"], c["header_table"]) for c in b])
    check(ok, f"decode {rel} with null where a case has no size: same headers and tables",
          f"exit {rc} {err!r}")

    # encode: null is no size change: the same wire as without the key
    for rel in ("raw-data/story_00.json", "raw-data/story_17.json"):
        story = load(story_path(rel))
        rc0, out0, _ = loom.run("encode", story_path(rel))
        rc, out, err = loom.run("encode", write(tmp, "null3.json", with_null(story)))
        ok = rc == 0 and rc0 == 0
        if ok:
            a, b = json.loads(out)["cases"], json.loads(out0)["cases"]
            ok = [c["wire"] for c in a] == [c["wire"] for c in b]
            d = py_decoder()
            ok = ok and all(py_decode(d, c) == pairs(w["headers"]) for c, w in zip(a, story["cases"]))
        check(ok, f"encode {rel} with every header_table_size null: the same wire as without, "
              "Python decodes it",
              f"exit {rc} {err!r}")
        # whereas a size is honoured: the first block announces it
        sized = json.loads(json.dumps(story))
        sized["cases"][0]["header_table_size"] = 0
        rc, out, err = loom.run("encode", write(tmp, "sized.json", sized))
        first = json.loads(out)["cases"][0] if rc == 0 else {}
        check(rc == 0 and first.get("header_table_size") == 0 and first["wire"].startswith("20"),
              f"encode {rel} with header_table_size 0: a size update to 0 opens the first block",
              f"exit {rc} {err!r} {first.get('wire', '')[:10]}")
        # --table-size N with a null first case: N is recorded and announced
        p = write(tmp, "null4.json", with_null(story))
        rc, out, err = loom.run("encode", "--table-size", "256", p)
        first = json.loads(out)["cases"][0] if rc == 0 else {}
        check(rc == 0 and first.get("header_table_size") == 256 and first["wire"].startswith("3fe101"),
              f"encode --table-size 256 {rel} with null: header_table_size 256 and its size update",
              f"exit {rc} {err!r}")

    # encode of a story whose sizes change: the wire honours them, so loom's
    # decoder and Python's read it back
    rel = "nghttp2-change-table-size/story_02.json"
    story = load(story_path(rel))
    rc, out, err = loom.run("encode", write(tmp, "chg.json", with_null(story, only_absent=True)))
    ok = rc == 0
    if ok:
        enc = json.loads(out)
        d = py_decoder()
        ok = all(py_decode(d, c) == pairs(c["headers"]) for c in enc["cases"])
        rc2, _, err2 = loom.run("decode", write(tmp, "chg_enc.json", enc))
        ok = ok and rc2 == 0
    check(ok, f"encode {rel} (sizes 1365, 2730, null elsewhere): Python's hpack and loom decode it",
          f"exit {rc} {err!r}")

    for bad in ('"4096"', "-1", "4294967296", "1.5", "true"):
        one_line_error(loom, f"header_table_size {bad}", ["decode", "-"],
                       stdin='{"cases": [{"header_table_size": %s, "wire": "82"}]}' % bad,
                       must=["case 0", "header_table_size"])


# ---- --stats ----


def overall_of(err):
    lines = err.splitlines()
    if len(lines) != 1:
        return None
    m = OVERALL.match(lines[0])
    return (int(m.group(1)), int(m.group(2)), float(m.group(3))) if m else None


def check_totals(what, cases, err):
    tot = overall_of(err)
    if tot is None:
        return check(False, f"{what}: the Overall line", f"stderr {err!r}")
    i_sum = sum(c["input_length"] for c in cases)
    o_sum = sum(c["output_length"] for c in cases)
    want = o_sum / i_sum if i_sum else 0.0
    return check(tot[0] == i_sum and tot[1] == o_sum and abs(tot[2] - want) <= 0.00005 + 1e-12,
                 f"{what}: Overall input={tot[0]} output={tot[1]} ratio={tot[2]:.4f} are the sums",
                 f"sums {i_sum} {o_sum} ratio {want}")


def stats_case_mismatch(c, text, wire_len):
    if c.get("output_length") != wire_len:
        return f"output_length {c.get('output_length')}, the wire has {wire_len}"
    if c.get("input_length") != text:
        return f"input_length {c.get('input_length')}, want {text}"
    pct = c.get("percentage_of_original_size")
    want = wire_len / text * 100 if text else 0.0
    if not isinstance(pct, (int, float)) or abs(pct - want) > 1e-9 * max(1.0, want):
        return f"percentage_of_original_size {pct}, want {want}"
    return None


def test_stats(loom, tmp):
    for rel in ("raw-data/story_00.json", "raw-data/story_17.json", "raw-data/story_31.json"):
        story = load(story_path(rel))
        for table in (None, 0, 256):
            args = ["encode", "--stats"] + (["--table-size", str(table)] if table is not None else [])
            rc, out, err = loom.run(*args, story_path(rel))
            if not check(rc == 0, f"{' '.join(args)} {rel}: exit 0", f"exit {rc} {err!r}"):
                continue
            cases = json.loads(out)["cases"]
            d = py_decoder()
            bad = None
            for k, (c, w) in enumerate(zip(cases, story["cases"])):
                why = stats_case_mismatch(c, text_octets(w["headers"]), len(bytes.fromhex(c["wire"])))
                if why is None and py_decode(d, c) != pairs(w["headers"]):
                    why = "Python's hpack decodes the wire to other headers"
                if why:
                    bad = f"case {k}: {why}"
                    break
            check(bad is None and len(cases) == len(story["cases"]),
                  f"{' '.join(args)} {rel}: {len(cases)} blocks' octets are their wires' lengths", bad)
            check_totals(f"{' '.join(args)} {rel}", cases, err)
            # the stats change nothing else
            plain = json.loads(loom.run(*[a for a in args if a != "--stats"], story_path(rel))[1])
            for c in cases:
                for key in ("input_length", "output_length", "percentage_of_original_size"):
                    c.pop(key)
            check(plain["cases"] == cases, f"{' '.join(args)} {rel}: the same story as without --stats")

    for rel in ("nghttp2/story_20.json", "go-hpack/story_05.json",
                "haskell-http2-linear-huffman/story_12.json", "nghttp2-change-table-size/story_02.json"):
        story = load(story_path(rel))
        rc, out, err = loom.run("decode", "-v", story_path(rel))
        if not check(rc == 0, f"decode -v {rel}: exit 0", f"exit {rc} {err!r}"):
            continue
        cases = json.loads(out)["cases"]
        d = py_decoder()
        bad = None
        for k, (c, w) in enumerate(zip(cases, story["cases"])):
            # the text size of what Python's hpack decodes from the same wire
            text = sum(len(n.encode()) + len(v.encode()) for n, v in py_decode(d, w))
            why = stats_case_mismatch(c, text, len(w["wire"]) // 2)
            if why:
                bad = f"case {k}: {why}"
                break
        check(bad is None, f"decode -v {rel}: {len(cases)} blocks' sizes match Python's decoding", bad)
        check_totals(f"decode -v {rel}", cases, err)

    # empty header lists: 0 octets in, 0 out, no division by zero
    rc, out, err = loom.run("encode", "-v", "-", stdin='{"cases": [{"headers": []}, {"headers": []}]}')
    cases = json.loads(out)["cases"] if rc == 0 else []
    check(rc == 0 and [c.get("output_length") for c in cases] == [0, 0]
          and [c.get("percentage_of_original_size") for c in cases] == [0.0, 0.0]
          and err == "Overall: input=0 output=0 ratio=0.0000\n",
          "encode -v of empty header lists: 0 octets, ratio 0", f"exit {rc} {err!r} {cases}")
    # nothing but the error when the story fails
    one_line_error(loom, "decode -v of a bad block: no Overall line", ["decode", "-v", "-"],
                   stdin='{"cases": [{"wire": "82"}, {"wire": "80"}]}', must=["case 1"])


# ---- --dump-header-table ----


def test_dump(loom, tmp):
    compared = [0, 0]  # tables, entries
    for rel in ("nghttp2/story_20.json", "go-hpack/story_05.json", "python-hpack/story_30.json",
                "haskell-http2-linear-huffman/story_12.json", "nghttp2-16384-4096/story_03.json",
                "nghttp2-change-table-size/story_02.json", "nghttp2-change-table-size/story_11.json"):
        story = load(story_path(rel))
        runs = [loom.run("decode", flag, story_path(rel)) for flag in ("--dump-header-table", "-d")]
        rc, out, err = runs[0]
        if not check(rc == 0 and err == "" and runs[1] == runs[0],
                     f"decode --dump-header-table (and -d) {rel}: exit 0", f"exit {rc} {err!r}"):
            continue
        cases = json.loads(out)["cases"]
        d = py_decoder()
        bad = None
        for k, (c, w) in enumerate(zip(cases, story["cases"])):
            py_decode(d, w)
            want = py_table(d)
            bad = table_mismatch(c.get("header_table"), want)
            if bad:
                bad = f"case {k}: {bad}"
                break
            compared[0] += 1
            compared[1] += len(want["entries"])
        check(bad is None, f"decode -d {rel}: {len(cases)} tables are Python hpack's", bad)

    for rel in ("raw-data/story_00.json", "raw-data/story_17.json", "raw-data/story_31.json"):
        story = load(story_path(rel))
        for table in (None, 0, 256, 16384):
            args = ["encode", "-d"] + (["--table-size", str(table)] if table is not None else [])
            rc, out, err = loom.run(*args, story_path(rel))
            if not check(rc == 0 and err == "", f"{' '.join(args)} {rel}: exit 0", f"exit {rc} {err!r}"):
                continue
            cases = json.loads(out)["cases"]
            d = py_decoder()
            bad = None
            for k, c in enumerate(cases):
                if py_decode(d, c) != pairs(story["cases"][k]["headers"]):
                    bad = f"case {k}: Python's hpack decodes other headers"
                    break
                want = py_table(d)
                bad = table_mismatch(c.get("header_table"), want)
                if bad:
                    bad = f"case {k}: {bad}"
                    break
                if table == 0 and want["entries"]:
                    bad = "entries in a table of size 0"
                    break
                compared[0] += 1
                compared[1] += len(want["entries"])
            check(bad is None, f"{' '.join(args)} {rel}: the encoder's {len(cases)} tables are what "
                  "Python's decoder holds after each wire", bad)
    check(compared[1] > 1000, f"dumped tables compared: {compared[0]} tables, {compared[1]} entries")

    # entries of every length: an empty name and value (32 octets), one
    # larger than any before it, and the one that evicts both
    big = "v" * 3000
    story = {"cases": [{"headers": [{"": ""}]}, {"headers": [{"x-big": big}]},
                       {"headers": [{"x-big": big}, {"": ""}]}, {"headers": [{"x-big2": big}]}]}
    rc, out, err = loom.run("encode", "-d", "-", stdin=json.dumps(story))
    bad = None if rc == 0 else f"encode: exit {rc} {err!r}"
    if bad is None:
        enc = json.loads(out)
        rc, out, err = loom.run("decode", "-d", "-", stdin=out)
        bad = None if rc == 0 else f"decode: exit {rc} {err!r}"
    if bad is None:
        d = py_decoder()
        for k, (e, c) in enumerate(zip(enc["cases"], json.loads(out)["cases"])):
            py_decode(d, e)
            want = py_table(d)
            bad = (table_mismatch(e.get("header_table"), want)
                   or table_mismatch(c.get("header_table"), want))
            if bad:
                bad = f"case {k}: {bad}"
                break
        sizes = [[x["size"] for x in c["header_table"]["entries"]] for c in enc["cases"]]
        if bad is None and sizes != [[32], [3037, 32], [3037, 32], [3038]]:
            bad = f"entry sizes {sizes}"
    check(bad is None, "encode -d and decode -d: an empty entry, a 3000-octet one, evictions", bad)

    # --stats and --dump-header-table together, from stdin
    rel = "raw-data/story_00.json"
    with open(story_path(rel), "rb") as f:
        rc, out, err = loom.run("encode", "-v", "-d", "-", stdin=f.read())
    cases = json.loads(out)["cases"] if rc == 0 else []
    check(rc == 0 and cases and all("header_table" in c and "output_length" in c for c in cases)
          and overall_of(err) is not None, "encode -v -d -: both, per case", f"exit {rc} {err!r}")


# ---- bad input ----


def test_bad_input(loom, tmp):
    base = load(story_path("nghttp2/story_02.json"))

    def story_with(k, wire):
        s = json.loads(json.dumps(base))
        s["cases"][k]["wire"] = wire
        return s

    seq2 = base["cases"][2]["seqno"]
    cases = [
        ("index 0 (RFC 7541 §6.1)", story_with(2, "80" + base["cases"][2]["wire"]),
         [f"case {seq2}", "RFC 7541"]),
        ("an index past the table", {"cases": [{"wire": "ff20"}]}, ["case 0"]),
        ("a dynamic index on an empty table", {"cases": [{"wire": "be"}]}, ["case 0"]),
        ("a literal cut short", story_with(1, "4005616263"), [f"case {base['cases'][1]['seqno']}"]),
        ("a size update above the limit", {"cases": [{"wire": "3fe21f82"}]}, ["case 0"]),
        ("a size update after a field", {"cases": [{"wire": "8220"}]}, ["case 0"]),
        ("Huffman padding of zeros", {"cases": [{"wire": "0081000161"}]}, ["case 0", "RFC 7541"]),
        ("Huffman EOS in a string", {"cases": [{"wire": "0084ffffffff0161"}]}, ["case 0", "RFC 7541"]),
        ("an integer past 32 bits", {"cases": [{"wire": "7fffffffffff7f"}]}, ["case 0"]),
        ("a value that is not UTF-8", {"cases": [{"wire": "00016101ff"}]}, ["case 0", "UTF-8"]),
        ("odd hex", story_with(0, "828"), ["case 0", "hex"]),
        ("non-hex", story_with(0, "8zz2"), ["case 0", "hex"]),
        ("no wire", {"cases": [{"seqno": 7}]}, ["case 7", "wire"]),
        ("a case that is not an object", {"cases": [5]}, ["case 0"]),
        ("not a story", {"stories": []}, ["cases"]),
    ]
    for what, story, must in cases:
        p = write(tmp, "bad.json", story)
        for extra in ([], ["-v", "-d"]):
            one_line_error(loom, " ".join(["decode", *extra, what]), ["decode", *extra, p],
                           must=[p] + must)
    for text, what in (('{"cases": [{"wire": "82"}', "truncated JSON"),
                       ("{'cases': []}", "single quotes"),
                       ('{"cases": []} trailing', "trailing garbage"), ("", "an empty file"),
                       ('{"cases": [{"wire": "82\\u0000"}]}', "a NUL in a string"),
                       (b'{"cases": [{"wire": "\xff"}]}', "not UTF-8")):
        p = write(tmp, "badjson.json", text=text)
        for cmd in ("decode", "encode"):
            one_line_error(loom, f"{cmd} {what}", [cmd, "-v", p], must=[p])
    for headers, what in (([{"x-n": 5}], "a value that is not a string"),
                          ([{"X-Up": "1"}], "an uppercase name"),
                          ([{"a": "1", "b": "2"}], "two fields in one object"),
                          ("nope", "headers not a list"),
                          ([["a", "1"]], "a field that is not an object")):
        p = write(tmp, "badhdr.json",
                  {"cases": [{"headers": [{":method": "GET"}]}, {"headers": headers}]})
        one_line_error(loom, f"encode {what}", ["encode", "-d", "-v", p], must=[p, "case 1"])
    missing = os.path.join(tmp, "missing.json")
    one_line_error(loom, "a missing file", ["decode", missing], must=[missing, "No such file"])
    one_line_error(loom, "a folder", ["encode", tmp], must=[tmp, "cannot read"])

    # mutated blocks: loom fails cleanly or decodes what Python's hpack
    # decodes (when both accept), with the same table
    rng = random.Random(7541)
    src = load(story_path("python-hpack/story_05.json"))
    accepted = rejected = compared = 0
    bad = None
    for n in range(60):
        story = json.loads(json.dumps(src))
        k = rng.randrange(1, min(len(story["cases"]), 8))
        story["cases"] = story["cases"][:k + 1]
        wire = bytearray.fromhex(story["cases"][k]["wire"])
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            if op == 0 and wire:
                wire[rng.randrange(len(wire))] = rng.randrange(256)
            elif op == 1 and wire:
                del wire[rng.randrange(len(wire)):]
            else:
                wire.insert(rng.randrange(len(wire) + 1), rng.randrange(256))
        story["cases"][k]["wire"] = wire.hex()
        rc, out, err = loom.run("decode", "-d", "-", stdin=json.dumps(story))
        why = crashed(rc, err)
        if why or rc not in (0, 1) or (rc == 1 and (len(err.splitlines()) != 1 or out)):
            bad = f"mutation {n}: exit {rc}, {why}, stderr {err[:300]!r}"
            break
        if rc == 1:
            rejected += 1
            continue
        accepted += 1
        d = py_decoder()
        try:
            for c in story["cases"]:
                py_headers = py_decode(d, c)
        except Exception:  # Python's hpack is stricter here: nothing to compare
            continue
        last = json.loads(out)["cases"][k]
        if pairs(last["headers"]) != py_headers:
            bad = f"mutation {n}: loom decoded {pairs(last['headers'])[:3]}, Python {py_headers[:3]}"
            break
        why = table_mismatch(last.get("header_table"), py_table(d))
        if why:
            bad = f"mutation {n}: {why}"
            break
        compared += 1
    check(bad is None and rejected > 0,
          f"60 mutated blocks: {rejected} clean errors, {accepted} decoded "
          f"({compared} as Python's hpack does)", bad)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: hpack_cli.py LOOM")
    loom = Loom(os.path.abspath(sys.argv[1]))
    if not os.path.isdir(STORIES):
        sys.exit(f"hpack_cli.py: no stories at {STORIES}")
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_help, test_stdin, test_null, test_stats, test_dump, test_bad_input):
            print(f"-- {t.__name__[5:]}")
            try:
                t(loom, tmp)
            except Exception as e:  # e.g. output that is not JSON: a failure, named
                check(False, f"{t.__name__} stopped", f"{type(e).__name__}: {e}")
    print(f"{PASSED[0]} passed, {len(FAILED)} failed")
    if FAILED:
        print("failed: " + "; ".join(FAILED[:20]))
        sys.exit(1)


if __name__ == "__main__":
    main()
