/* The RFC 7540 §5.3 scheduler (deprecated by RFC 9113 §5.3.2, still honored
 * when a peer uses it): a dependency tree with weights, scheduled by
 * weighted fair queuing among siblings. A connection uses it when its peer
 * sends RFC 7540 signals first, did not opt out with
 * SETTINGS_NO_RFC7540_PRIORITIES, and sends no RFC 9218 priority field
 * (recv.c makes the choice, once).
 *
 * Every stream is a node; the connection holds the root (stream 0). A
 * node's `pready` counts the ready streams in its subtree (itself
 * included), so the scheduler descends only into subtrees with work. */
#include "conn_internal.h"

static int is_ancestor(const stream *a, const stream *s)
{
    for (const stream *p = s->pparent; p; p = p->pparent)
        if (p == a) return 1;
    return 0;
}

static void add_ready(stream *from, int32_t delta)
{
    for (stream *p = from; p; p = p->pparent)
        p->pready = (uint32_t)((int32_t)p->pready + delta);
}

static void detach(stream *s)
{
    stream *p = s->pparent;
    if (!p) return;
    if (s->pready) add_ready(p, -(int32_t)s->pready);
    stream **pp = &p->pchild;
    while (*pp != s)
        pp = &(*pp)->psibling;
    *pp = s->psibling;
    s->psibling = NULL;
    s->pparent = NULL;
}

static void attach(stream *p, stream *s)
{
    s->pparent = p;
    s->psibling = p->pchild;
    p->pchild = s;
    /* start level with the siblings: no burst, no starvation */
    s->pcycle = p->pvt;
    if (s->pready) add_ready(p, (int32_t)s->pready);
}

static void t_open(loom_conn *c, stream *s)
{
    s->weight = 16; /* §5.3.5 default */
    attach(c->sched.root, s);
}

/* A closing stream's children take its place (§5.3.4). */
static void t_close(loom_conn *c, stream *s)
{
    stream *p = s->pparent ? s->pparent : c->sched.root;
    while (s->pchild) {
        stream *ch = s->pchild;
        detach(ch);
        attach(p, ch);
    }
    detach(s);
}

static void t_ready(loom_conn *c, stream *s)
{
    (void)c;
    add_ready(s, 1);
}

static void t_unready(loom_conn *c, stream *s)
{
    (void)c;
    add_ready(s, -1);
}

/* A ready stream under n that may send now (depth first), or NULL. */
static stream *any_sendable(loom_conn *c, stream *n)
{
    if (n != c->sched.root && n->ready && loom__flow_sendable(c, n)) return n;
    for (stream *ch = n->pchild; ch; ch = ch->psibling) {
        if (!ch->pready) continue;
        stream *s = any_sendable(c, ch);
        if (s) return s;
    }
    return NULL;
}

/* Descends from the root: a ready node is served before its dependents;
 * among siblings with work, the least virtual time goes next. Only a
 * stream that may send now is picked (as the RFC 9218 scheduler does):
 * with the connection window shut, only one with nothing left but its
 * END_STREAM, so that a connection with nothing it can send says so. */
static stream *t_pick(loom_conn *c)
{
    stream *root = c->sched.root, *n = root;
    while (n->pready) {
        if (n != root && n->ready) return loom__flow_sendable(c, n) ? n : any_sendable(c, root);
        stream *best = NULL;
        for (stream *ch = n->pchild; ch; ch = ch->psibling)
            if (ch->pready && (!best || ch->pcycle < best->pcycle)) best = ch;
        if (!best) return NULL;
        n = best;
    }
    return NULL;
}

/* n octets of s were sent: each node on the path advances its virtual
 * time in inverse proportion to its weight. */
static void t_charge(loom_conn *c, stream *s, size_t n)
{
    for (stream *x = s; x && x != c->sched.root; x = x->pparent) {
        x->pcycle += ((uint64_t)n + 1) * 256 / x->weight;
        if (x->pparent) x->pparent->pvt = x->pcycle;
    }
}

const sched_ops loom__sched_rfc7540 = {
    "RFC 7540", t_open, t_close, t_ready, t_unready, t_pick, t_charge,
};

void loom__prio_set(loom_conn *c, stream *s, const loom_priority_spec *pri)
{
    if (c->sched.ops != &loom__sched_rfc7540) return; /* not the scheduler in use */
    stream *root = c->sched.root;
    stream *p = pri->depends_on ? loom__streams_find(&c->streams, (int32_t)pri->depends_on) : NULL;
    /* a parent we do not know (idle or long closed): the root, default
     * weight (RFC 9113 §5.3.4 lets us) */
    if (pri->depends_on && !p) {
        p = root;
        s->weight = 16;
    } else {
        if (!p) p = root;
        s->weight = pri->weight;
    }
    if (p == s) return; /* self-dependency is caught by the frame parser */
    /* §5.3.3: depending on one's own descendant first moves that
     * descendant to where s was */
    if (is_ancestor(s, p)) {
        stream *old = s->pparent ? s->pparent : root;
        detach(p);
        attach(old, p);
    }
    detach(s);
    if (pri->exclusive) {
        /* §5.3.3: s becomes the sole child of p, adopting p's children */
        while (p->pchild) {
            stream *ch = p->pchild;
            detach(ch);
            attach(s, ch);
        }
    }
    attach(p, s);
}
