/* Internal: the connection engine's state, made of each module's own part,
 * and the few helpers every engine file uses.
 *
 * The files, from the bottom up (each calls only those below it; see
 * docs/internals.md):
 *   buf.c            growable bounded buffers
 *   frame.c hpack.c huffman.c static_table.c fields.c   codecs and rules
 *   stream.c         the §5.1 transition table and the stream store
 *   sched.c priority.c   the schedulers (RFC 9218, RFC 7540)
 *   queue.c          frames waiting for output
 *   flow.c           flow control, both directions
 *   settings.c       SETTINGS, ours and the peer's
 *   conn.c           the connection object: life, streams' end, errors
 *   recv.c send.c    receiving and sending, side by side */
#ifndef LOOM_LIB_CONN_INTERNAL_H
#define LOOM_LIB_CONN_INTERNAL_H

#include <time.h>

#include "buf.h"
#include "fields.h"
#include "flow.h"
#include "loom/conn.h"
#include "mem.h"
#include "queue.h"
#include "sched.h"
#include "settings.h"
#include "stream.h"

/* A piece of output: bytes in the batch buffer, caller memory, or a file. */
typedef struct {
    uint8_t kind; /* 0 batch buffer, 1 memory, 2 file */
    int fd;
    size_t off; /* batch: offset in batch; file: unused */
    const uint8_t *mem;
    uint64_t file_off;
    size_t len;
} piece;

#define MAX_PIECES 64

/* A field block being received (HEADERS or PUSH_PROMISE, then
 * CONTINUATION frames). */
typedef struct {
    int32_t stream, promised;
    uint8_t type, end_stream, ignore; /* ignore: decode only (stream refused or reset) */
    uint8_t has_pri;                  /* the HEADERS carried RFC 7540 priority */
    loom_priority_spec pri;
    uint32_t frames;
} block_state;

/* What receiving field blocks needs, made at the first block and kept
 * until loom_conn_shrink(). */
typedef struct {
    loom_hpack_list list; /* the decoded block: an arena reset per block */
    loom__buf frag;       /* the fragments, when a block spans several frames */
} rx_state;

struct loom_conn {
    /* the caller's configuration when it is shared (cfg->shared), else a
     * copy right after this struct, in the same allocation */
    const loom_config *cfg;
    loom_on_event cb;
    void *user;
    const loom_mem *mem;

    /* receiving (recv.c) */
    loom_frame_reader reader;
    loom_hpack_decoder *dec; /* made at the first field block received */
    block_state block;
    rx_state *rx;

    settings_state settings;
    stream_store streams;
    flow_conn flow;
    sched_state sched;
    queue_state queue;

    /* output (send.c) */
    loom_hpack_encoder *enc; /* made at the first field block sent */
    loom__buf batch;         /* the batch being written */
    /* the batch's pieces, up to MAX_PIECES (on the heap from the first
     * batch until loom_conn_shrink()) */
    piece *pieces;
    size_t pieces_cap;
    /* streams to close once the batch is written, up to MAX_PIECES (on
     * the heap, as pieces) */
    int32_t *close_after;
    size_t close_cap;
    loom__buf ebuf; /* a field block being encoded */

    /* defences: counts within the current window */
    uint64_t win_start;
    /* the reset bucket (cfg.reset_burst, cfg.reset_rate), in thousandths
     * of a token, as of budget_at */
    int64_t budget_milli;
    uint64_t budget_at;
    /* DATA octets the peer may still send on streams we reset: their
     * windows when we reset them (RFC 9113 §6.9: a reset does not grant
     * more) */
    int64_t reset_allowance;

    struct {
        uint64_t ping_sent_at, rtt_us;
        uint64_t frames_in, frames_out, hbytes_in, hbytes_out;
    } stats;

    /* GOAWAY */
    struct {
        int32_t last_sent, last_recv;
        uint32_t code;
        uint8_t sent, final_pending, received;
        uint8_t ping[8];
    } goaway;

    /* 32-bit fields */
    loom_role role;
    int err;
    uint32_t dec_table;     /* until the decoder is made: the table size it will be made with */
    uint32_t enc_min_table; /* until the encoder is made: the smallest table size the peer set */
    int32_t last_peer_id, last_promised_id;
    uint32_t open_local, open_remote;
    uint32_t npieces, piece_at, piece_done, nclose_after;
    uint32_t next_local_id; /* past 2^31-1 when the ids ran out (§5.1.1) */
    uint32_t next_push_id;
    uint32_t n_pings, n_settings, n_empty, n_prio;

    /* octets */
    uint8_t preface_got;  /* server: octets of the client magic matched */
    uint8_t dead;         /* a connection error: input is ignored */
    uint8_t prio_signals; /* RFC 7540 signals seen before the scheduler was chosen */
    uint8_t batch_open, building;
};

