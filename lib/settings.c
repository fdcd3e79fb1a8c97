/* SETTINGS (RFC 9113 §6.5): ours and the peer's, from the preface to the
 * last ACK. */
#include <string.h>

#include "conn_internal.h"

/* Pending records: only one that lowers a limit needs keeping. While every
 * unacknowledged SETTINGS of ours lowers nothing (the preface's, with the
 * default configuration), none is kept and only st->unacked counts them;
 * the ring is made, its earlier records "no change", when one does. An
 * idle connection keeps none. */
static const settings_pending no_change = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};

static int pending_lowers(const settings_pending *p)
{
    return memcmp(p, &no_change, sizeof(*p)) != 0;
}

/* The ring, made (0, or LOOM_ERR_NOMEM). */
static int pending_ring(loom_conn *c)
{
    settings_state *st = &c->settings;
    if (st->pending) return 0;
    st->pending = loom_malloc(c->mem, SETTINGS_MAX_UNACKED * sizeof(*st->pending));
    if (!st->pending) return LOOM_ERR_NOMEM;
    for (int i = 0; i < SETTINGS_MAX_UNACKED; i++)
        st->pending[i] = no_change;
    return 0;
}

/* One more SETTINGS of ours unacknowledged, p what its ACK binds (the ring
 * was made when p lowers anything). */
static void pending_push(loom_conn *c, const settings_pending *p)
{
    settings_state *st = &c->settings;
    if (st->pending) st->pending[st->unacked] = *p;
    st->unacked++;
}

int loom__settings_start(loom_conn *c)
{
    settings_state *st = &c->settings;
    /* §6.5.2 initial values, until the peer's SETTINGS */
    st->peer[LOOM_SETTINGS_HEADER_TABLE_SIZE] = 4096;
    st->peer[LOOM_SETTINGS_ENABLE_PUSH] = 1;
    st->peer[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS] = UINT32_MAX;
    st->peer[LOOM_SETTINGS_INITIAL_WINDOW_SIZE] = 65535;
    st->peer[LOOM_SETTINGS_MAX_FRAME_SIZE] = LOOM_MAX_FRAME_SIZE_MIN;
    st->peer[LOOM_SETTINGS_MAX_HEADER_LIST_SIZE] = UINT32_MAX;

    const loom_config *cfg = c->cfg;
    /* RFC 9113 §6.5.2: both ends start at 4096. A larger local table binds
     * as soon as our SETTINGS is sent (the decoder is made with it); a
     * smaller one once acknowledged. */
    settings_pending p = no_change;
    if (cfg->header_table_size < LOOM_HPACK_DEFAULT_TABLE_SIZE)
        p.header_table_size = cfg->header_table_size;
    if (pending_lowers(&p) && pending_ring(c) < 0) return LOOM_ERR_NOMEM;
    loom_setting s[8];
    size_t n = 0;
    s[n++] = (loom_setting){LOOM_SETTINGS_HEADER_TABLE_SIZE, cfg->header_table_size};
    if (c->role == LOOM_CLIENT)
        s[n++] = (loom_setting){LOOM_SETTINGS_ENABLE_PUSH, cfg->enable_push};
    s[n++] = (loom_setting){LOOM_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_concurrent_streams};
    s[n++] = (loom_setting){LOOM_SETTINGS_INITIAL_WINDOW_SIZE, cfg->initial_window_size};
    s[n++] = (loom_setting){LOOM_SETTINGS_MAX_FRAME_SIZE, cfg->max_frame_size};
    s[n++] = (loom_setting){LOOM_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_list_size};
    if (cfg->no_rfc7540_priorities) s[n++] = (loom_setting){LOOM_SETTINGS_NO_RFC7540_PRIORITIES, 1};
    if (c->role == LOOM_SERVER && cfg->enable_connect_protocol)
        s[n++] = (loom_setting){LOOM_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1};
    int rc = loom__queue_settings(c, s, n);
    if (rc < 0) return rc;
    pending_push(c, &p);
    st->sent_at = loom__now(c);
    return 0;
}

int loom__settings_apply(loom_conn *c, const loom_frame *f, const char **why)
{
    settings_state *st = &c->settings;
    for (size_t i = 0; i < f->u.settings.count; i++) {
        loom_setting s = loom_frame_setting(f, i);
        switch (s.id) {
        case LOOM_SETTINGS_HEADER_TABLE_SIZE:
            /* the encoder takes it now, or when it is made */
            if (!c->enc && s.value < c->enc_min_table) c->enc_min_table = s.value;
            if (c->enc && loom_hpack_encoder_set_max_table_size(c->enc, s.value) < 0) {
                *why = "out of memory";
                return LOOM_ERR_NOMEM;
            }
            break;
        case LOOM_SETTINGS_ENABLE_PUSH:
            /* §6.5.2: a server MUST NOT send 1 */
            if (c->role == LOOM_CLIENT && s.value != 0) {
                *why = "server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)";
                return LOOM_ERR_PROTOCOL;
            }
            break;
        case LOOM_SETTINGS_INITIAL_WINDOW_SIZE: {
            int64_t delta = (int64_t)s.value - st->peer[LOOM_SETTINGS_INITIAL_WINDOW_SIZE];
            if (loom__flow_send_shift(c, delta) < 0) {
                *why = "INITIAL_WINDOW_SIZE overflows a window (RFC 9113 §6.9.2)";
                return LOOM_ERR_FLOW_CONTROL;
            }
            if (delta > 0) {
                STREAMS_FOREACH (&c->streams, s2)
                    loom__sched_ready(c, s2);
            }
            break;
        }
        default: break;
        }
        if (s.id < sizeof(st->peer) / sizeof(st->peer[0])) st->peer[s.id] = s.value;
    }
    return 0;
}

