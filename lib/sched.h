/* Internal: the send scheduler. One interface (open, close, ready, unready,
 * pick, charge) with two implementations: RFC 9218 urgency and incremental
 * (sched.c, the default) and RFC 7540 dependency trees (priority.c). A
 * connection starts with RFC 9218 and may switch once, for good, to the
 * tree (loom__sched_choose), so the sending code never knows which one
 * runs. */
#ifndef LOOM_LIB_SCHED_H
#define LOOM_LIB_SCHED_H

#include "stream.h"

struct loom_conn;

typedef struct sched_ops {
    const char *name;
    /* a stream joins or leaves the scheduler's structures */
    void (*open)(struct loom_conn *c, stream *s);
    void (*close)(struct loom_conn *c, stream *s);
    /* s has something to send / no longer has */
    void (*ready)(struct loom_conn *c, stream *s);
    void (*unready)(struct loom_conn *c, stream *s);
    /* the stream to send from next, NULL when none is ready */
    stream *(*pick)(struct loom_conn *c);
    /* n octets of s were sent */
    void (*charge)(struct loom_conn *c, stream *s, size_t n);
} sched_ops;

typedef enum { SCHED_RFC9218, SCHED_RFC7540 } sched_kind;

/* State of both implementations: the RFC 9218 lists are always there (a
 * few pointers); the RFC 7540 tree's root only once the tree is chosen. */
typedef struct {
    const sched_ops *ops;
    uint8_t chosen; /* the choice was made; it is not made again */
    /* by urgency; each head's prev_ready is its tail (on the heap from the
     * first stream ready until loom_conn_shrink()) */
    stream **ready_head;
    stream *root; /* RFC 7540: stream 0 of the tree */
} sched_state;

extern const sched_ops loom__sched_rfc9218, loom__sched_rfc7540;

/* Marks s ready (it has a body to send and is not waiting for its source)
 * or not; idempotent. */
void loom__sched_ready(struct loom_conn *c, stream *s);
void loom__sched_unready(struct loom_conn *c, stream *s);
/* A new RFC 9218 urgency/incremental for s, requeued if it was ready. */
void loom__sched_set_urgency(struct loom_conn *c, stream *s, uint8_t urgency, uint8_t incremental);
/* Chooses the implementation for the rest of the connection (once: later
 * calls do nothing). Streams alive and ready move over. Returns 0 or
 * LOOM_ERR_NOMEM (the choice is then RFC 9218). */
int loom__sched_choose(struct loom_conn *c, sched_kind kind);
void loom__sched_free(struct loom_conn *c);
/* The RFC 9218 lists, made before the first stream opens: 0 or
 * LOOM_ERR_NOMEM. */
int loom__sched_lists(struct loom_conn *c);
/* No stream is in the scheduler: its lists go (made again on use). */
void loom__sched_trim(struct loom_conn *c);

/* priority.c: an RFC 7540 §5.3 dependency for s (a HEADERS priority block
 * or a PRIORITY frame), used when the tree is the scheduler. */
void loom__prio_set(struct loom_conn *c, stream *s, const loom_priority_spec *pri);

#endif
