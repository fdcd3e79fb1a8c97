#!/usr/bin/python3
"""--tcp-notsent-lowat: a client that asks for a large file and stops
reading leaves the server's socket with little waiting unsent in it (the
default 16k), and megabytes with `--tcp-notsent-lowat 0` (the kernel's
default, no limit): the option is what bounds it. Over h2c (Python h2, a
4 MiB receive buffer that is never read) and over TLS; the unsent octets
are read from the server's socket with `ss -tni` (notsent:).

Usage: serve_lowat.py LOOM"""
import os
import re
import shutil
import socket
import subprocess
import time

import h2.config
import h2.connection

from serve_common import Server, check, main, make_tmp, tls_h2


def unsent(port, s, tls):
    """notsent of the server's end of s, after the server stopped writing."""
    if tls:
        s = tls_h2(s)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    c.increment_flow_control_window(2**31 - 1 - 65535)
    c.send_headers(1, [(":method", "GET"), (":path", "/huge.bin"),
                       (":scheme", "https" if tls else "http"), (":authority", "localhost")],
                   end_stream=True)
    s.sendall(c.data_to_send())
    local = s.getsockname()[1]
    last, seen = None, []
    for _ in range(40):  # until the server's queue stops growing
        time.sleep(0.25)
        out = subprocess.run(["ss", "-tni", "state", "established",
                              "( sport = :%d and dport = :%d )" % (port, local)],
                             capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"bytes_sent:(\d+)", out)
        check(m, "ss shows no server socket for port %d -> %d:\n%s" % (port, local, out))
        n = re.search(r"notsent:(\d+)", out)
        seen.append((int(m.group(1)), int(n.group(1)) if n else 0))
        if last is not None and seen[-1] == last and seen[-1][1]:
            break
        last = seen[-1]
    s.close()
    return seen[-1][1], seen


def test(argv):
    loom = argv[0]
    tmp = make_tmp("lowat")
    try:
        site = os.path.join(tmp, "site")
        os.makedirs(site)
        with open(os.path.join(site, "huge.bin"), "wb") as f:
            f.truncate(256 * 1024 * 1024)  # sparse: no disk
        for extra in ((), ("--tcp-notsent-lowat", "0")):
            with Server(loom, site=site, tmp=tmp, extra=extra, workers=1) as srv:
                for tls in (False, True):
                    port = srv.https_port if tls else srv.http_port
                    s = socket.create_connection(("127.0.0.1", port))
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                    n, seen = unsent(port, s, tls)
                    what = "%s, %s: %d octets unsent in the server's socket (bytes_sent, " \
                           "notsent: %s)" % (" ".join(extra) or "default", "TLS" if tls
                                             else "h2c", n, seen[-4:])
                    print(what)
                    if extra:  # the kernel's own: as much as its send buffer holds
                        check(n > 1024 * 1024, what + ", wanted more than 1 MiB")
                    else:  # 16k, and what one write adds past it (a batch of records)
                        check(n <= 256 * 1024, what + ", wanted at most 256 KiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
