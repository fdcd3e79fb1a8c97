/* loom connection engine: one HTTP/2 connection (RFC 9113) as a state
 * machine with no I/O. Bytes from the peer go in with loom_conn_recv() and
 * come out as events; submissions (requests, responses, pushes, resets) go
 * in as calls and come out as bytes from loom_conn_send(). */
#ifndef LOOM_CONN_H
#define LOOM_CONN_H

#include "common.h"
#include "frame.h"
#include "hpack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_conn loom_conn;

typedef enum { LOOM_CLIENT = 0, LOOM_SERVER = 1 } loom_role;

/* The engine's configuration. It grows at its end from release to release
 * without breaking programs built against an older one: `size` says which
 * layout the caller was compiled with (loom_config_default() sets it), the
 * library takes the fields that layout has and defaults the rest, and
 * refuses (loom_conn_new() returns NULL, loom_config_check() says
 * LOOM_ERR_VERSION) a layout smaller than the first versioned one or a
 * larger one that sets fields it does not know. */
typedef struct {
    uint32_t size; /* sizeof(loom_config) as the caller knows it */

    /* Our SETTINGS (RFC 9113 §6.5.2), sent in the preface. */
    uint32_t header_table_size;      /* 4096 */
    uint32_t enable_push;            /* client: 1 accepts pushes; server: not sent */
    uint32_t max_concurrent_streams; /* 100: more peer streams are refused */
    uint32_t initial_window_size;    /* per-stream receive window; 1 MiB */
    uint32_t max_frame_size;         /* 16384 */
    uint32_t max_header_list_size;   /* 65536 */
    uint32_t connection_window;      /* connection receive window; 16 MiB */
    uint8_t no_rfc7540_priorities;   /* RFC 9218 §2.1; 1 */
    uint8_t enable_connect_protocol; /* RFC 8441 §3; 0 */

    /* Receive windows are refilled as data arrives (0), or only as the
     * application reports it consumed with loom_consumed() (1). */
    uint8_t manual_window;

    /* Defences (RFC 9113 §10.5; docs/security.md). Exceeding one ends the
     * connection with GOAWAY ENHANCE_YOUR_CALM. Rates are counted per
     * window_ms. */
    uint32_t window_ms; /* 1000 */
    /* Streams reset by the peer (Rapid Reset), streams we reset for the
     * peer's errors (MadeYouReset: malformed requests, bad WINDOW_UPDATEs,
     * DATA on closed streams) and streams refused share one token bucket:
     * reset_burst tokens, reset_rate back per second (see below). 1000 */
    uint32_t reset_burst;
    uint32_t max_pings;           /* PING frames per window: 100 */
    uint32_t max_settings;        /* SETTINGS frames per window: 100 */
    uint32_t max_empty_frames;    /* empty DATA / HEADERS-less frames, and WINDOW_UPDATEs under
                                     1024 to a shut window, per window: 200 */
    uint32_t max_priority_frames; /* PRIORITY / PRIORITY_UPDATE per window: 1000 */
    uint32_t max_continuations;   /* CONTINUATION frames in one field block: 32 */
    uint32_t max_header_block;    /* octets of one field block: 2 * max_header_list_size */
    uint32_t max_control_queue;   /* outbound control frames waiting for the peer: 1000 */
    uint32_t max_closed_streams;  /* recently closed streams remembered: 128 */
    uint32_t max_send_buffer;     /* octets of outbound frames held: 1 MiB */

    /* Milliseconds on a monotonic clock; NULL uses CLOCK_MONOTONIC. */
    uint64_t (*now_ms)(void *user);
    const loom_mem *mem;

    /* ---- added after the first layout (0.2): a caller built before
     * them gets these defaults. New fields go at the end, and the end
     * stays 8-aligned (pad explicitly) so that each addition makes
     * sizeof(loom_config) grow. ---- */

    /* No LOOM_EV_FRAME events (for a runtime that does not trace: one
     * callback less per frame). 0 */
    uint8_t no_frame_events;
    /* Server: keep reading a request after its response is complete (1),
     * or reset it with NO_ERROR then, so an unwanted body stops (0;
     * RFC 9113 §8.1). 0 */
    uint8_t read_after_response;
    /* The reset bucket's refill, tokens per second (reset_burst above). 33 */
    uint32_t reset_rate;
    /* 1: connections keep a pointer to this configuration instead of a
     * copy (about 100 octets less each); it must then stay valid and
     * unchanged while they live. 0 */
    uint8_t shared;
    uint8_t reserved_[7];
} loom_config;

