#!/usr/bin/python3
"""Out of file descriptors (EMFILE): `loom serve` runs with RLIMIT_NOFILE
64; the normal client connects first; the attacker opens 200 connections
(the kernel completes them: they wait in the listen backlog once the
server cannot accept any more) and holds them for 5 s, silent.

Target:
 - no accept spin: the server's CPU over those 5 s stays under 0.5 s (a
   level-triggered listener that keeps failing accept(2) burns a core);
 - its stderr says "out of file descriptors" once for the episode;
 - the normal client is served throughout (a file is still opened for it);
 - after the attacker closes its connections, a new connection is served.

Usage: emfile.py LOOM"""
import socket
import time

from attack_common import (H2Conn, check, cpu_seconds, headers_frame, main, open_fds,
                           request_block)

NOFILE = 64
N = 200
HOLD = 5.0
# Measured: the server spends ~0.02-0.05 s of CPU in those 5 s once it
# stops polling the listener (the normal client's 50 fetches); spinning on
# accept(2) it spends ~5 s (a core). Bound 0.5 s (the brief's).
HOLD_CPU_MAX = 0.5
MESSAGE = "out of file descriptors"


def case_emfile(t):
    err0 = t.server.stderr().count(MESSAGE)
    socks = []
    for _ in range(N):
        s = socket.create_connection(("127.0.0.1", t.server.http_port), timeout=5)
        socks.append(s)
    time.sleep(0.3)
    fds = open_fds(t.pid)
    with t.measure() as m:
        time.sleep(HOLD)
    msgs = t.server.stderr().count(MESSAGE) - err0
    t.note("%d connections held %.0f s with RLIMIT_NOFILE %d (the server at %d fds): CPU %.2f s"
           ", %d '%s' lines" % (N, HOLD, NOFILE, fds, m.cpu, msgs, MESSAGE))
    for s in socks:
        s.close()
    # the server can accept again: a new connection is served
    t0 = time.monotonic()
    ok, last = False, ""
    while time.monotonic() - t0 < 5 and not ok:
        try:
            c = H2Conn(t.server.http_port, timeout=3)
            c.send(headers_frame(1, request_block("/1k.bin")))
            c.wait(lambda: 1 in c.ended or c.goaway or c.rst, 3)
            ok = bool(c.status.get(1)) and c.status[1][0][1] == 200 and c.data_in[1] == 1024
            last = c.describe()
            c.close()
        except (OSError, AssertionError) as e:
            last = repr(e)
            time.sleep(0.2)
    t.note("after the attacker left: a new connection %s after %.2f s" %
           ("served" if ok else "NOT served", time.monotonic() - t0))
    check(m.cpu <= HOLD_CPU_MAX, "the server spent %.2f s of CPU in %.0f s of EMFILE "
          "(bound %.1f s): an accept spin" % (m.cpu, HOLD, HOLD_CPU_MAX))
    check(msgs == 1, "stderr says '%s' %d times during the episode (wanted once); stderr "
          "ends:\n%s" % (MESSAGE, msgs, t.server.stderr()[-1500:]))
    check(ok, "after the attacker closed its connections, a new one is not served: %s" % last)


# the cases, for main() and for `make soak` (tests/attacks/soak.py)
CASES = [("emfile", case_emfile)]


if __name__ == "__main__":
    main(CASES, nofile=NOFILE)
