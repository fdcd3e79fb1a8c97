/* loom get: the client. */
#ifndef LOOM_APP_GET_H
#define LOOM_APP_GET_H

#include <stddef.h>
#include <stdint.h>

int get_main(int argc, char **argv);

/* What the pictures need: every frame, and every request. */
typedef struct {
    double t;
    int32_t sid;
    uint8_t type, flags, sent;
    uint32_t len;
    int conn;
} get_frame_rec;

typedef struct {
    const char *name, *value;
} get_hdr;

typedef struct {
    const char *url, *method;
    int32_t sid;
    int conn, pushed, status;
    const char *mime;
    double t_start, t_headers, t_end; /* seconds since start, -1 when not reached */
    double t_dns, t_connect, t_tls;   /* of its connection, for the first request on it */
    uint64_t bytes;
    size_t req_hpack, resp_hpack, req_h1, resp_h1;
    get_hdr *req_hdrs, *resp_hdrs;
    size_t n_req_hdrs, n_resp_hdrs;
    const char *server_ip;
    uint32_t error_code;
} get_req_rec;

/* A connection's start (seconds since loom get started) and how long its
 * phases took (seconds; -1: not reached, or none, as DNS for an address
 * given or TLS over cleartext). */
typedef struct {
    const char *host;
    double t_begin, dns, connect, tls;
} get_conn_rec;

/* timeline.c */
int get_timeline_svg(const char *path, const get_frame_rec *f, size_t nf, const get_req_rec *r,
                     size_t nr, const get_conn_rec *c, size_t nc, double total);
/* har.c */
int get_har(const char *path, const get_req_rec *r, size_t nr, double start_epoch);

#endif
