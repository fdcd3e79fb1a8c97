/* loom serve's status endpoint (--status PATH): Prometheus text metrics at
 * PATH/metrics and a live HTML page at PATH, from counters each worker
 * keeps for itself (single writer, read by any worker: relaxed atomics,
 * no lock, no shared cache line written on the request path). */
#ifndef LOOM_SRC_STATUS_H
#define LOOM_SRC_STATUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_ERRS 16 /* GOAWAYs we sent, by RFC 9113 §7 error code */

typedef struct {
    _Atomic uint64_t accepted;                   /* connections */
    _Atomic uint64_t open_h2, open_h2c, open_h1; /* connections open now, by protocol */
    _Atomic uint64_t closed;                     /* connections closed */
    _Atomic uint64_t streams_open;               /* requests in flight */
    _Atomic uint64_t requests[6];                /* by status class: [2] is 2xx... [0] unknown */
    _Atomic uint64_t body_bytes;                 /* response body octets */
    _Atomic uint64_t hdr_raw, hdr_wire;   /* response header octets: as text, as HPACK sent */
    _Atomic uint64_t tls_ok, tls_failed;  /* handshakes */
    _Atomic uint64_t goaway[STATUS_ERRS]; /* connections we ended, by error code */
    _Atomic uint64_t idle_closed, head_timeouts, settings_timeouts, accept_pauses;
    _Atomic uint64_t plain_on_tls; /* plain HTTP sent to a TLS port */
} status_counters;

/* single writer: a relaxed load and store (a plain add on x86), not a
 * locked read-modify-write */
#define STATUS_ADD(c, field, n)                                                                    \
    atomic_store_explicit(&(c)->field,                                                             \
                          atomic_load_explicit(&(c)->field, memory_order_relaxed) + (uint64_t)(n), \
                          memory_order_relaxed)
#define STATUS_SUB(c, field, n)                                                                    \
    atomic_store_explicit(&(c)->field,                                                             \
                          atomic_load_explicit(&(c)->field, memory_order_relaxed) - (uint64_t)(n), \
                          memory_order_relaxed)

/* The metrics of nw workers' counters in Prometheus text format (0.0.4),
 * as a body file (sbuf.h) of *len octets; -1: no memory. */
int status_metrics(status_counters *const *w, int nw, uint64_t uptime_s, size_t *len);

/* The HTML page: it polls its own path + "/metrics" every second and draws
 * requests per second over the last five minutes. */
const char *status_page(void);

/* Whether an address (4 octets IPv4, or 16 IPv6) is in the list of
 * "ADDR[/BITS]" entries; loopback when the list is empty. */
int status_allowed(const uint8_t *ip, int v6, const char *const *allow, size_t n);

#endif