/* Notes a stream to close once the batch is written: 0, or -1 when
 * MAX_PIECES are noted already (or no memory). */
static inline int loom__close_after(loom_conn *c, int32_t id)
{
    if (c->nclose_after == c->close_cap &&
        loom__grow(c->mem, (void **)&c->close_after, &c->close_cap, c->nclose_after + 1,
                   sizeof(*c->close_after), MAX_PIECES) < 0)
        return -1;
    c->close_after[c->nclose_after++] = id;
    return 0;
}

/* How a closed stream ended, for what the engine remembers of it. */
enum { CLOSED_NORMAL, CLOSED_RESET_SENT, CLOSED_RESET_RECEIVED };

static inline int loom__emit(loom_conn *c, loom_event *ev)
{
    return c->cb ? c->cb(c, ev, c->user) : 0;
}

static inline uint64_t loom__body_left(const stream *s)
{
    if (s->body.read) return UINT64_MAX;
    if (s->body.fd >= 0) return s->body.length - s->body_off;
    return s->body.len - s->body_off;
}

/* Whether s may send now: window on both levels, or nothing left but the
 * END_STREAM (an empty last frame needs no window). */
static inline int loom__flow_sendable(const loom_conn *c, const stream *s)
{
    return (s->send_window > 0 && c->flow.send_window > 0) || loom__body_left(s) == 0;
}

/* Milliseconds on the configured clock (CLOCK_MONOTONIC by default). */
static inline uint64_t loom__now(const loom_conn *c)
{
    if (c->cfg->now_ms) return c->cfg->now_ms(c->user);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Why a connection ends when frames the peer's frames call for (SETTINGS
 * and PING acknowledgements, RST_STREAM) pile up past cfg.max_control_queue
 * unsent: the peer makes them faster than it reads them. */
#define LOOM__CONTROL_QUEUE_FULL                                                                   \
    "more frames owed to the peer than max_control_queue: it provokes them faster than it "        \
    "reads them (RFC 9113 §10.5)"

/* More DATA the peer may send on streams we reset (bounded: it never
 * needs to pass what all remembered streams could hold). */
static inline void loom__reset_allowance_add(loom_conn *c, int64_t n)
{
    int64_t cap = (int64_t)LOOM_MAX_WINDOW * (c->cfg->max_closed_streams + 1);
    c->reset_allowance = c->reset_allowance + n > cap ? cap : c->reset_allowance + n;
}

/* conn.c: the connection object's shared operations */
/* The HPACK encoder, made when the first field block is sent (an idle
 * connection has none: it is the largest part of an engine), with the
 * peer's table size. */
int loom__encoder_start(loom_conn *c);
/* The HPACK decoder, made at the first field block received (with
 * c->dec_table and our MAX_HEADER_LIST_SIZE). */
int loom__decoder_start(loom_conn *c);
/* c->rx, made: 0 or LOOM_ERR_NOMEM. */
int loom__rx_start(loom_conn *c);
/* Our table size limit for the decoder, now or when it is made. */
static inline void loom__decoder_table(loom_conn *c, uint32_t size)
{
    c->dec_table = size;
    if (c->dec) loom_hpack_decoder_set_max_table_size(c->dec, size);
}
/* A server stream whose response is done and whose request body is
 * unwanted (s->draining, RFC 9113 §8.1): reset with NO_ERROR once the
 * window it was left is spent (after the batch carrying its response is
 * written). */
void loom__drain_check(loom_conn *c, stream *s);
/* A new stream in the store and in the scheduler, with the engine's
 * defaults (windows, urgency). NULL: no memory. */
stream *loom__stream_open(loom_conn *c, int32_t id, uint8_t state);
/* The one place a stream ends: out of the scheduler and the store,
 * remembered as `how`, the application told (LOOM_EV_STREAM_CLOSED). */
void loom__stream_end(loom_conn *c, stream *s, uint8_t how, uint32_t code, int by_peer,
                      int retry_safe);
/* A connection error (RFC 9113 §5.4.1): GOAWAY with the code, nothing more
 * from the peer is processed. Returns err. */
int loom__conn_error(loom_conn *c, int err, const char *why);
/* One token of the reset bucket for a stream reset or refused: 0, or a
 * connection error ENHANCE_YOUR_CALM (why names the cause) when it is
 * empty (Rapid Reset CVE-2023-44487, MadeYouReset CVE-2025-8671). */
int loom__spend_reset(loom_conn *c, const char *why);
/* The last stream the peer opened: a client's are the pushes it accepted
 * (RFC 9113 §6.8). */
int32_t loom__last_peer_stream(const loom_conn *c);
/* Whether a stream id is still idle for us (§5.1). */
int loom__is_idle(const loom_conn *c, int32_t id);
/* The hash a request's :authority is kept as, for the push rule (§8.4). */
uint64_t loom__authority_hash(const uint8_t *p, size_t n);

#endif