/* Safe defaults for a role, for a structure of `size` octets (the caller's
 * sizeof). Returns 0 or LOOM_ERR_VERSION. Use loom_config_default(). */
LOOM_API int loom_config_init(loom_config *cfg, size_t size, loom_role role);
#define loom_config_default(cfg, role) ((void)loom_config_init((cfg), sizeof(*(cfg)), (role)))

/* Whether loom_conn_new() would take cfg: 0, LOOM_ERR_VERSION (a layout it
 * cannot take) or LOOM_ERR_INVALID (a value out of range). */
LOOM_API int loom_config_check(const loom_config *cfg, loom_role role);

/* ---- events ---- */

typedef enum {
    LOOM_EV_HEADERS = 1,   /* a request, a response, or a 1xx informational response */
    LOOM_EV_DATA,          /* body octets, in place (valid during the callback) */
    LOOM_EV_TRAILERS,      /* trailing fields; end of the message */
    LOOM_EV_PUSH_PROMISE,  /* client: a promised request; loom_reset() refuses it */
    LOOM_EV_STREAM_CLOSED, /* the stream is done; error_code 0 when it ended well */
    LOOM_EV_GOAWAY,        /* the peer is going away */
    LOOM_EV_PING_ACK,      /* our PING came back */
    LOOM_EV_SETTINGS,      /* the peer's SETTINGS, applied */
    LOOM_EV_SETTINGS_ACK,  /* the peer acknowledged ours */
    LOOM_EV_ORIGIN,        /* client: an ORIGIN frame (RFC 8336) */
    LOOM_EV_PRIORITY,      /* server: a stream's RFC 9218 priority changed */
    LOOM_EV_FRAME,         /* every frame received (dir 0) or sent (dir 1), for tracing */
    LOOM_EV_ERROR,         /* a connection error: GOAWAY is queued, nothing more is read */
} loom_event_type;

/* An event's pointers (fields and their strings, data, debug, settings)
 * are valid during the callback only: they point into the octets given to
 * loom_conn_recv() or into the connection's own memory, both reused
 * afterwards. Copy what must outlive the callback. */
typedef struct {
    loom_event_type type;
    int32_t stream_id;
    /* HEADERS, TRAILERS, DATA, STREAM_CLOSED, PRIORITY: the stream's user
     * pointer (loom_stream_set_user), so the runtime needs no lookup; NULL
     * otherwise. */
    void *stream_user;
    union {
        struct {
            const loom_hpack_field *fields;
            size_t n;
            int end_stream;
            int status;      /* responses: the :status value, else 0 */
            size_t wire_len; /* octets of the field block on the wire (HPACK) */
        } headers;           /* LOOM_EV_HEADERS and LOOM_EV_TRAILERS */
        struct {
            const uint8_t *data;
            size_t len;
            int end_stream;
        } data;
        struct {
            int32_t promised_id;
            const loom_hpack_field *fields; /* the promised request */
            size_t n;
        } push; /* LOOM_EV_PUSH_PROMISE (stream_id is the associated stream) */
        struct {
            uint32_t error_code; /* RFC 9113 §7 */
            int by_peer;         /* the peer reset it */
            int retry_safe; /* never processed by the peer (REFUSED_STREAM, or above GOAWAY's last
                               id) */
        } closed;
        struct {
            uint32_t last_stream_id;
            uint32_t error_code;
            const uint8_t *debug;
            size_t debug_len;
        } goaway;
        struct {
            uint64_t rtt_us;
            uint8_t opaque[8];
        } ping;
        struct {
            const loom_setting *list;
            size_t n;
        } settings;
        struct {
            const uint8_t *entries; /* loom_frame_origin_next() style list */
            size_t len;
        } origin;
        struct {
            uint8_t urgency; /* 0..7 */
            uint8_t incremental;
        } priority;
        struct {
            int sent;
            const loom_frame *frame;
        } frame;
        struct {
            int err;
            const char *reason;
        } error;
    } u;
} loom_event;

/* The application's one callback. Return 0 to go on. A non-zero value is
 * the application's own code, not a loom_err (use positive values to keep
 * them apart): loom_conn_recv() stops at once and returns it unchanged,
 * with the rest of its input unread, so the connection cannot go on and
 * should be closed (send what loom_conn_send() still has first, if you
 * like). The engine never returns a positive value of its own. */
typedef int (*loom_on_event)(loom_conn *c, const loom_event *ev, void *user);

