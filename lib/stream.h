/* Internal: streams. The RFC 9113 §5.1 state machine as one transition
 * table (state x event -> new state and verdict), and the store of streams
 * by id with a bounded memory of recently closed ones. Nothing here calls
 * back into the engine: callers act on the verdicts. */
#ifndef LOOM_LIB_STREAM_H
#define LOOM_LIB_STREAM_H

#include "loom/conn.h"
#include "mem.h"

/* RFC 9113 §5.1 states, plus what the engine knows of a closed stream that
 * no longer has an object (pseudo-states: a stream is looked up as one of
 * these when it is not in the store). */
typedef enum {
    ST_IDLE,
    ST_RESERVED_LOCAL,
    ST_RESERVED_REMOTE,
    ST_OPEN,
    ST_HALF_CLOSED_LOCAL,
    ST_HALF_CLOSED_REMOTE,
    ST_CLOSED,         /* ended (both END_STREAMs, or reset by the peer) */
    ST_CLOSED_IGNORED, /* reset or refused by us: late frames are ignored (§5.1) */
    ST_CLOSED_UNKNOWN, /* below the peer's newest id, not remembered */
    ST_COUNT
} stream_state;

/* What happens to a stream (§5.1 figure 2): frames received (R_*) or sent
 * (S_*). END_STREAM is an event of its own, after its frame's. */
typedef enum {
    EV_R_HEADERS,
    EV_R_PUSH_PROMISE, /* on the promised stream */
    EV_R_DATA,
    EV_R_END_STREAM,
    EV_R_RST,
    EV_R_WINDOW_UPDATE,
    EV_R_PRIORITY,
    EV_S_HEADERS,
    EV_S_PUSH_PROMISE, /* on the promised stream */
    EV_S_DATA,
    EV_S_END_STREAM,
    EV_S_RST,
    EV_COUNT
} stream_event;

/* What the engine must do about the event. */
typedef enum {
    V_OK,                 /* allowed; the stream moves to the new state */
    V_IGNORE,             /* received after our RST_STREAM: dropped, unanswered */
    V_STREAM_CLOSED,      /* stream error STREAM_CLOSED (§5.1 half-closed (remote), closed) */
    V_CONN_PROTOCOL,      /* connection error PROTOCOL_ERROR */
    V_CONN_STREAM_CLOSED, /* connection error STREAM_CLOSED (§5.1 closed) */
    V_USAGE,              /* a local call not allowed in this state: LOOM_ERR_STATE */
} stream_verdict;

typedef struct {
    uint8_t next;    /* stream_state */
    uint8_t verdict; /* stream_verdict */
} stream_outcome;

stream_outcome loom__stream_transition(uint8_t state, uint8_t event);
const char *loom__stream_state_name(uint8_t state);

/* What the receiving side of a stream expects next (the HTTP message). */
enum { IN_HEADERS, IN_BODY, IN_DONE };

typedef struct stream {
    int32_t id;
    uint8_t state;
    uint8_t in;          /* IN_* */
    uint8_t head;        /* the request was HEAD, so the response has no body */
    uint8_t ready;       /* the scheduler holds it as having something to send */
    uint8_t urgency;     /* RFC 9218, 0 most urgent */
    uint8_t incremental; /* RFC 9218 */
    uint8_t has_body;    /* a body is to be sent after the HEADERS */
    uint8_t deferred;    /* the body source said LOOM_BODY_DEFER */
    uint8_t draining;    /* server: response done, the rest of the request unwanted (§8.1) */
    uint8_t pushed;      /* a promised stream */
    uint8_t local;       /* initiated by us */
    uint8_t counted;     /* counts toward an open-streams limit */
    int64_t send_window, recv_window;
    uint32_t recv_unacked; /* consumed, not yet given back in WINDOW_UPDATE */
    int64_t content_length;
    uint64_t received;
    uint64_t authority_hash; /* server: of the request's :authority, for push */
    loom_body body;
    uint64_t body_off;
    void *user;
    struct stream *next_hash;
    struct stream *next_ready, *prev_ready; /* RFC 9218 scheduler lists */
    /* RFC 7540 §5.3 tree (priority.c) */
    struct stream *pparent, *pchild, *psibling;
    uint16_t weight;
    uint32_t pready;      /* ready streams in this subtree */
    uint64_t pcycle, pvt; /* virtual time of this node; of its last child served */
} stream;

/* Applies an event to a stream that has an object: on V_OK its state
 * becomes the table's new state. Returns the verdict. */
static inline stream_verdict loom__stream_apply(stream *s, stream_event ev)
{
    stream_outcome o = loom__stream_transition(s->state, (uint8_t)ev);
    if (o.verdict == V_OK) s->state = o.next;
    return (stream_verdict)o.verdict;
}

static inline int loom__stream_closed(const stream *s)
{
    return s->state >= ST_CLOSED;
}

/* ---- the store ---- */

typedef struct {
    stream **buckets;
    stream *free_list;
    struct {
        int32_t id;
        uint8_t state; /* ST_CLOSED or ST_CLOSED_IGNORED */
    } * closed;
    const loom_mem *mem;
    uint32_t nbuckets, n;
    uint32_t nclosed, closed_pos, max_closed;
} stream_store;

void loom__streams_init(stream_store *t, size_t max_closed, const loom_mem *mem);
void loom__streams_free(stream_store *t);
/* Frees the spare stream records, and the buckets when no stream is in the
 * store (the closed streams remembered stay). */
void loom__streams_trim(stream_store *t);
stream *loom__streams_find(const stream_store *t, int32_t id);
/* A new stream object, zeroed but for its id and state (NULL: no memory). */
stream *loom__streams_new(stream_store *t, int32_t id, uint8_t state);
/* Takes s out of the store (its memory is kept for reuse). */
void loom__streams_remove(stream_store *t, stream *s);
/* Remembers how a stream without an object ended (ST_CLOSED or
 * ST_CLOSED_IGNORED), for the frames that follow it (§5.1). */
void loom__streams_remember(stream_store *t, int32_t id, uint8_t state);
/* The state of a stream that has no object: idle (is_idle), or closed as
 * remembered, or ST_CLOSED_UNKNOWN. */
uint8_t loom__streams_gone_state(const stream_store *t, int32_t id, int is_idle);

/* The i-th bucket's chain, for walks over every stream. */
#define STREAMS_FOREACH(t, s)                                                                      \
    for (size_t b_ = 0; b_ < (t)->nbuckets; b_++)                                                  \
        for (stream *s = (t)->buckets[b_]; s; s = s->next_hash)

#endif
