/* Streams: the RFC 9113 §5.1 state machine as one table, and the store of
 * streams by id (a hash with chaining, grown as needed, stream objects
 * reused through a free list) with a bounded memory of recently closed
 * streams. */
#include "stream.h"

#include <string.h>

#include "buf.h"

/* ---- the state machine (RFC 9113 §5.1, figure 2) ----
 *
 * One row per state, one column per event. Every state change of the
 * library is a lookup here; a pair that is not allowed says what the RFC
 * makes of it. The frames that do not change a state (DATA, WINDOW_UPDATE,
 * PRIORITY, HEADERS carrying trailers) are in the table too, so that "may
 * this frame arrive now" has one answer. */

#define OK(s)                                                                                      \
    {                                                                                              \
        ST_##s, V_OK                                                                               \
    }
#define IGN                                                                                        \
    {                                                                                              \
        ST_COUNT, V_IGNORE                                                                         \
    }
#define SCL                                                                                        \
    {                                                                                              \
        ST_COUNT, V_STREAM_CLOSED                                                                  \
    }
#define CPROTO                                                                                     \
    {                                                                                              \
        ST_COUNT, V_CONN_PROTOCOL                                                                  \
    }
#define CSCL                                                                                       \
    {                                                                                              \
        ST_COUNT, V_CONN_STREAM_CLOSED                                                             \
    }
#define USE                                                                                        \
    {                                                                                              \
        ST_COUNT, V_USAGE                                                                          \
    }

static const stream_outcome table[ST_COUNT][EV_COUNT] = {
    /*                    R_HEADERS         R_PUSH_PROMISE      R_DATA    R_END_STREAM
     *                    R_RST             R_WINDOW_UPDATE     R_PRIORITY
     *                    S_HEADERS         S_PUSH_PROMISE      S_DATA    S_END_STREAM  S_RST */
    [ST_IDLE] =
        {
            /* §5.1 idle: HEADERS opens, PUSH_PROMISE reserves; anything
             * else but PRIORITY is a connection PROTOCOL_ERROR */
            OK(OPEN),
            OK(RESERVED_REMOTE),
            CPROTO,
            CPROTO,
            CPROTO,
            CPROTO,
            OK(IDLE),
            OK(OPEN),
            OK(RESERVED_LOCAL),
            USE,
            USE,
            USE,
        },
    [ST_RESERVED_LOCAL] =
        {
            /* §5.1 reserved (local): we send HEADERS or RST_STREAM; the
             * peer may send RST_STREAM, PRIORITY, WINDOW_UPDATE only */
            CPROTO,
            CPROTO,
            CPROTO,
            CPROTO,
            OK(CLOSED),
            OK(RESERVED_LOCAL),
            OK(RESERVED_LOCAL),
            OK(HALF_CLOSED_REMOTE),
            USE,
            USE,
            USE,
            OK(CLOSED),
        },
    [ST_RESERVED_REMOTE] =
        {
            /* §5.1 reserved (remote): the peer sends HEADERS or
             * RST_STREAM; PRIORITY is allowed, WINDOW_UPDATE is not */
            OK(HALF_CLOSED_LOCAL),
            CPROTO,
            CPROTO,
            CPROTO,
            OK(CLOSED),
            CPROTO,
            OK(RESERVED_REMOTE),
            USE,
            USE,
            USE,
            USE,
            OK(CLOSED),
        },
    [ST_OPEN] =
        {
            OK(OPEN),
            CPROTO,
            OK(OPEN),
            OK(HALF_CLOSED_REMOTE),
            OK(CLOSED),
            OK(OPEN),
            OK(OPEN),
            OK(OPEN),
            USE,
            OK(OPEN),
            OK(HALF_CLOSED_LOCAL),
            OK(CLOSED),
        },
    [ST_HALF_CLOSED_LOCAL] =
        {
            /* §5.1 half-closed (local): we send nothing but
             * WINDOW_UPDATE, PRIORITY, RST_STREAM */
            OK(HALF_CLOSED_LOCAL),
            CPROTO,
            OK(HALF_CLOSED_LOCAL),
            OK(CLOSED),
            OK(CLOSED),
            OK(HALF_CLOSED_LOCAL),
            OK(HALF_CLOSED_LOCAL),
            USE,
            USE,
            USE,
            USE,
            OK(CLOSED),
        },
    [ST_HALF_CLOSED_REMOTE] =
        {
            /* §5.1 half-closed (remote): anything but WINDOW_UPDATE,
             * PRIORITY, RST_STREAM is a stream error STREAM_CLOSED */
            SCL,
            CPROTO,
            SCL,
            SCL,
            OK(CLOSED),
            OK(HALF_CLOSED_REMOTE),
            OK(HALF_CLOSED_REMOTE),
            OK(HALF_CLOSED_REMOTE),
            USE,
            OK(HALF_CLOSED_REMOTE),
            OK(CLOSED),
            OK(CLOSED),
        },
    [ST_CLOSED] =
        {
            /* §5.1 closed: HEADERS after the stream ended is a connection
             * error STREAM_CLOSED, DATA a stream error; WINDOW_UPDATE and
             * RST_STREAM may still be in flight and are dropped */
            CSCL,
            CPROTO,
            SCL,
            SCL,
            IGN,
            IGN,
            OK(CLOSED),
            USE,
            USE,
            USE,
            USE,
            USE,
        },
    [ST_CLOSED_IGNORED] =
        {
            /* §5.1 closed: after we sent RST_STREAM, frames in flight are
             * ignored (a field block is still decoded, §4.3) */
            IGN,
            CPROTO,
            IGN,
            IGN,
            IGN,
            IGN,
            OK(CLOSED_IGNORED),
            USE,
            USE,
            USE,
            USE,
            USE,
        },
    [ST_CLOSED_UNKNOWN] =
        {
            /* §5.1.1: a stream id below the peer's newest that we do not
             * remember: HEADERS on it is an unexpected stream identifier */
            CPROTO,
            CPROTO,
            SCL,
            SCL,
            IGN,
            IGN,
            OK(CLOSED_UNKNOWN),
            USE,
            USE,
            USE,
            USE,
            USE,
        },
};