/* ---- bodies: pull sources ---- */

/* An outbound body. The engine asks for at most what the flow-control
 * windows allow. Exactly one way of giving data is used:
 *  - data/len: a memory buffer that outlives the stream;
 *  - fd/offset/length: a file range, handed to the runtime as such
 *    (loom_out.fd) so it can use sendfile(); the engine never reads it;
 *  - read: a callback that copies up to max octets into buf and returns the
 *    count, sets *eof at the end; LOOM_BODY_DEFER says "nothing now" (call
 *    loom_resume() when there is), a negative loom_err resets the stream. */
#define LOOM_BODY_DEFER (-1000)
typedef struct {
    const uint8_t *data;
    size_t len;
    int fd; /* -1 when unused */
    uint64_t offset, length;
    long (*read)(void *user, int32_t stream_id, uint8_t *buf, size_t max, int *eof);
    void *user;
    /* fields sent after the body (trailers), or NULL */
    const loom_hpack_field *trailers;
    size_t n_trailers;
} loom_body;

/* What to write next: memory, or (fd >= 0) len octets of a file at off. */
typedef struct {
    const uint8_t *base;
    size_t len;
    int fd;
    uint64_t off;
} loom_out;

/* ---- the connection ---- */

LOOM_API loom_conn *loom_conn_new(loom_role role, const loom_config *cfg, loom_on_event on_event,
                                  void *user);
/* Frees the connection. Streams still open are reported closed first
 * (LOOM_EV_STREAM_CLOSED with CANCEL), so their resources can be released. */
LOOM_API void loom_conn_free(loom_conn *c);
/* Gives back what a connection needs only while it works (its output and
 * input buffers, the decoded-field list, spare stream records) when it has
 * nothing in flight: no stream open, nothing left to send, no partial
 * frame or field block. Its state stays (HPACK tables, settings, windows,
 * the streams it remembers), and what was freed is made again on use. For
 * a runtime to call when a connection goes quiet, not from a callback;
 * with an allocator that keeps freed blocks (loom_config.mem), doing so
 * each time costs no malloc. Returns 1 when it shrank, 0 when busy. */
LOOM_API int loom_conn_shrink(loom_conn *c);

/* Feeds received octets. Returns 0, or a negative loom_err after a
 * connection error (GOAWAY with its code is queued, later input ignored),
 * or the non-zero value an event callback returned. */
LOOM_API int loom_conn_recv(loom_conn *c, const uint8_t *in, size_t len);

/* Fills out[] with what to write next (at most max pieces); returns the
 * count, 0 when there is nothing to write. Pieces stay valid until
 * loom_conn_sent(). */
LOOM_API size_t loom_conn_send(loom_conn *c, loom_out *out, size_t max);

/* Reports that n octets of what loom_conn_send() gave were written. */
LOOM_API void loom_conn_sent(loom_conn *c, size_t n);

LOOM_API int loom_conn_want_write(const loom_conn *c);
/* Neither side has anything more to say: the socket can be closed. */
LOOM_API int loom_conn_done(const loom_conn *c);

/* Ends the connection with SETTINGS_TIMEOUT when our SETTINGS has gone
 * unacknowledged for longer than timeout_ms (RFC 9113 §6.5.3). The runtime
 * calls it from a timer. Returns 0 or the error. */
LOOM_API int loom_conn_check_timeouts(loom_conn *c, uint32_t settings_timeout_ms);

/* The connection was upgraded from HTTP/1.1 (RFC 9113 §3.1 refers to
 * RFC 7540 §3.2). req/n: the upgraded request as HTTP/2 fields (:method,
 * :scheme, :authority, :path), so that a HEAD response has no body and
 * pushes on it are checked against its authority. Server: settings is the
 * decoded HTTP2-Settings value (a SETTINGS payload); the request becomes
 * stream 1, half-closed (remote), answered with loom_respond(c, 1, ...).
 * Client (settings unused): after the 101, the request is stream 1,
 * half-closed (local), and its response arrives as events on stream 1.
 * Call before loom_conn_recv(). */
LOOM_API int loom_conn_upgrade(loom_conn *c, const uint8_t *settings, size_t len,
                               const loom_hpack_field *req, size_t n);

/* ---- submissions ---- */

/* Client: opens a stream. Returns its id (> 0), or LOOM_ERR_LIMIT when the
 * peer's MAX_CONCURRENT_STREAMS is reached (the request is not queued: try
 * after a stream closes), LOOM_ERR_STATE after GOAWAY or when stream ids
 * ran out (open a new connection). body NULL: no body (END_STREAM on
 * HEADERS). */
