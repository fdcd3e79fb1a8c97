/* The stream table: streams by id (a hash with chaining, grown as needed,
 * stream objects reused through a free list) and a bounded memory of
 * recently closed streams (RFC 9113 §5.1 "closed"). */
#include <string.h>

#include "conn_internal.h"

static size_t slot(const loom_conn *c, int32_t id)
{
    return ((uint32_t)id * 2654435761u) & (c->nbuckets - 1);
}

stream *loom_stream_find(loom_conn *c, int32_t id)
{
    if (!c->nbuckets) return NULL;
    for (stream *s = c->buckets[slot(c, id)]; s; s = s->next_hash)
        if (s->id == id) return s;
    return NULL;
}

static int grow(loom_conn *c)
{
    size_t nb = c->nbuckets ? c->nbuckets * 2 : 64;
    stream **b = loom_malloc(c->mem, nb * sizeof(*b));
    if (!b) return LOOM_ERR_NOMEM;
    memset(b, 0, nb * sizeof(*b));
    size_t old = c->nbuckets;
    stream **ob = c->buckets;
    c->buckets = b;
    c->nbuckets = nb;
    for (size_t i = 0; i < old; i++)
        for (stream *s = ob[i], *next; s; s = next) {
            next = s->next_hash;
            size_t k = slot(c, s->id);
            s->next_hash = b[k];
            b[k] = s;
        }
    loom_free(c->mem, ob);
    return 0;
}

stream *loom_stream_new(loom_conn *c, int32_t id, uint8_t state)
{
    if (c->nstreams + 1 > c->nbuckets && grow(c) < 0) return NULL;
    stream *s = c->free_streams;
    if (s)
        c->free_streams = s->next_hash;
    else if (!(s = loom_malloc(c->mem, sizeof(*s))))
        return NULL;
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->state = state;
    s->urgency = 3; /* RFC 9218 §4.1 */
    s->content_length = -1;
    s->body.fd = -1;
    s->send_window = c->peer[LOOM_SETTINGS_INITIAL_WINDOW_SIZE];
    s->recv_window = c->cfg.initial_window_size;
    s->local = (id & 1) == (c->role == LOOM_CLIENT);
    loom_prio_init(c, s);
    size_t k = slot(c, id);
    s->next_hash = c->buckets[k];
    c->buckets[k] = s;
    c->nstreams++;
    return s;
}

void loom_stream_remember(loom_conn *c, int32_t id, uint8_t how)
{
    if (!c->cfg.max_closed_streams) return;
    if (!c->closed) {
        c->closed = loom_malloc(c->mem, c->cfg.max_closed_streams * sizeof(*c->closed));
        if (!c->closed) return;
    }
    c->closed[c->closed_pos].id = id;
    c->closed[c->closed_pos].how = how;
    c->closed_pos = (c->closed_pos + 1) % c->cfg.max_closed_streams;
    if (c->nclosed < c->cfg.max_closed_streams) c->nclosed++;
}

int loom_stream_closed_how(const loom_conn *c, int32_t id)
{
    for (size_t i = 0; i < c->nclosed; i++)
        if (c->closed[i].id == id) return c->closed[i].how;
    return -1;
}

void loom_stream_close(loom_conn *c, stream *s, uint8_t how, uint32_t code, int by_peer,
                       int retry_safe)
{
    loom_unready(c, s);
    loom_prio_remove(c, s);
    if (s->counted) {
        if (s->local)
            c->open_local--;
        else
            c->open_remote--;
    }
    loom_stream_remember(c, s->id, how);
    s->state = ST_CLOSED;
    /* reported while the stream can still be looked up (its user pointer) */
    loom_event ev = {.type = LOOM_EV_STREAM_CLOSED, .stream_id = s->id};
    ev.u.closed.error_code = code;
    ev.u.closed.by_peer = by_peer;
    ev.u.closed.retry_safe = retry_safe;
    loom_emit(c, &ev);
    stream **pp = &c->buckets[slot(c, s->id)];
    while (*pp != s)
        pp = &(*pp)->next_hash;
    *pp = s->next_hash;
    c->nstreams--;
    s->next_hash = c->free_streams;
    c->free_streams = s;
}

void loom_streams_free(loom_conn *c)
{
    for (size_t i = 0; i < c->nbuckets; i++)
        for (stream *s = c->buckets[i], *next; s; s = next) {
            next = s->next_hash;
            loom_free(c->mem, s);
        }
    for (stream *s = c->free_streams, *next; s; s = next) {
        next = s->next_hash;
        loom_free(c->mem, s);
    }
    loom_free(c->mem, c->buckets);
    loom_free(c->mem, c->closed);
}