void loom__settings_acked(loom_conn *c)
{
    settings_state *st = &c->settings;
    const settings_pending *p = st->pending ? &st->pending[0] : &no_change;
    if (p->header_table_size != UINT32_MAX) loom__decoder_table(c, p->header_table_size);
    if (p->initial_window_size != UINT32_MAX) {
        loom__flow_recv_shift(c, (int64_t)p->initial_window_size -
                                     LOOM__LOCAL(c, INITIAL_WINDOW_SIZE));
        LOOM__LOCAL(c, INITIAL_WINDOW_SIZE) = p->initial_window_size;
    }
    if (p->max_frame_size != UINT32_MAX) loom_frame_reader_set_max(&c->reader, p->max_frame_size);
    if (p->enable_push == 0) LOOM__LOCAL(c, ENABLE_PUSH) = 0;
    st->unacked--;
    if (st->pending) {
        memmove(&st->pending[0], &st->pending[1], sizeof(st->pending[0]) * (size_t)st->unacked);
        if (!st->unacked) {
            loom_free(c->mem, st->pending);
            st->pending = NULL;
        }
    }
    st->sent_at = loom__now(c);
}

int loom__settings_overdue(loom_conn *c, uint32_t ms)
{
    return c->settings.unacked && loom__now(c) - c->settings.sent_at > ms;
}

/* ---- our SETTINGS after the preface ---- */

int loom_submit_settings(loom_conn *c, const loom_setting *list, size_t n)
{
    settings_state *st = &c->settings;
    if (c->dead) return LOOM_ERR_STATE;
    if (st->unacked >= SETTINGS_MAX_UNACKED) return LOOM_ERR_LIMIT; /* bounded */
    int may_lower = 0; /* a value that binds once acknowledged: keep a record */
    for (size_t i = 0; i < n; i++) {
        uint32_t v = list[i].value;
        may_lower |= list[i].id == LOOM_SETTINGS_HEADER_TABLE_SIZE ||
                     list[i].id == LOOM_SETTINGS_INITIAL_WINDOW_SIZE ||
                     list[i].id == LOOM_SETTINGS_MAX_FRAME_SIZE ||
                     list[i].id == LOOM_SETTINGS_ENABLE_PUSH;
        switch (list[i].id) {
        case LOOM_SETTINGS_ENABLE_PUSH:
            if (v > 1 || (v == 1 && c->role == LOOM_SERVER)) return LOOM_ERR_INVALID;
            break;
        case LOOM_SETTINGS_INITIAL_WINDOW_SIZE:
            if (v > LOOM_MAX_WINDOW) return LOOM_ERR_INVALID;
            break;
        case LOOM_SETTINGS_MAX_FRAME_SIZE:
            if (v < LOOM_MAX_FRAME_SIZE_MIN || v > LOOM_MAX_FRAME_SIZE_MAX) return LOOM_ERR_INVALID;
            break;
        default: break;
        }
    }
    if (may_lower && pending_ring(c) < 0) return LOOM_ERR_NOMEM;
    settings_pending rec = no_change, *p = &rec;
    int rc = loom__queue_settings(c, list, n);
    if (rc < 0) return rc;
    if (!st->unacked) st->sent_at = loom__now(c);
    /* A raised limit binds at once (the peer may use it as soon as it reads
     * the frame); a lowered one once acknowledged (RFC 9113 §6.5.3), since
     * until then the peer may still act on the old value. */
    for (size_t i = 0; i < n; i++) {
        uint32_t v = list[i].value;
        switch (list[i].id) {
        case LOOM_SETTINGS_HEADER_TABLE_SIZE:
            if (v >= LOOM__LOCAL(c, HEADER_TABLE_SIZE))
                loom__decoder_table(c, v);
            else
                p->header_table_size = v;
            LOOM__LOCAL(c, HEADER_TABLE_SIZE) = v;
            break;
        case LOOM_SETTINGS_INITIAL_WINDOW_SIZE:
            if (v >= LOOM__LOCAL(c, INITIAL_WINDOW_SIZE)) {
                loom__flow_recv_shift(c, (int64_t)v - LOOM__LOCAL(c, INITIAL_WINDOW_SIZE));
                LOOM__LOCAL(c, INITIAL_WINDOW_SIZE) = v;
            } else {
                p->initial_window_size = v;
            }
            break;
        case LOOM_SETTINGS_MAX_FRAME_SIZE:
            if (v >= c->reader.max_frame_size)
                loom_frame_reader_set_max(&c->reader, v);
            else
                p->max_frame_size = v;
            LOOM__LOCAL(c, MAX_FRAME_SIZE) = v;
            break;
        case LOOM_SETTINGS_ENABLE_PUSH:
            if (v)
                LOOM__LOCAL(c, ENABLE_PUSH) = 1;
            else
                p->enable_push = 0;
            break;
        case LOOM_SETTINGS_MAX_CONCURRENT_STREAMS:
            LOOM__LOCAL(c, MAX_CONCURRENT_STREAMS) = v;
            break;
        case LOOM_SETTINGS_MAX_HEADER_LIST_SIZE:
            LOOM__LOCAL(c, MAX_HEADER_LIST_SIZE) = v;
            if (c->dec) loom_hpack_decoder_set_max_list_size(c->dec, v);
            break;
        default: break;
        }
    }
    pending_push(c, p);
    return 0;
}

uint32_t loom_conn_peer_setting(const loom_conn *c, uint16_t id)
{
    return id < sizeof(c->settings.peer) / sizeof(c->settings.peer[0]) ? c->settings.peer[id] : 0;
}
