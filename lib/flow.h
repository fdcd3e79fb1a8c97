/* Internal: flow control (RFC 9113 §5.2, §6.9), both directions. The send
 * side: windows the peer grants, consumed by DATA we send. The receive
 * side: windows we grant, consumed by DATA the peer sends and given back
 * by WINDOW_UPDATE as data arrives (automatic) or as the application says
 * it consumed it (manual windows). Functions return loom_err values; the
 * caller decides what an error ends (stream or connection). */
#ifndef LOOM_LIB_FLOW_H
#define LOOM_LIB_FLOW_H

#include "stream.h"

struct loom_conn;

typedef struct {
    int64_t send_window; /* the connection window the peer granted */
    int64_t recv_window; /* the connection window we granted */
    uint32_t recv_unacked;
} flow_conn;

/* ---- sending ---- */

/* Octets of s's DATA that may go now: the least of both windows and max. */
size_t loom__flow_send_allowed(const struct loom_conn *c, const stream *s, size_t max);
void loom__flow_send_consume(struct loom_conn *c, stream *s, size_t n);
/* WINDOW_UPDATE received: LOOM_ERR_FLOW_CONTROL past 2^31-1 (§6.9.1). */
int loom__flow_send_credit_conn(struct loom_conn *c, uint32_t inc);
int loom__flow_send_credit(stream *s, uint32_t inc);
/* The peer's SETTINGS_INITIAL_WINDOW_SIZE changed by delta: every stream's
 * send window shifts (§6.9.2); LOOM_ERR_FLOW_CONTROL if one passes
 * 2^31-1 (nothing is changed then). */
int loom__flow_send_shift(struct loom_conn *c, int64_t delta);

/* ---- receiving ---- */

/* DATA of n octets (padding included) arrived: LOOM_ERR_FLOW_CONTROL when
 * it exceeds the connection window (a connection error) or the stream's
 * (a stream error); the windows shrink otherwise. */
int loom__flow_recv_conn(struct loom_conn *c, size_t n);
int loom__flow_recv_stream(stream *s, size_t n);
/* Gives back conn_n octets of the connection window and stream_n of s's
 * (s may be NULL): a WINDOW_UPDATE goes out once half a window is owed. */
void loom__flow_recv_credit(struct loom_conn *c, stream *s, size_t conn_n, size_t stream_n);
/* Our SETTINGS_INITIAL_WINDOW_SIZE changed by delta (when it binds). */
void loom__flow_recv_shift(struct loom_conn *c, int64_t delta);

#endif
