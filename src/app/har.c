/* loom get --har: HAR 1.2 (the format browsers' developer tools open),
 * written with jansson. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "get.h"
#include "loom/loom.h"

static json_t *headers(const get_hdr *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", h[i].name, "value", h[i].value));
    return a;
}

static double ms(double a, double b)
{
    return a >= 0 && b >= 0 && b >= a ? (b - a) * 1000 : -1;
}

int get_har(const char *path, const get_req_rec *r, size_t nr, double start_epoch)
{
    json_t *entries = json_array();
    for (size_t i = 0; i < nr; i++) {
        const get_req_rec *x = &r[i];
        double start = x->t_start >= 0 ? x->t_start : 0;
        time_t sec = (time_t)(start_epoch + start);
        struct tm tm;
        gmtime_r(&sec, &tm);
        char when[64], iso[40];
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
        double frac = fmod(start_epoch + start, 1.0);
        snprintf(when, sizeof(when), "%s.%03dZ", iso, (int)(frac * 1000));
        double wait = ms(x->t_start, x->t_headers), recv = ms(x->t_headers, x->t_end);
        double total = ms(x->t_start, x->t_end);
        json_t *e = json_pack(
            "{s:s, s:f, s:{s:s, s:s, s:s, s:o, s:[], s:[], s:i, s:i}, "
            "s:{s:i, s:s, s:s, s:o, s:[], s:{s:I, s:s}, s:s, s:i, s:I}, "
            "s:{}, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f}, s:s, s:s}",
            "startedDateTime", when, "time", total < 0 ? 0 : total, "request", "method", x->method,
            "url", x->url, "httpVersion", "HTTP/2", "headers", headers(x->req_hdrs, x->n_req_hdrs),
            "queryString", "cookies", "headersSize", (int)x->req_hpack, "bodySize", 0, "response",
            "status", x->status, "statusText", "", "httpVersion", "HTTP/2", "headers",
            headers(x->resp_hdrs, x->n_resp_hdrs), "cookies", "content", "size",
            (json_int_t)x->bytes, "mimeType", x->mime ? x->mime : "", "redirectURL", "",
            "headersSize", (int)x->resp_hpack, "bodySize", (json_int_t)x->bytes, "cache", "timings",
            "blocked", -1.0, "dns", x->t_dns >= 0 ? x->t_dns * 1000 : -1.0, "connect",
            x->t_connect >= 0 ? x->t_connect * 1000 : -1.0, "ssl",
            x->t_tls >= 0 ? x->t_tls * 1000 : -1.0, "send", 0.0, "wait", wait < 0 ? 0 : wait,
            "receive", recv < 0 ? 0 : recv, "serverIPAddress", x->server_ip ? x->server_ip : "",
            "connection", "0");
        if (!e) continue;
        char conn[16];
        snprintf(conn, sizeof(conn), "%d", x->conn);
        json_object_set_new(e, "connection", json_string(conn));
        json_object_set_new(e, "_pushed", json_boolean(x->pushed));
        json_object_set_new(e, "_stream_id", json_integer(x->sid));
        json_array_append_new(entries, e);
    }
    json_t *har = json_pack("{s:{s:s, s:{s:s, s:s}, s:o}}", "log", "version", "1.2", "creator",
                            "name", "loom", "version", LOOM_VERSION_STRING, "entries", entries);
    int rc = json_dump_file(har, path, JSON_INDENT(2)) == 0 ? 0 : -1;
    json_decref(har);
    return rc;
}
