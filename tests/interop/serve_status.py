"""loom serve's status endpoint (--status PATH):

- PATH/metrics is Prometheus text, read with the prometheus_client parser
  (python3-prometheus-client): after known traffic (h2 over TLS, h2c,
  HTTP/1.1, a 404) the counters moved by exactly that; a connection held
  open shows in the open-connections gauge and leaves it when closed; a
  protocol error shows as a GOAWAY by error, plain HTTP on the TLS port as
  a defence; HPACK's saved octets are counted;
- --status-allow: a client outside the list gets 403;
- PATH is a live HTML page: headless Chromium loads it, its script reads
  the metrics (the DOM says how many) and draws the chart; a screenshot is
  kept (LOOM_STATUS_SCREENSHOT, else ./serve_status.png).

Every process started here and stopped by PID."""
import os
import re
import shutil
import socket
import time

from prometheus_client.parser import text_string_to_metric_families

from serve_chromium import check_png, chromium, find_chromium
from serve_common import Server, check, main, make_site, make_tmp, read_to_end, run


def metrics(s):
    # over HTTP/1.1: the h2c gauge then counts only the connections the test holds
    p = run(["curl", "-s", "--http1.1", s.http + "/loom-status/metrics"],
            timeout=20)
    fams = list(text_string_to_metric_families(p.stdout.decode()))
    out = {}
    for f in fams:
        for smp in f.samples:
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out, {f.name for f in fams}


def val(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))), 0)


def code(url, *args):
    return run(["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}"] + list(args) + [url],
               timeout=20).stdout.decode()


def counters(loom, site):
    with Server(loom, site=site, extra=["--status", "/loom-status"], workers=2) as s:
        m0, names = metrics(s)
        for n in ("loom_connections_open", "loom_requests", "loom_tls_handshakes",
                  "loom_hpack_bytes_saved", "loom_goaway_sent", "loom_defence",
                  "loom_worker_requests", "loom_streams_open"):
            check(n in names, "metric family %s (have %r)" % (n, sorted(names)))
        for _ in range(3):
            check(code(s.https + "/a.txt", "--http2") == "200", "h2")
        for _ in range(2):
            check(code(s.http + "/a.txt", "--http2-prior-knowledge") == "200", "h2c")
            check(code(s.http + "/a.txt", "--http1.1") == "200", "http/1.1")
        check(code(s.http + "/missing", "--http2-prior-knowledge") == "404", "404")
        m1, _ = metrics(s)
        # the first metrics request counted too (as a 2xx) by the time of the second
        d2 = val(m1, "loom_requests_total", status="2xx") - val(m0, "loom_requests_total",
                                                                status="2xx")
        d4 = val(m1, "loom_requests_total", status="4xx") - val(m0, "loom_requests_total",
                                                                status="4xx")
        check(d2 == 8 and d4 == 1, "requests counted: 2xx +%d (wanted 7 + 1 metrics), 4xx +%d" %
              (d2, d4))
        check(val(m1, "loom_tls_handshakes_total", result="ok") == 3, "3 handshakes: %r" %
              val(m1, "loom_tls_handshakes_total", result="ok"))
        check(val(m1, "loom_hpack_bytes_saved_total") > 0, "HPACK saved octets counted")
        check(sum(v for (n, _), v in m1.items() if n == "loom_worker_requests_total") ==
              sum(v for (n, _), v in m1.items() if n == "loom_requests_total"),
              "per-worker requests add up to the total")
        # a connection held open is in the gauge, and leaves it
        c = socket.create_connection(("127.0.0.1", s.http_port), timeout=5)
        c.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        c.recv(100)
        m2, _ = metrics(s)
        check(val(m2, "loom_connections_open", protocol="h2c") == 1,
              "one h2c connection open: %r" % val(m2, "loom_connections_open", protocol="h2c"))
        # DATA on stream 0: a protocol error, answered with GOAWAY
        c.sendall(bytes([0, 0, 1, 0, 0, 0, 0, 0, 0]) + b"x")
        read_to_end(c)
        t = socket.create_connection(("127.0.0.1", s.https_port), timeout=5)
        t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_to_end(t)
        end = time.monotonic() + 5
        while True:
            m3, _ = metrics(s)
            if val(m3, "loom_connections_open", protocol="h2c") == 0 or time.monotonic() > end:
                break
            time.sleep(0.05)
        check(val(m3, "loom_connections_open", protocol="h2c") == 0, "the closed one left")
        check(val(m3, "loom_goaway_sent_total", error="PROTOCOL_ERROR") == 1,
              "the protocol error counted: %r" % {k: v for k, v in m3.items()
                                                  if k[0] == "loom_goaway_sent_total"})
        check(val(m3, "loom_defence_total", kind="plain_http_on_tls") == 1,
              "plain HTTP on the TLS port counted")
    print("metrics: parsed by prometheus_client; requests, handshakes, gauges, GOAWAYs, "
          "defences as the traffic made them")
    with Server(loom, site=site, extra=["--status", "/loom-status", "--status-allow",
                                        "10.0.0.0/8"]) as s:
        check(code(s.http + "/loom-status/metrics", "--http2-prior-knowledge") == "403",
              "a client not listed gets 403")
        check(code(s.http + "/a.txt", "--http2-prior-knowledge") == "200", "files still served")
    print("--status-allow 10.0.0.0/8: loopback gets 403")


def page(loom, site, tmp):
    exe = find_chromium()
    shot = os.path.abspath(os.environ.get("LOOM_STATUS_SCREENSHOT", "serve_status.png"))
    with Server(loom, site=site, extra=["--status", "/loom-status"]) as s:
        for _ in range(20):
            code(s.https + "/a.txt", "--http2")
        dom, _ = chromium(exe, tmp, s.https + "/loom-status",
                          ["--virtual-time-budget=4000", "--dump-dom"], "status page DOM")
        m = re.search(r'data-metrics="(\d+)"', dom)
        check(m and int(m.group(1)) > 20, "the page read the metrics: %r" % dom[-1500:])
        check('id="line"' in dom and re.search(r'id="line"[^>]*points="[0-9. ,]+"', dom),
              "the chart has points: %r" % re.findall(r"<polyline[^>]*>", dom))
        check(re.search(r'id="conns">\d+<', dom), "connections shown")
        if os.path.exists(shot):
            os.remove(shot)
        chromium(exe, tmp, s.https + "/loom-status",
                 ["--virtual-time-budget=4000", "--window-size=1024,768",
                  "--screenshot=" + shot], "status page screenshot")
        size = check_png(shot, "status page screenshot")
    print("page: Chromium ran its script (metrics read, chart drawn); screenshot %s (%d B)" %
          (shot, size))


def test(argv):
    loom = argv[0]
    tmp = make_tmp("status")
    try:
        site = make_site(tmp)
        counters(loom, site)
        page(loom, site, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
