/* The scheduler interface, and its RFC 9218 implementation (§4): the most
 * urgent level first; within a level a non-incremental stream is sent whole
 * before the next, incremental ones take turns. Streams that may not send
 * now (no window) are passed over without leaving their list. */
#include <string.h>

#include "conn_internal.h"

/* A level's list: its head here, next_ready links to the end (NULL), and
 * the head's prev_ready is the tail (one pointer per level, not two). */
static void u_ready(loom_conn *c, stream *s)
{
    stream **head = &c->sched.ready_head[s->urgency];
    s->next_ready = NULL;
    if (!*head) {
        s->prev_ready = s;
        *head = s;
        return;
    }
    stream *tail = (*head)->prev_ready;
    tail->next_ready = s;
    s->prev_ready = tail;
    (*head)->prev_ready = s;
}

static void u_unready(loom_conn *c, stream *s)
{
    stream **head = &c->sched.ready_head[s->urgency];
    if (s == *head) {
        *head = s->next_ready;
        if (*head) (*head)->prev_ready = s->prev_ready; /* the tail */
    } else {
        s->prev_ready->next_ready = s->next_ready;
        if (s->next_ready)
            s->next_ready->prev_ready = s->prev_ready;
        else
            (*head)->prev_ready = s->prev_ready; /* s was the tail */
    }
    s->next_ready = s->prev_ready = NULL;
}

static stream *u_pick(loom_conn *c)
{
    if (!c->sched.ready_head) return NULL;
    for (int u = 0; u < 8; u++)
        for (stream *s = c->sched.ready_head[u]; s; s = s->next_ready)
            if (loom__flow_sendable(c, s)) return s;
    return NULL;
}

/* §4: incremental streams of one urgency take turns, a frame each. */
static void u_charge(loom_conn *c, stream *s, size_t n)
{
    (void)n;
    if (s->incremental && s->ready && s->next_ready) {
        u_unready(c, s);
        u_ready(c, s);
    }
}

static void u_nothing(loom_conn *c, stream *s)
{
    (void)c;
    (void)s;
}

const sched_ops loom__sched_rfc9218 = {
    "RFC 9218", u_nothing, u_nothing, u_ready, u_unready, u_pick, u_charge,
};

void loom__sched_ready(loom_conn *c, stream *s)
{
    if (s->ready || !s->has_body || s->deferred || loom__stream_closed(s)) return;
    s->ready = 1;
    c->sched.ops->ready(c, s);
}

void loom__sched_unready(loom_conn *c, stream *s)
{
    if (!s->ready) return;
    c->sched.ops->unready(c, s);
    s->ready = 0;
}

void loom__sched_set_urgency(loom_conn *c, stream *s, uint8_t urgency, uint8_t incremental)
{
    int was = s->ready;
    loom__sched_unready(c, s);
    s->urgency = urgency;
    s->incremental = incremental;
    if (was || s->has_body) loom__sched_ready(c, s);
}

int loom__sched_choose(loom_conn *c, sched_kind kind)
{
    sched_state *q = &c->sched;
    if (q->chosen) return 0;
    q->chosen = 1;
    if (kind == SCHED_RFC9218) return 0;
    q->root = loom_malloc(c->mem, sizeof(*q->root));
    if (!q->root) return LOOM_ERR_NOMEM;
    memset(q->root, 0, sizeof(*q->root));
    /* every stream alive joins the tree at the root, ready ones staying
     * ready: out of the RFC 9218 lists first (s->ready kept as the mark) */
    STREAMS_FOREACH (&c->streams, s)
        if (s->ready) q->ops->unready(c, s);
    q->ops = &loom__sched_rfc7540;
    STREAMS_FOREACH (&c->streams, s) {
        q->ops->open(c, s);
        if (s->ready) {
            s->ready = 0;
            loom__sched_ready(c, s);
        }
    }
    return 0;
}

int loom__sched_lists(loom_conn *c)
{
    if (c->sched.ready_head) return 0;
    c->sched.ready_head = loom_malloc(c->mem, 8 * sizeof(stream *));
    if (!c->sched.ready_head) return LOOM_ERR_NOMEM;
    memset(c->sched.ready_head, 0, 8 * sizeof(stream *));
    return 0;
}

void loom__sched_trim(loom_conn *c)
{
    loom_free(c->mem, c->sched.ready_head);
    c->sched.ready_head = NULL;
}

void loom__sched_free(loom_conn *c)
{
    loom__sched_trim(c);
    loom_free(c->mem, c->sched.root);
    c->sched.root = NULL;
}
