#!/usr/bin/python3
"""HTTP/1.1 request smuggling shapes (RFC 9112 §6.1, §6.3, §5.2, §7.1):
each request carries a second one ("GET /1k.bin?smuggled=NAME") where a
parser that frames the message differently would find it.

 - cl_te, te_cl: Content-Length and Transfer-Encoding together;
 - two_cl: two different Content-Lengths;
 - obs_fold, obs_fold_te: a folded field line (obs-fold), in a plain field
   and in Transfer-Encoding;
 - chunk_nonhex, chunk_overflow, chunk_negative: bad chunk sizes;
 - te_not_last: Transfer-Encoding whose last coding is not chunked;
 - te_space: whitespace between the field name and its colon.

Target: 400, the connection closed (within 2 s), no second response, and
the smuggled request never processed (the access log never shows it).

Usage: h1_smuggling.py LOOM"""
import time

from attack_common import check, h1_connect, h1_read_response, main, wait_eof

H = b"Host: 127.0.0.1\r\n"


def smuggled(name):
    return b"GET /1k.bin?smuggled=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % name.encode()


def shapes():
    s = smuggled
    return {
        "cl_te": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + s("cl_te"),
        "te_cl": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                 b"Content-Length: 5\r\n\r\n0\r\n\r\n" + s("te_cl"),
        "two_cl": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(s("two_cl")) + s("two_cl"),
        "obs_fold": b"GET /1k.bin HTTP/1.1\r\n" + H + b"X-Folded: a\r\n b\r\n\r\n" +
                    s("obs_fold"),
        "obs_fold_te": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n"
                       b"Content-Length: 5\r\n\r\n0\r\n\r\n" + s("obs_fold_te"),
        "chunk_nonhex": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                        b"zz\r\nhello\r\n0\r\n\r\n" + s("chunk_nonhex"),
        "chunk_overflow": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                          b"\r\n10000000000000005\r\nhello\r\n0\r\n\r\n" + s("chunk_overflow"),
        "chunk_negative": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                          b"\r\n-5\r\nhello\r\n0\r\n\r\n" + s("chunk_negative"),
        # chunk data followed by two octets that are not CRLF: http-parser
        # would take them, a parser behind could read a request there
        "chunk_no_crlf": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                         b"\r\n5\r\nhelloXX0\r\n\r\n" + s("chunk_no_crlf"),
        "chunk_lf_only": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                         b"\r\n5\nhello\n0\n\n" + s("chunk_lf_only"),
        "te_not_last": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, "
                       b"identity\r\n\r\n0\r\n\r\n" + s("te_not_last"),
        "te_space": b"POST /1k.bin HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n"
                    b"Content-Length: 5\r\n\r\n0\r\n\r\n" + s("te_space"),
    }


# measured < 0.01 s of CPU and < 0.2 MiB of RSS per shape
CPU_MAX, RSS_MAX_KIB = 0.5, 8 * 1024


def make_case(name, octets):
    def case(t):
        with t.measure() as m:
            s = h1_connect(t.server.http_port)
            t0 = time.monotonic()
            s.sendall(octets)
            st, hdrs, body, rest = h1_read_response(s, t0 + 2.0)
            more, how = b"", None
            if st is not None:
                # anything after the first response: a second one?
                more = rest
                s.settimeout(2.0)
                while True:
                    try:
                        d = s.recv(65536)
                    except OSError as e:
                        how = "reset" if not isinstance(e, TimeoutError) else None
                        break
                    if not d:
                        how = "eof"
                        break
                    more += d
                t_close = time.monotonic() - t0
            else:
                how, t_close = body, time.monotonic() - t0
            s.close()
            time.sleep(0.1)  # the access log is written as requests end
        logged = [ln for ln in t.server.access_lines() if "smuggled=%s" % name in ln]
        t.note("%s: %s, then %s after %.2f s%s" % (
            name, st, how or "still open", t_close,
            ", then %r" % more[:60] if more else ""))
        check(st == 400, "%s: the answer is %r, wanted 400" % (name, st if st else body))
        check(b"HTTP/1." not in more, "%s: a second response followed: %r" % (name, more[:200]))
        check(how in ("eof", "reset") and t_close <= 2.0,
              "%s: the connection is not closed within 2 s after the 400" % name)
        check(not logged, "%s: the smuggled request was processed: %r" % (name, logged))
        t.check_cost(m, CPU_MAX, RSS_MAX_KIB)
    return case


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [(name, make_case(name, octets)) for name, octets in shapes().items()]


if __name__ == "__main__":
    main(CASES)
