/* loom get --timeline: the connection as an SVG picture. One lane per
 * stream (per connection), time left to right from the first connection's
 * start, a mark per frame coloured by type; a request's life (sent →
 * headers → last data) as a bar under its marks; each connection's name
 * lookup, connect and TLS handshake as bars on its lane (what comes
 * before the first frame). Multiplexing shows as lanes overlapping in
 * time; push as lanes that start from a PUSH_PROMISE on another lane. */
#include <stdio.h>
#include <string.h>

#include "get.h"
#include "loom/loom.h"

static const char *colour(uint8_t type)
{
    switch (type) {
    case LOOM_FRAME_DATA: return "#2e9d4f";
    case LOOM_FRAME_HEADERS: return "#2563eb";
    case LOOM_FRAME_CONTINUATION: return "#60a5fa";
    case LOOM_FRAME_PUSH_PROMISE: return "#f59e0b";
    case LOOM_FRAME_RST_STREAM: return "#dc2626";
    case LOOM_FRAME_WINDOW_UPDATE: return "#9ca3af";
    case LOOM_FRAME_SETTINGS: return "#7c3aed";
    case LOOM_FRAME_PING: return "#a855f7";
    case LOOM_FRAME_GOAWAY: return "#111827";
    case LOOM_FRAME_PRIORITY:
    case LOOM_FRAME_PRIORITY_UPDATE: return "#db2777";
    default: return "#6b7280";
    }
}

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* A phase bar on connection lane y: [t0, t0 + d) in seconds. */
static void phase(FILE *f, double x0, double scale, double origin, int y, double t0, double d,
                  const char *name, const char *fill)
{
    if (d < 0) return;
    fprintf(f,
            "<rect class=\"phase\" data-phase=\"%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
            "height=\"9\" fill=\"%s\"><title>%s: %.3f ms</title></rect>\n",
            name, x0 + scale * (t0 - origin), y + 1, scale * d + 0.5, fill, name, d * 1000);
}