LOOM_API int32_t loom_request(loom_conn *c, const loom_hpack_field *f, size_t n,
                              const loom_body *body);

/* Server: answers a stream. A 1xx status (e.g. 103 Early Hints) may come
 * before the final response; body NULL for a final response means no body. */
LOOM_API int loom_respond(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n,
                          const loom_body *body);

/* loom_respond with a key: a nonzero key is the caller's promise that the
 * same key, on this connection, always comes with the same fields (a
 * server's head for one version of one file in one second, say). While the
 * HPACK table has not changed since, the field block last encoded for that
 * key is sent again without the fields being looked at. 0: loom_respond. */
LOOM_API int loom_respond_keyed(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n,
                                uint64_t key, const loom_body *body);

/* loom_respond_keyed without the fields, for a caller that would build
 * them only to see them unused: when loom_respond_keyed with this key
 * would send the block remembered for it as it is (the key's block was the
 * last one encoded on this connection, and the HPACK table has not changed
 * since), sends that block and returns 0. Returns 1, having sent nothing,
 * when there is no such block: build the fields and call
 * loom_respond_keyed. A block remembered from a 1xx response goes out as
 * one (RFC 9113 §8.1: the final response is still to come). Errors as
 * loom_respond_keyed's. key 0 never has a block. */
LOOM_API int loom_respond_by_key(loom_conn *c, int32_t sid, uint64_t key, const loom_body *body);

/* Server: promises a push on client stream sid; returns the promised
 * stream's id, to loom_respond() to. LOOM_ERR_STATE when the client
 * disabled push or sid is not open; LOOM_ERR_INVALID for a request that is
 * not a GET/HEAD without a body of the same authority; LOOM_ERR_LIMIT at the
 * client's MAX_CONCURRENT_STREAMS. */
LOOM_API int32_t loom_push(loom_conn *c, int32_t sid, const loom_hpack_field *req, size_t n);

LOOM_API int loom_reset(loom_conn *c, int32_t sid, uint32_t code);

/* graceful: server two-step shutdown (RFC 9113 §6.8) — GOAWAY with
 * 2^31-1, then after a round trip (a PING) the real last stream id. */
LOOM_API int loom_goaway(loom_conn *c, uint32_t code, int graceful, const char *debug);

LOOM_API int loom_ping(loom_conn *c);

/* Sends new SETTINGS (RFC 9113 §6.5). A raised limit applies at once, a
 * lowered one once the peer acknowledges it. At most 8 may be
 * unacknowledged (LOOM_ERR_LIMIT); invalid values are LOOM_ERR_INVALID. */
LOOM_API int loom_submit_settings(loom_conn *c, const loom_setting *list, size_t n);

/* Manual windows: n octets of sid's DATA were consumed by the app. */
LOOM_API void loom_consumed(loom_conn *c, int32_t sid, size_t n);

/* A deferred body has data again. */
LOOM_API int loom_resume(loom_conn *c, int32_t sid);

/* A body given by read(): the fields to send after it (trailers), learnt
 * while it is sent (a proxy's, from its backend). Set before read()
 * reports eof; f must stay valid until the stream closes. n 0: none.
 * LOOM_ERR_STATE when sid has no such body in progress. */
LOOM_API int loom_set_trailers(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n);

/* RFC 9218 priority of a stream: client sends PRIORITY_UPDATE, server uses
 * it for scheduling. */
LOOM_API int loom_set_priority(loom_conn *c, int32_t sid, uint8_t urgency, int incremental);

/* ---- inspection ---- */

LOOM_API void *loom_stream_get_user(loom_conn *c, int32_t sid);
LOOM_API int loom_stream_set_user(loom_conn *c, int32_t sid, void *user);

typedef struct {
    uint32_t open_streams;
    int32_t last_peer_stream;
    int64_t send_window; /* connection */
    int64_t recv_window;
    uint64_t rtt_us; /* last PING round trip */
    uint64_t frames_in, frames_out;
    uint64_t header_bytes_in, header_bytes_out; /* HPACK octets on the wire */
} loom_conn_stats;

LOOM_API void loom_conn_get_stats(const loom_conn *c, loom_conn_stats *s);

/* Peer's current setting (after the peer's SETTINGS). */
LOOM_API uint32_t loom_conn_peer_setting(const loom_conn *c, uint16_t id);

#ifdef __cplusplus
}
#endif

#endif
