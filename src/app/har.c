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
        if (x->pushed && !x->status) continue; /* refused or reset: no response came */
        double start = x->t_start >= 0 ? x->t_start : 0;
        if (x->t_dns >= 0) /* the first request on a connection began with its set-up */
            start -=
                x->t_dns + (x->t_connect > 0 ? x->t_connect : 0) + (x->t_tls > 0 ? x->t_tls : 0);
        if (start < 0) start = 0;
        time_t sec = (time_t)(start_epoch + start);
        struct tm tm;
        gmtime_r(&sec, &tm);
        char when[64], iso[40];
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
        double frac = fmod(start_epoch + start, 1.0);
        snprintf(when, sizeof(when), "%s.%03dZ", iso, (int)(frac * 1000));
        double wait = ms(x->t_start, x->t_headers), recv = ms(x->t_headers, x->t_end);
        /* HAR 1.2: connect includes ssl; time is the sum of the timings
         * that apply (-1: does not) */
        double dns = x->t_dns >= 0 ? x->t_dns * 1000 : -1.0;
        double ssl = x->t_tls >= 0 ? x->t_tls * 1000 : -1.0;
        double connect = x->t_connect >= 0 ? x->t_connect * 1000 + (ssl > 0 ? ssl : 0) : -1.0;
        if (wait < 0) wait = 0;
        if (recv < 0) recv = 0;
        double total = wait + recv + (dns > 0 ? dns : 0) + (connect > 0 ? connect : 0);
        json_t *e = json_pack(
            "{s:s, s:f, s:{s:s, s:s, s:s, s:o, s:[], s:[], s:i, s:i}, "
            "s:{s:i, s:s, s:s, s:o, s:[], s:{s:I, s:s}, s:s, s:i, s:I}, "
            "s:{}, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f}, s:s, s:s}",
            "startedDateTime", when, "time", total, "request", "method", x->method, "url", x->url,
            "httpVersion", "HTTP/2", "headers", headers(x->req_hdrs, x->n_req_hdrs), "queryString",
            "cookies", "headersSize", (int)x->req_hpack, "bodySize", 0, "response", "status",
            x->status, "statusText", "", "httpVersion", "HTTP/2", "headers",
            headers(x->resp_hdrs, x->n_resp_hdrs), "cookies", "content", "size",
            (json_int_t)x->bytes, "mimeType", x->mime ? x->mime : "", "redirectURL", "",
            "headersSize", (int)x->resp_hpack, "bodySize", (json_int_t)x->bytes, "cache", "timings",
            "blocked", -1.0, "dns", dns, "connect", connect, "ssl", ssl, "send", 0.0, "wait", wait,
            "receive", recv, "serverIPAddress", x->server_ip ? x->server_ip : "", "connection",
            "0");
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