#undef OK
#undef IGN
#undef SCL
#undef CPROTO
#undef CSCL
#undef USE

stream_outcome loom__stream_transition(uint8_t state, uint8_t event)
{
    if (state >= ST_COUNT || event >= EV_COUNT) return (stream_outcome){ST_COUNT, V_USAGE};
    return table[state][event];
}

const char *loom__stream_state_name(uint8_t state)
{
    static const char *const names[ST_COUNT] = {
        "idle",   "reserved (local)",     "reserved (remote)",
        "open",   "half-closed (local)",  "half-closed (remote)",
        "closed", "closed (reset by us)", "closed (forgotten)",
    };
    return state < ST_COUNT ? names[state] : "?";
}

/* ---- the store ---- */

/* Stream ids of one side are all odd or all even: the product's lowest
 * bit never varies, so it is shifted out (else half the buckets stay
 * empty and chains are twice as long). Consecutive ids of one side then
 * land in distinct buckets. */
static size_t slot(const stream_store *t, int32_t id)
{
    return (((uint32_t)id * 2654435761u) >> 1) & (t->nbuckets - 1);
}

void loom__streams_init(stream_store *t, size_t max_closed, const loom_mem *mem)
{
    memset(t, 0, sizeof(*t));
    t->max_closed = max_closed;
    t->mem = mem;
}

stream *loom__streams_find(const stream_store *t, int32_t id)
{
    if (!t->nbuckets) return NULL;
    for (stream *s = t->buckets[slot(t, id)]; s; s = s->next_hash)
        if (s->id == id) return s;
    return NULL;
}

static int grow(stream_store *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 16;
    stream **b = loom_malloc(t->mem, nb * sizeof(*b));
    if (!b) return LOOM_ERR_NOMEM;
    memset(b, 0, nb * sizeof(*b));
    size_t old = t->nbuckets;
    stream **ob = t->buckets;
    t->buckets = b;
    t->nbuckets = nb;
    for (size_t i = 0; i < old; i++)
        for (stream *s = ob[i], *next; s; s = next) {
            next = s->next_hash;
            size_t k = slot(t, s->id);
            s->next_hash = b[k];
            b[k] = s;
        }
    loom_free(t->mem, ob);
    return 0;
}

stream *loom__streams_new(stream_store *t, int32_t id, uint8_t state)
{
    if (t->n + 1 > t->nbuckets && grow(t) < 0) return NULL;
    stream *s = t->free_list;
    if (s)
        t->free_list = s->next_hash;
    else if (!(s = loom_malloc(t->mem, sizeof(*s))))
        return NULL;
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->state = state;
    size_t k = slot(t, id);
    s->next_hash = t->buckets[k];
    t->buckets[k] = s;
    t->n++;
    return s;
}

void loom__streams_remove(stream_store *t, stream *s)
{
    stream **pp = &t->buckets[slot(t, s->id)];
    while (*pp != s)
        pp = &(*pp)->next_hash;
    *pp = s->next_hash;
    t->n--;
    s->next_hash = t->free_list;
    t->free_list = s;
}

void loom__streams_remember(stream_store *t, int32_t id, uint8_t state)
{
    if (!t->max_closed) return;
    if (!t->closed) {
        t->closed = loom_malloc(t->mem, t->max_closed * sizeof(*t->closed));
        if (!t->closed) return;
    }
    t->closed[t->closed_pos].id = id;
    t->closed[t->closed_pos].state = state;
    t->closed_pos = (t->closed_pos + 1) % t->max_closed;
    if (t->nclosed < t->max_closed) t->nclosed++;
}

uint8_t loom__streams_gone_state(const stream_store *t, int32_t id, int is_idle)
{
    if (is_idle) return ST_IDLE;
    /* newest first: a stream remembered twice (closed, then reset by us
     * for a late frame) is what it became last */
    for (size_t k = 1; k <= t->nclosed; k++) {
        size_t i = (t->closed_pos + t->max_closed - k) % t->max_closed;
        if (t->closed[i].id == id) return t->closed[i].state;
    }
    return ST_CLOSED_UNKNOWN;
}

void loom__streams_free(stream_store *t)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (stream *s = t->buckets[i], *next; s; s = next) {
            next = s->next_hash;
            loom_free(t->mem, s);
        }
    for (stream *s = t->free_list, *next; s; s = next) {
        next = s->next_hash;
        loom_free(t->mem, s);
    }
    loom_free(t->mem, t->buckets);
    loom_free(t->mem, t->closed);
    memset(t, 0, sizeof(*t));
}

void loom__streams_trim(stream_store *t)
{
    for (stream *s = t->free_list, *next; s; s = next) {
        next = s->next_hash;
        loom_free(t->mem, s);
    }
    t->free_list = NULL;
    if (t->n) return;
    loom_free(t->mem, t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
}