int get_timeline_svg(const char *path, const get_frame_rec *fr, size_t nf, const get_req_rec *r,
                     size_t nr, const get_conn_rec *cr, size_t nc, double total)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    /* the axis starts when the first connection did */
    double origin = -1;
    for (size_t i = 0; i < nc; i++)
        if (cr[i].t_begin >= 0 && (origin < 0 || cr[i].t_begin < origin)) origin = cr[i].t_begin;
    if (origin < 0) origin = 0;
    /* lanes: connection-level (stream 0) per connection, then requests */
    int conns = 0;
    for (size_t i = 0; i < nr; i++)
        if (r[i].conn + 1 > conns) conns = r[i].conn + 1;
    for (size_t i = 0; i < nf; i++)
        if (fr[i].conn + 1 > conns) conns = fr[i].conn + 1;
    if (conns == 0) conns = 1;
    const int lane = 14, left = 330, width = 900, top = 40;
    int lanes = conns + (int)nr;
    int height = top + lanes * lane + 80;
    double span = total - origin > 0 ? total - origin : 1;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"10\">\n",
            left + width + 20, height);
    fprintf(f, "<title>loom get: %zu streams, %zu frames, %.3f s</title>\n", nr, nf, total);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f,
            "<text x=\"10\" y=\"20\" font-size=\"13\">HTTP/2 timeline: %zu streams over %d "
            "connection%s, %.1f ms</text>\n",
            nr, conns, conns == 1 ? "" : "s", span * 1000);
    /* time axis */
    for (int t = 0; t <= 10; t++) {
        double x = left + width * t / 10.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>\n", x,
                top - 5, x, top + lanes * lane);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f ms</text>\n", x,
                top + lanes * lane + 12, span * 1000 * t / 10);
    }
    for (int c = 0; c < conns; c++) {
        fprintf(f, "<text x=\"10\" y=\"%d\" font-weight=\"bold\">connection %d (stream 0)</text>\n",
                top + c * lane + 10, c);
        if ((size_t)c >= nc || cr[c].t_begin < 0) continue;
        /* what came before its first frame: DNS, connect, TLS */
        double t = cr[c].t_begin;
        phase(f, left, width / span, origin, top + c * lane, t, cr[c].dns, "dns", "#fde68a");
        t += cr[c].dns > 0 ? cr[c].dns : 0;
        phase(f, left, width / span, origin, top + c * lane, t, cr[c].connect, "connect",
              "#fdba74");
        t += cr[c].connect > 0 ? cr[c].connect : 0;
        phase(f, left, width / span, origin, top + c * lane, t, cr[c].tls, "tls", "#c4b5fd");
    }
    for (size_t i = 0; i < nr; i++) {
        int y = top + (conns + (int)i) * lane;
        fprintf(f, "<g class=\"stream\" data-stream=\"%d\" data-conn=\"%d\">", (int)r[i].sid,
                r[i].conn);
        fprintf(f, "<text x=\"10\" y=\"%d\">#%d %s%s ", y + 10, (int)r[i].sid,
                r[i].pushed ? "push " : "", r[i].method);
        char u[60];
        snprintf(u, sizeof(u), "%s", r[i].url);
        esc(f, u);
        fprintf(f, " %d</text>", r[i].status);
        if (r[i].t_start >= 0) {
            double end = r[i].t_end >= 0 ? r[i].t_end : total;
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"3\" fill=\"%s\" "
                    "opacity=\"0.5\"/>",
                    left + width * (r[i].t_start - origin) / span, y + 9,
                    width * (end - r[i].t_start) / span + 0.5, r[i].pushed ? "#f59e0b" : "#94a3b8");
        }
        fprintf(f, "</g>\n");
    }
    for (size_t i = 0; i < nf; i++) {
        int row = -1;
        if (fr[i].sid == 0) row = fr[i].conn;
        for (size_t k = 0; row < 0 && k < nr; k++)
            if (r[k].sid == fr[i].sid && r[k].conn == fr[i].conn) row = conns + (int)k;
        if (row < 0) continue;
        double x = left + width * (fr[i].t - origin) / span;
        int y = top + row * lane + (fr[i].sent ? 1 : 5);
        fprintf(
            f,
            "<rect class=\"frame\" data-type=\"%s\" x=\"%.1f\" y=\"%d\" width=\"2\" height=\"7\" "
            "fill=\"%s\"><title>%s %s stream %d, %u octets, %.3f ms</title></rect>\n",
            loom_frame_type_name(fr[i].type), x, y, colour(fr[i].type),
            fr[i].sent ? "sent" : "received", loom_frame_type_name(fr[i].type), (int)fr[i].sid,
            (unsigned)fr[i].len, (fr[i].t - origin) * 1000);
    }
    /* legend */
    static const uint8_t types[] = {LOOM_FRAME_HEADERS,         LOOM_FRAME_DATA,
                                    LOOM_FRAME_PUSH_PROMISE,    LOOM_FRAME_RST_STREAM,
                                    LOOM_FRAME_WINDOW_UPDATE,   LOOM_FRAME_SETTINGS,
                                    LOOM_FRAME_PRIORITY_UPDATE, LOOM_FRAME_GOAWAY};
    int ly = top + lanes * lane + 30;
    for (size_t t = 0; t < sizeof(types); t++) {
        int x = 10 + (int)t * 130;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>", x, ly,
                colour(types[t]));
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 14, ly + 9,
                loom_frame_type_name(types[t]));
    }
    static const char *const phases[][2] = {
        {"DNS", "#fde68a"}, {"connect", "#fdba74"}, {"TLS handshake", "#c4b5fd"}};
    for (int t = 0; t < 3; t++) {
        int x = 10 + t * 130;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>", x, ly + 16,
                phases[t][1]);
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 14, ly + 25, phases[t][0]);
    }
    fprintf(f,
            "<text x=\"10\" y=\"%d\" fill=\"#555\">time from the first connection's start; upper "
            "marks: sent, lower marks: received; thin bars: request to last octet</text>\n",
            ly + 42);
    fprintf(f, "</svg>\n");
    return fclose(f);
}
