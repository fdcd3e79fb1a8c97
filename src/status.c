/* loom serve's status endpoint (see status.h). */
#include "status.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/loom.h"
#include "sbuf.h"

static uint64_t ld(_Atomic uint64_t *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

/* A counter summed over the workers; off: its place in the struct. */
static uint64_t sum_at(status_counters *const *w, int nw, size_t off)
{
    uint64_t s = 0;
    for (int i = 0; i < nw; i++)
        s += ld((_Atomic uint64_t *)((char *)w[i] + off));
    return s;
}

#define SUM(field)   sum_at(w, nw, offsetof(status_counters, field))
#define SUMI(arr, k) sum_at(w, nw, offsetof(status_counters, arr) + (size_t)(k) * sizeof(uint64_t))

/* One sample line: NAME{LABELS} VALUE. */
static void sample(sbuf *b, const char *name, uint64_t v)
{
    sb_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void metric(sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int status_metrics(status_counters *const *w, int nw, uint64_t uptime_s, size_t *len)
{
    sbuf b = {0};
    metric(&b, "loom_uptime_seconds", "gauge", "Seconds since loom serve started.");
    sample(&b, "loom_uptime_seconds", uptime_s);
    metric(&b, "loom_connections_accepted_total", "counter", "Connections accepted.");
    sample(&b, "loom_connections_accepted_total", SUM(accepted));
    metric(&b, "loom_connections_open", "gauge", "Connections open, by protocol.");
    sample(&b, "loom_connections_open{protocol=\"h2\"}", SUM(open_h2));
    sample(&b, "loom_connections_open{protocol=\"h2c\"}", SUM(open_h2c));
    sample(&b, "loom_connections_open{protocol=\"http/1.1\"}", SUM(open_h1));
    metric(&b, "loom_streams_open", "gauge", "Requests being answered.");
    sample(&b, "loom_streams_open", SUM(streams_open));
    metric(&b, "loom_requests_total", "counter", "Responses, by status class.");
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int k = 1; k < 6; k++)
        sb_printf(&b, "loom_requests_total{status=\"%s\"} %llu\n", cls[k],
                  (unsigned long long)SUMI(requests, k));
    metric(&b, "loom_response_body_bytes_total", "counter", "Response body octets.");
    sample(&b, "loom_response_body_bytes_total", SUM(body_bytes));
    metric(&b, "loom_response_header_bytes_total", "counter",
           "HTTP/2 response header octets: as HTTP/1.1 text would be, and as HPACK sent.");
    uint64_t raw = SUM(hdr_raw), wire = SUM(hdr_wire);
    sample(&b, "loom_response_header_bytes_total{form=\"text\"}", raw);
    sample(&b, "loom_response_header_bytes_total{form=\"hpack\"}", wire);
    metric(&b, "loom_hpack_bytes_saved_total", "counter",
           "Response header octets HPACK saved (text minus HPACK).");
    sample(&b, "loom_hpack_bytes_saved_total", (raw > wire ? raw - wire : 0));
    metric(&b, "loom_tls_handshakes_total", "counter", "TLS handshakes, by result.");
    sample(&b, "loom_tls_handshakes_total{result=\"ok\"}", SUM(tls_ok));
    sample(&b, "loom_tls_handshakes_total{result=\"failed\"}", SUM(tls_failed));
    metric(&b, "loom_goaway_sent_total", "counter",
           "Connections loom ended with a GOAWAY error, by error (ENHANCE_YOUR_CALM: a "
           "defence triggered).");
    for (uint32_t e = 1; e < STATUS_ERRS && strcmp(loom_h2_code_name(e), "UNKNOWN"); e++)
        sb_printf(&b, "loom_goaway_sent_total{error=\"%s\"} %llu\n", loom_h2_code_name(e),
                  (unsigned long long)SUMI(goaway, e));
    metric(&b, "loom_defence_total", "counter",
           "Connections ended or refused by a defence or a limit, by kind.");
    sample(&b, "loom_defence_total{kind=\"idle_timeout\"}", SUM(idle_closed));
    sample(&b, "loom_defence_total{kind=\"header_timeout\"}", SUM(head_timeouts));
    sample(&b, "loom_defence_total{kind=\"settings_timeout\"}", SUM(settings_timeouts));
    sample(&b, "loom_defence_total{kind=\"accept_paused_emfile\"}", SUM(accept_pauses));
    sample(&b, "loom_defence_total{kind=\"plain_http_on_tls\"}", SUM(plain_on_tls));
    metric(&b, "loom_worker_connections_open", "gauge", "Connections open, by worker.");
    for (int i = 0; i < nw; i++)
        sb_printf(
            &b, "loom_worker_connections_open{worker=\"%d\"} %llu\n", i,
            (unsigned long long)(ld(&w[i]->open_h2) + ld(&w[i]->open_h2c) + ld(&w[i]->open_h1)));
    metric(&b, "loom_worker_requests_total", "counter", "Responses, by worker.");
    for (int i = 0; i < nw; i++) {
        uint64_t n = 0;
        for (int k = 0; k < 6; k++)
            n += ld(&w[i]->requests[k]);
        sb_printf(&b, "loom_worker_requests_total{worker=\"%d\"} %llu\n", i, (unsigned long long)n);
    }
    *len = b.len;
    return sb_file(&b);
}

const char *status_page(void)
{
    return "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
           "<title>loom status</title>\n<style>\n"
           "body{font-family:system-ui,sans-serif;margin:1.5em;color:#223;background:#f7f7fb}\n"
           "h1{font-weight:600;margin:0 0 .5em}#big{display:flex;gap:2em;margin:1em 0}\n"
           ".n{font-size:2em;font-weight:600}.l{color:#667}svg{background:#fff;border:1px solid "
           "#ccd}\ntable{border-collapse:collapse;margin-top:1em}td{padding:.1em 1em .1em 0;"
           "font-family:monospace}\n</style></head>\n<body><h1>loom serve</h1>\n"
           "<div id=big><div><div class=n id=rps>&ndash;</div><div class=l>requests/s</div></div>"
           "<div><div class=n id=conns>&ndash;</div><div class=l>connections open</div></div>"
           "<div><div class=n id=streams>&ndash;</div><div class=l>streams open</div></div>"
           "<div><div class=n id=saved>&ndash;</div><div class=l>HPACK saved</div></div></div>\n"
           "<svg id=chart width=760 height=240 viewBox=\"0 0 760 240\" role=img "
           "aria-label=\"requests per second, last five minutes\">\n"
           "<text x=380 y=16 text-anchor=middle font-size=13>requests per second, last five "
           "minutes</text>\n<line x1=60 y1=210 x2=740 y2=210 stroke=#99a />\n"
           "<line x1=60 y1=30 x2=60 y2=210 stroke=#99a />\n"
           "<text x=400 y=234 text-anchor=middle font-size=12>seconds ago (300 &rarr; 0)</text>\n"
           "<text id=ymax x=54 y=34 text-anchor=end font-size=12>0</text>\n"
           "<text x=54 y=214 text-anchor=end font-size=12>0</text>\n"
           "<polyline id=line fill=none stroke=#3157d5 stroke-width=2 points=\"\" />\n</svg>\n"
           "<table id=m></table>\n<script>\n"
           "const url = location.pathname.replace(/\\/$/, '') + '/metrics';\n"
           "const hist = []; let last = null;\n"
           "function parse(t) { const m = {}; for (const l of t.split('\\n')) {\n"
           "  if (!l || l[0] === '#') continue; const i = l.lastIndexOf(' ');\n"
           "  m[l.slice(0, i)] = Number(l.slice(i + 1)); } return m; }\n"
           "function sum(m, p) { let s = 0; for (const k in m) if (k.startsWith(p)) s += m[k]; "
           "return s; }\n"
           "function draw() { const max = Math.max(1, ...hist.map(h => h.v));\n"
           "  document.getElementById('ymax').textContent = Math.round(max);\n"
           "  document.getElementById('line').setAttribute('points', hist.map(h =>\n"
           "    (740 - (Date.now() - h.t) / 300000 * 680).toFixed(1) + ',' +\n"
           "    (210 - h.v / max * 180).toFixed(1)).join(' ')); }\n"
           "async function tick() { try { const r = await fetch(url, {cache: 'no-store'});\n"
           "  const m = parse(await r.text()); const now = Date.now();\n"
           "  const req = sum(m, 'loom_requests_total');\n"
           "  if (last) { const v = (req - last.req) / ((now - last.t) / 1000);\n"
           "    hist.push({t: now, v: v}); document.getElementById('rps').textContent = "
           "v.toFixed(0); }\n"
           "  last = {t: now, req: req};\n"
           "  while (hist.length && now - hist[0].t > 300000) hist.shift();\n"
           "  document.getElementById('conns').textContent = sum(m, 'loom_connections_open');\n"
           "  document.getElementById('streams').textContent = sum(m, 'loom_streams_open');\n"
           "  document.getElementById('saved').textContent =\n"
           "    (m['loom_hpack_bytes_saved_total'] / 1024).toFixed(1) + ' KiB';\n"
           "  const t = document.getElementById('m'); t.innerHTML = '';\n"
           "  for (const k in m) { const tr = t.insertRow(); tr.insertCell().textContent = k;\n"
           "    tr.insertCell().textContent = m[k]; }\n"
           "  document.body.dataset.metrics = Object.keys(m).length; draw();\n"
           "} catch (e) { document.body.dataset.error = String(e); } }\n"
           "tick(); setInterval(tick, 1000);\n</script></body></html>\n";
}

/* "ADDR" or "ADDR/BITS" against ip. */
static int in_net(const uint8_t *ip, int v6, const char *net)
{
    char a[64];
    const char *slash = strchr(net, '/');
    size_t al = slash ? (size_t)(slash - net) : strlen(net);
    if (al >= sizeof(a)) return 0;
    memcpy(a, net, al);
    a[al] = 0;
    uint8_t want[16];
    int fam = strchr(a, ':') ? 6 : 4;
    if (inet_pton(fam == 6 ? AF_INET6 : AF_INET, a, want) != 1) return 0;
    int len = fam == 6 ? 16 : 4;
    uint8_t mapped[16];
    if (v6 && fam == 4) { /* an IPv4-mapped client on a dual-stack socket */
        static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(ip, pre, 12)) return 0;
        memcpy(mapped, ip + 12, 4);
        ip = mapped;
    } else if ((fam == 6) != (v6 != 0)) {
        return 0;
    }
    int bits = slash ? atoi(slash + 1) : len * 8;
    if (bits < 0 || bits > len * 8) return 0;
    for (int i = 0; i < len && bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((ip[i] & mask) != (want[i] & mask)) return 0;
    }
    return 1;
}

int status_allowed(const uint8_t *ip, int v6, const char *const *allow, size_t n)
{
    static const char *const loopback[] = {"127.0.0.0/8", "::1"};
    if (!n) {
        allow = loopback;
        n = 2;
    }
    for (size_t i = 0; i < n; i++)
        if (in_net(ip, v6, allow[i])) return 1;
    return 0;
}
