#!/usr/bin/python3
"""`loom hpack decode|encode`: output against the input stories, and errors.

Usage: cli_hpack.py check|errors LOOM HPACK_TEST_CASE_DIR

check: `loom hpack decode` on stories from several encoders prints the same
story with the same headers (and every other key unchanged); `loom hpack
encode` on raw-data stories keeps the headers and adds wire that `loom hpack
decode` turns back into them, at several table sizes.

errors: a corrupt story, bad hex, invalid JSON, a missing file and a bad
header each give exit status 1 and exactly one line on stderr naming the
file, the case and the reason; usage errors give exit status 2.
"""
import json
import os
import subprocess
import sys
import tempfile

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}")


def loom_hpack(loom, *args):
    p = subprocess.run([loom, "hpack", *args], capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def decode_matches(loom, path):
    rc, out, err = loom_hpack(loom, "decode", path)
    check(rc == 0 and err == "", f"decode {path}: rc {rc}, stderr {err!r}")
    if rc != 0:
        return
    got, want = json.loads(out), load(path)
    check(set(got) == set(want), f"decode {path}: top-level keys {sorted(got)} vs {sorted(want)}")
    check(len(got["cases"]) == len(want["cases"]), f"decode {path}: number of cases")
    for i, (g, w) in enumerate(zip(got["cases"], want["cases"])):
        check(list(g) == list(w), f"decode {path} case {i}: keys {list(g)} vs {list(w)}")
        for key in w:
            if g.get(key) != w[key]:
                check(False, f"decode {path} case {i}: {key} differs")
                break
    # formatted like the input: 2-space indentation
    check(out.startswith('{\n  "'), f"decode {path}: not indented by 2")


def encode_round_trip(loom, path, table, tmp):
    args = ["encode"] + (["--table-size", str(table)] if table is not None else []) + [path]
    rc, out, err = loom_hpack(loom, *args)
    check(rc == 0 and err == "", f"{' '.join(args)}: rc {rc}, stderr {err!r}")
    if rc != 0:
        return
    enc, want = json.loads(out), load(path)
    check(len(enc["cases"]) == len(want["cases"]), f"encode {path}: number of cases")
    for i, (e, w) in enumerate(zip(enc["cases"], want["cases"])):
        check(e["headers"] == w["headers"], f"encode {path} case {i}: headers changed")
        check(isinstance(e.get("wire"), str) and e["wire"] == e["wire"].lower(),
              f"encode {path} case {i}: no lowercase wire")
    first = enc["cases"][0]
    if table is None or table == 4096:
        check("header_table_size" not in first, f"encode {path}: unasked header_table_size")
    else:
        check(first.get("header_table_size") == table, f"encode {path}: header_table_size")
        # RFC 7541 §6.3: the first block opens with a size update (001xxxxx)
        check(int(first["wire"][:2], 16) & 0xE0 == 0x20, f"encode {path}: no size update")
    story = os.path.join(tmp, f"enc_{table}_{os.path.basename(path)}")
    with open(story, "w", encoding="utf-8") as f:
        f.write(out)
    rc, out, err = loom_hpack(loom, "decode", story)
    check(rc == 0, f"decode of encode {path} (table {table}): rc {rc} {err!r}")
    if rc == 0:
        back = json.loads(out)
        for i, (b, w) in enumerate(zip(back["cases"], want["cases"])):
            check(b["headers"] == w["headers"], f"encode+decode {path} case {i}: headers differ")


def mode_check(loom, root):
    stories = [
        "go-hpack/story_05.json",
        "haskell-http2-linear-huffman/story_12.json",
        "nghttp2/story_20.json",
        "nghttp2-16384-4096/story_03.json",
        "nghttp2-change-table-size/story_02.json",
        "python-hpack/story_30.json",
    ]
    for s in stories:
        decode_matches(loom, os.path.join(root, s))
    with tempfile.TemporaryDirectory() as tmp:
        for s in ("raw-data/story_00.json", "raw-data/story_17.json", "raw-data/story_31.json"):
            for table in (None, 0, 256, 4096, 16384):
                encode_round_trip(loom, os.path.join(root, s), table, tmp)


def one_error(loom, args, want_rc, must_contain, what):
    rc, out, err = loom_hpack(loom, *args)
    check(rc == want_rc, f"{what}: exit status {rc}, want {want_rc} (stderr {err!r})")
    check(out == "", f"{what}: printed something on stdout")
    if want_rc == 1:
        check(err.count("\n") == 1 and err.endswith("\n"), f"{what}: not one line: {err!r}")
    for s in must_contain:
        check(s in err, f"{what}: {s!r} not in {err!r}")
    print(f"{what}: exit {rc}: {err.strip()}")


def mode_errors(loom, root):
    src = os.path.join(root, "nghttp2", "story_02.json")
    story = load(src)
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, obj=None, text=None):
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text if text is not None else json.dumps(obj, indent=2))
            return path

        # index 0 (RFC 7541 §6.1) in the third case
        bad = json.loads(json.dumps(story))
        bad["cases"][2]["wire"] = "80" + bad["cases"][2]["wire"]
        seq = bad["cases"][2]["seqno"]
        p = write("corrupt.json", bad)
        one_error(loom, ["decode", p], 1, [p, f"case {seq}:", "RFC 7541"], "corrupt wire")
        # a block cut in the middle of a string
        cut = json.loads(json.dumps(story))
        cut["cases"][1]["wire"] = "4005616263"
        p = write("cut.json", cut)
        one_error(loom, ["decode", p], 1, [p, f"case {cut['cases'][1]['seqno']}:"], "truncated wire")
        # bad hex
        hx = json.loads(json.dumps(story))
        hx["cases"][0]["wire"] = "8zz"
        p = write("hex.json", hx)
        one_error(loom, ["decode", p], 1, [p, "case 0:", "hex"], "bad hex")
        # invalid JSON
        p = write("invalid.json", text='{"cases": [{"wire": "82"}')
        one_error(loom, ["decode", p], 1, [p, "JSON"], "invalid JSON")
        one_error(loom, ["encode", p], 1, [p, "JSON"], "invalid JSON (encode)")
        # missing file
        p = os.path.join(tmp, "missing.json")
        one_error(loom, ["decode", p], 1, [p], "missing file")
        # encode: a header value that is not a string
        p = write("badheader.json", {"cases": [{"headers": [{":method": "GET"}]},
                                               {"headers": [{"x-n": 5}]}]})
        one_error(loom, ["encode", p], 1, [p, "case 1:"], "non-string header")
        # usage errors
        good = os.path.join(root, "raw-data", "story_00.json")
        for args in ([], ["frob", good], ["decode"], ["decode", good, good],
                     ["decode", "--table-size", "10", good], ["encode", "--table-size", good],
                     ["encode", "--table-size", "-1", good],
                     ["encode", "--table-size", "4294967296", good], ["encode", "--bogus", good]):
            rc, out, err = loom_hpack(loom, *args)
            check(rc == 2 and out == "" and err, f"usage error {args}: exit {rc}")


def main():
    mode, loom, root = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "check":
        mode_check(loom, root)
    else:
        mode_errors(loom, root)
    print(f"{CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
