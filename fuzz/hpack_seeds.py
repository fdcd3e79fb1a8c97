#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/hpack_decode.c and fuzz/hpack_diff.c
(same input format) from the hpack-test-case stories and a few hand-made
blocks that end in each kind of decoding error.

    fuzz/hpack_seeds.py [HPACK_TEST_CASE]   (default tests/data/hpack-test-case)
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [4096, 0, 1, 31, 32, 33, 64, 100, 256, 1365, 2730, 4095, 4097, 16384, 65536, 1 << 20]
MAX_SEED = 4000  # under libFuzzer's default -max_len


def block(b):
    if len(b) < 0xFD:
        return bytes([len(b)]) + b
    return bytes([0xFE, len(b) >> 8, len(b) & 0xFF]) + b


def story_seed(path, ncases, header=b"\x00\x00\x00", enc_change=None):
    cases = json.load(open(path))["cases"]
    out = bytearray(header)
    setting = 4096
    for i, c in enumerate(cases[:ncases]):
        ts = c.get("header_table_size")
        if ts is not None and ts != setting:
            setting = ts
            out += bytes([0xFF, SIZES.index(ts)])
        if enc_change is not None and i == 1:
            out += bytes([0xFD, enc_change])
        b = block(bytes.fromhex(c["wire"]))
        if len(out) + len(b) > MAX_SEED:
            break
        out += b
    return bytes(out)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "data",
                                                              "hpack-test-case")
    seeds = []
    folders = ["nghttp2", "go-hpack", "python-hpack", "haskell-http2-linear-huffman",
               "nghttp2-change-table-size", "nghttp2-16384-4096"]
    for k, folder in enumerate(folders):
        for story in (0, 7, 15, 29):
            path = os.path.join(root, folder, "story_%02d.json" % story)
            if os.path.exists(path):
                header = b"\x00\x00\x00"
                if folder == "nghttp2-16384-4096":
                    header = bytes([13, 0, 0])  # the story's decoder allows 16384
                seeds.append(story_seed(path, 4 + story % 5, header))
    # list limits small enough to be reached, an encoder-side size change,
    # and allocation failures
    p = os.path.join(root, "nghttp2", "story_03.json")
    for lsel in (1, 3, 5):
        seeds.append(story_seed(p, 5, bytes([0, lsel, 0])))
    for esel in (1, 7, 9):
        seeds.append(story_seed(p, 5, enc_change=esel))
    for fail in (0xF0, 0xF1, 0xF2, 0xF3):
        seeds.append(story_seed(p, 3, bytes([0, 0, fail])))

    hand = [
        # RFC 7541 C.3 (requests, no Huffman) and C.4 (the same with Huffman)
        "828684410f7777772e6578616d706c652e636f6d",
        "828684418cf1e3c2e5f23a6ba0ab90f4ff" + "|" + "828684be5886a8eb10649cbf",
        # size updates: to 0 and back, two in a row, above the limit
        "20" + "|" + "3fe11f82",
        "203fe11f82",
        "3fe21f82",
        # index 0; an index past the table; a literal with an index past it
        "80", "c0", "7f00",
        # never indexed, without indexing, incremental with a new name
        "100161016210016101630001640165" + "|" + "400161016240016101633f61",
        # Huffman: EOS, padding of 8 one-bits, padding with a zero bit
        "0081ff0081ff" , "008161" + "82" + "ffff", "00816181fe",
        # integers: 5 continuation octets, and one too many
        "1fffffffff0f", "1fffffffffff0f", "7fffffffffff0f",
        # a string longer than the block, a block cut in an integer
        "00056162", "1f",
    ]
    for h in hand:
        out = bytearray(b"\x00\x00\x00")
        for part in h.split("|"):
            out += block(bytes.fromhex(part))
        seeds.append(bytes(out))
    # lowered setting: the next block must start with a size update
    seeds.append(b"\x00\x00\x00" + bytes([0xFF, 8]) + block(bytes.fromhex("3f e1 01 82".replace(" ", ""))))
    seeds.append(b"\x00\x00\x00" + bytes([0xFF, 8]) + block(bytes.fromhex("82")))
    seeds.append(b"\x00\x00\x00" + bytes([0xFF, 1, 0xFF, 0]) + block(bytes.fromhex("2082")))
    # a bomb: one large entry referenced many times, with a small list limit
    big = bytes.fromhex("40") + b"\x01x" + b"\x7f\x81\x07" + b"y" * 0x400
    seeds.append(bytes([0, 6, 0]) + block(big + bytes([0xBE]) * 1000))

    for d in ("hpack_decode", "hpack_diff"):
        out = os.path.join(HERE, "corpus", d)
        os.makedirs(out, exist_ok=True)
        for s in seeds:
            name = hashlib.sha1(s).hexdigest()
            with open(os.path.join(out, name), "wb") as f:
                f.write(s)
    print("%d seeds, %d bytes, in fuzz/corpus/hpack_decode and fuzz/corpus/hpack_diff"
          % (len(seeds), sum(map(len, seeds))))


if __name__ == "__main__":
    main()
