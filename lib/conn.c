/* The connection object: its configuration, creation and end, the one
 * place a stream ends, connection errors, timeouts, the HTTP/1.1 Upgrade,
 * and inspection. Receiving is in recv.c, sending in send.c; both call
 * down into this file, never the other way round. */
#include <string.h>

#include "conn_internal.h"

static const uint8_t client_magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define MAGIC_LEN 24

/* ---- configuration ---- */

/* The smallest layout any caller may pass: the first versioned one (0.2),
 * up to `mem`. Fields added later go after it, and a caller built before
 * them gets their defaults. */
#define CONFIG_MIN_SIZE (offsetof(loom_config, mem) + sizeof(((loom_config *)0)->mem))

int loom_config_init(loom_config *out, size_t size, loom_role role)
{
    if (size < CONFIG_MIN_SIZE || size > UINT32_MAX) return LOOM_ERR_VERSION;
    loom_config d;
    memset(&d, 0, sizeof(d));
    d.header_table_size = 4096;
    d.enable_push = role == LOOM_CLIENT;
    d.max_concurrent_streams = 100;
    /* Large enough that a bulk transfer on loopback is not window-bound. */
    d.initial_window_size = 1u << 20;
    d.max_frame_size = LOOM_MAX_FRAME_SIZE_MIN;
    d.max_header_list_size = LOOM_HPACK_DEFAULT_MAX_LIST_SIZE;
    d.connection_window = 16u << 20;
    d.no_rfc7540_priorities = 1;
    d.window_ms = 1000;
    d.reset_burst = 1000; /* nghttp2's defaults for its reset bucket */
    d.reset_rate = 33;
    d.max_pings = 100;
    d.max_settings = 100;
    d.max_empty_frames = 200;
    d.max_priority_frames = 1000;
    d.max_continuations = 32;
    d.max_header_block = 2 * LOOM_HPACK_DEFAULT_MAX_LIST_SIZE;
    d.max_control_queue = 1000;
    d.max_closed_streams = 128;
    d.max_send_buffer = 1u << 20;
    /* a caller built with a newer, larger layout gets zeros past ours */
    if (size > sizeof(d)) memset((char *)out + sizeof(d), 0, size - sizeof(d));
    memcpy(out, &d, size < sizeof(d) ? size : sizeof(d));
    out->size = (uint32_t)size;
    return 0;
}

/* The caller's configuration over the defaults: fields its layout has
 * are its own, later ones default. A larger layout (a newer caller) is
 * taken when what this library does not know of it is all zero, as
 * Linux's copy_struct_from_user() does. */
static int config_take(loom_config *cfg, const loom_config *user, loom_role role)
{
    loom_config_init(cfg, sizeof(*cfg), role);
    if (!user) return 0;
    size_t size = user->size;
    if (size < CONFIG_MIN_SIZE) return LOOM_ERR_VERSION;
    for (size_t i = sizeof(*cfg); i < size; i++)
        if (((const uint8_t *)user)[i]) return LOOM_ERR_VERSION;
    memcpy(cfg, user, size < sizeof(*cfg) ? size : sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    if (cfg->max_frame_size < LOOM_MAX_FRAME_SIZE_MIN ||
        cfg->max_frame_size > LOOM_MAX_FRAME_SIZE_MAX ||
        cfg->initial_window_size > LOOM_MAX_WINDOW || cfg->connection_window > LOOM_MAX_WINDOW ||
        cfg->connection_window < 65535)
        return LOOM_ERR_INVALID;
    return 0;
}

int loom_config_check(const loom_config *cfg, loom_role role)
{
    loom_config c;
    return config_take(&c, cfg, role);
}

/* ---- life ---- */

loom_conn *loom_conn_new(loom_role role, const loom_config *user_cfg, loom_on_event on_event,
                         void *user)
{
    loom_config cfg;
    if (config_take(&cfg, user_cfg, role) < 0) return NULL;
    const loom_mem *mem = cfg.mem ? cfg.mem : loom_mem_default();
    /* a shared configuration of this layout is pointed to; any other is
     * copied behind the connection */
    int shared = cfg.shared && user_cfg->size == sizeof(cfg);
    loom_conn *c = loom_malloc(mem, sizeof(*c) + (shared ? 0 : sizeof(cfg)));
    if (!c) return NULL;
    memset(c, 0, sizeof(*c));
    if (shared) {
        c->cfg = user_cfg;
    } else {
        memcpy(c + 1, &cfg, sizeof(cfg));
        c->cfg = (const loom_config *)(c + 1);
    }
    c->role = role;
    c->mem = mem;
    c->cb = on_event;
    c->user = user;
    uint32_t *local = c->settings.local;
    local[LOOM_SETTINGS_HEADER_TABLE_SIZE] = cfg.header_table_size;
    local[LOOM_SETTINGS_ENABLE_PUSH] = role == LOOM_SERVER ? 0 : cfg.enable_push;
    local[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS] = cfg.max_concurrent_streams;
    local[LOOM_SETTINGS_INITIAL_WINDOW_SIZE] = cfg.initial_window_size;
    local[LOOM_SETTINGS_MAX_FRAME_SIZE] = cfg.max_frame_size;
    local[LOOM_SETTINGS_MAX_HEADER_LIST_SIZE] = cfg.max_header_list_size;
    c->budget_milli = (int64_t)cfg.reset_burst * 1000; /* the bucket starts full */
    c->budget_at = loom__now(c);
    /* DATA on reset streams: their windows, and this much beside for a
     * peer's stray frames after its END_STREAM (RFC 9113 §5.1 has them
     * ignored) */
    c->reset_allowance = 65535;
    loom__streams_init(&c->streams, cfg.max_closed_streams, mem);
    c->sched.ops = &loom__sched_rfc9218;
    c->flow.send_window = 65535;
    c->flow.recv_window = cfg.connection_window;
    c->next_local_id = role == LOOM_CLIENT ? 1 : 2;
    c->next_push_id = 2;
    c->preface_got = role == LOOM_SERVER ? 0 : MAGIC_LEN;
    loom_frame_reader_init(&c->reader, cfg.max_frame_size, mem);
    /* RFC 9113 §6.5.2: both ends start at 4096. A larger local size binds
     * as soon as our SETTINGS is sent; a smaller one once acknowledged
     * (the decoder is made at the first field block, with the size as it
     * stands then). */
    c->dec_table = cfg.header_table_size > LOOM_HPACK_DEFAULT_TABLE_SIZE
                       ? cfg.header_table_size
                       : LOOM_HPACK_DEFAULT_TABLE_SIZE;
    c->enc_min_table = LOOM_HPACK_DEFAULT_TABLE_SIZE;
    c->win_start = loom__now(c);

    /* Our preface (RFC 9113 §3.4): the client magic, then SETTINGS, then
     * the connection window beyond the default 65535. */
    int rc = 0;
    if (role == LOOM_CLIENT)
        rc = loom__buf_append(mem, &c->queue.stage, client_magic, MAGIC_LEN, SIZE_MAX);
    if (rc == 0) rc = loom__settings_start(c);
    if (rc == 0 && cfg.connection_window > 65535)
        rc = loom__queue_window_update(c, 0, cfg.connection_window - 65535);
    if (rc < 0) {
        loom_conn_free(c);
        return NULL;
    }
    c->queue.n_ctrl = 0; /* ours, not answers to the peer */
    return c;
}

int loom__decoder_start(loom_conn *c)
{
    c->dec = loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE,
                                    LOOM__LOCAL(c, MAX_HEADER_LIST_SIZE), c->mem);
    if (!c->dec) return LOOM_ERR_NOMEM;
    if (c->dec_table != LOOM_HPACK_DEFAULT_TABLE_SIZE)
        loom_hpack_decoder_set_max_table_size(c->dec, c->dec_table);
    return 0;
}

int loom__rx_start(loom_conn *c)
{
    if (c->rx) return 0;
    c->rx = loom_malloc(c->mem, sizeof(*c->rx));
    if (!c->rx) return LOOM_ERR_NOMEM;
    memset(c->rx, 0, sizeof(*c->rx));
    loom_hpack_list_init(&c->rx->list, c->mem);
    return 0;
}

static void rx_free(loom_conn *c)
{
    if (!c->rx) return;
    loom_hpack_list_free(&c->rx->list);
    loom__buf_free(c->mem, &c->rx->frag);
    loom_free(c->mem, c->rx);
    c->rx = NULL;
}

void loom_conn_free(loom_conn *c)
{
    if (!c) return;
    /* streams still open end here: the application hears of each (CANCEL)
     * so it can release what it tied to them */
    stream_store *t = &c->streams;
    for (size_t b = 0; b < t->nbuckets; b++)
        while (t->buckets[b]) {
            stream *s = t->buckets[b];
            if (s->state == ST_CLOSED) { /* mid-close in a callback: just unlink */
                loom__streams_remove(t, s);
                continue;
            }
            loom__stream_end(c, s, CLOSED_NORMAL, LOOM_H2_CANCEL, 0, 0);
        }
    loom_frame_reader_free(&c->reader);
    loom_hpack_decoder_free(c->dec);
    loom_hpack_encoder_free(c->enc);
    loom_free(c->mem, c->settings.pending);
    loom__streams_free(t);
    loom__sched_free(c);
    rx_free(c);
    loom__buf_free(c->mem, &c->queue.stage);
    loom__buf_free(c->mem, &c->batch);
    loom__buf_free(c->mem, &c->ebuf);
    loom_free(c->mem, c->pieces);
    loom_free(c->mem, c->close_after);
    loom_free(c->mem, c);
}

int loom_conn_shrink(loom_conn *c)
{
    if (c->streams.n || c->batch_open || c->building || c->queue.stage.len || c->reader.have ||
        c->block.stream)
        return 0;
    loom__buf_free(c->mem, &c->queue.stage);
    loom__buf_free(c->mem, &c->batch);
    loom__buf_free(c->mem, &c->ebuf);
    loom_free(c->mem, c->pieces);
    c->pieces = NULL;
    c->pieces_cap = c->npieces = c->piece_at = c->piece_done = 0;
    loom_free(c->mem, c->close_after);
    c->close_after = NULL;
    c->close_cap = c->nclose_after = 0;
    loom_frame_reader_free(&c->reader);
    rx_free(c);
    loom__streams_trim(&c->streams);
    loom__sched_trim(c);
    return 1;
}

/* ---- streams ---- */

stream *loom__stream_open(loom_conn *c, int32_t id, uint8_t state)
{
    if (loom__sched_lists(c) < 0) return NULL;
    stream *s = loom__streams_new(&c->streams, id, state);
    if (!s) return NULL;
    s->urgency = 3; /* RFC 9218 §4.1 */
    s->content_length = -1;
    s->body.fd = -1;
    s->send_window = c->settings.peer[LOOM_SETTINGS_INITIAL_WINDOW_SIZE];
    s->recv_window = LOOM__LOCAL(c, INITIAL_WINDOW_SIZE);
    s->local = (id & 1) == (c->role == LOOM_CLIENT);
    c->sched.ops->open(c, s);
    return s;
}

void loom__stream_end(loom_conn *c, stream *s, uint8_t how, uint32_t code, int by_peer,
                      int retry_safe)
{
    loom__sched_unready(c, s);
    c->sched.ops->close(c, s);
    if (s->counted) {
        if (s->local)
            c->open_local--;
        else
            c->open_remote--;
    }
    loom__streams_remember(&c->streams, s->id,
                           how == CLOSED_RESET_SENT ? ST_CLOSED_IGNORED : ST_CLOSED);
    /* what the peer may still send on it, in flight when it learns of the
     * reset (its frames are then ignored, RFC 9113 §5.1) */
    if (how == CLOSED_RESET_SENT && s->in != IN_DONE && s->recv_window > 0)
        loom__reset_allowance_add(c, s->recv_window);
    s->state = ST_CLOSED;
    /* reported while the stream can still be looked up (its user pointer) */
    loom_event ev = {.type = LOOM_EV_STREAM_CLOSED, .stream_id = s->id, .stream_user = s->user};
    ev.u.closed.error_code = code;
    ev.u.closed.by_peer = by_peer;
    ev.u.closed.retry_safe = retry_safe;
    loom__emit(c, &ev);
    loom__streams_remove(&c->streams, s);
}

int loom__is_idle(const loom_conn *c, int32_t id)
{
    int ours = (id & 1) == (c->role == LOOM_CLIENT);
    /* a server's own streams are the ones it promised (next_push_id) */
    if (ours) return (uint32_t)id >= (c->role == LOOM_SERVER ? c->next_push_id : c->next_local_id);
    if (id & 1) return id > c->last_peer_id;
    return id > c->last_promised_id; /* a push stream the server has not promised */
}

/* ---- errors ---- */

int32_t loom__last_peer_stream(const loom_conn *c)
{
    return c->role == LOOM_CLIENT ? c->last_promised_id : c->last_peer_id;
}

int loom__conn_error(loom_conn *c, int err, const char *why)
{
    if (c->dead) return c->err;
    c->dead = 1;
    c->err = err;
    /* §6.8: the last stream id sent MUST NOT increase: streams ignored
     * after an earlier GOAWAY do not count */
    int32_t last = loom__last_peer_stream(c);
    if (c->goaway.sent && c->goaway.last_sent < last) last = c->goaway.last_sent;
    loom__queue_goaway(c, last, loom_err_h2_code(err), why);
    loom_event ev = {.type = LOOM_EV_ERROR};
    ev.u.error.err = err;
    ev.u.error.reason = why;
    loom__emit(c, &ev);
    return err;
}

void loom__drain_check(loom_conn *c, stream *s)
{
    if (!s->draining || s->state != ST_HALF_CLOSED_LOCAL || s->recv_window > 0) return;
    if (c->batch_open || c->building) { /* the response may still be in it: after */
        loom__close_after(c, s->id);
        return;
    }
    if (loom__queue_rst(c, s->id, LOOM_H2_NO_ERROR, 0) < 0) return; /* next time, then */
    loom__stream_apply(s, EV_S_RST);
    loom__stream_end(c, s, CLOSED_RESET_SENT, LOOM_H2_NO_ERROR, 0, 0);
}

int loom__encoder_start(loom_conn *c)
{
    c->enc = loom_hpack_encoder_new(c->mem);
    if (!c->enc) return LOOM_ERR_NOMEM;
    /* the peer's SETTINGS_HEADER_TABLE_SIZE, if it said one: the smallest
     * it said first (RFC 7541 §4.2: the smallest size of the interval is
     * signalled), then where it is now, as an encoder made at the start
     * would have been told */
    uint32_t peer = c->settings.peer[LOOM_SETTINGS_HEADER_TABLE_SIZE];
    if (c->enc_min_table < LOOM_HPACK_DEFAULT_TABLE_SIZE &&
        loom_hpack_encoder_set_max_table_size(c->enc, c->enc_min_table) < 0)
        return LOOM_ERR_NOMEM;
    if (loom_hpack_encoder_set_max_table_size(c->enc, peer) < 0) return LOOM_ERR_NOMEM;
    return 0;
}

int loom__spend_reset(loom_conn *c, const char *why)
{
    uint64_t now = loom__now(c);
    int64_t cap = (int64_t)c->cfg->reset_burst * 1000;
    if (now > c->budget_at) {
        /* reset_rate tokens a second is reset_rate thousandths a ms */
        uint64_t ms = now - c->budget_at;
        int64_t back = ms > (uint64_t)INT32_MAX ? cap : (int64_t)ms * c->cfg->reset_rate;
        c->budget_milli = c->budget_milli + back > cap ? cap : c->budget_milli + back;
    }
    c->budget_at = now;
    if (c->budget_milli < 1000) return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, why);
    c->budget_milli -= 1000;
    return 0;
}

int loom_conn_check_timeouts(loom_conn *c, uint32_t settings_timeout_ms)
{
    if (c->dead) return c->err;
    /* §6.5.3: SETTINGS not acknowledged in time */
    if (loom__settings_overdue(c, settings_timeout_ms))
        return loom__conn_error(c, LOOM_ERR_SETTINGS_TIMEOUT,
                                "SETTINGS not acknowledged (RFC 9113 §6.5.3)");
    return 0;
}

/* ---- the HTTP/1.1 Upgrade (RFC 9113 §3.1, RFC 7540 §3.2) ---- */

/* 8 octets a step (multiply and fold); the authority of every request is
 * hashed, so that pushes can be held to it cheaply. */
static uint64_t hash64(const uint8_t *p, size_t n)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h = k ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        h = (h ^ x) * k;
        h ^= h >> 29;
    }
    /* the last 1-7 octets as overlapping loads, without a call to memcpy
     * (n, mixed in above, tells the overlaps apart) */
    uint64_t w = 0;
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = (uint64_t)a << 32 | b;
    } else if (n) {
        w = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    }
    h = (h ^ w) * k;
    return h ^ (h >> 32);
}

uint64_t loom__authority_hash(const uint8_t *p, size_t n)
{
    return hash64(p, n);
}

/* What an upgraded request says about its stream: HEAD (no body in the
 * response), and the authority pushes must match. */
static void upgraded_request(stream *s, const loom_hpack_field *req, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (LOOM__NAME_IS(&req[i], ":method"))
            s->head = req[i].value_len == 4 && !memcmp(req[i].value, "HEAD", 4);
        if (LOOM__NAME_IS(&req[i], ":authority"))
            s->authority_hash = hash64(req[i].value, req[i].value_len);
    }
}

int loom_conn_upgrade(loom_conn *c, const uint8_t *settings, size_t len,
                      const loom_hpack_field *req, size_t n)
{
    if (c->role == LOOM_CLIENT) {
        /* the client's side: the request it sent over HTTP/1.1 is stream 1,
         * half-closed (local), awaiting its response */
        if (c->next_local_id != 1) return LOOM_ERR_STATE;
        stream *s = loom__stream_open(c, 1, ST_IDLE);
        if (!s) return LOOM_ERR_NOMEM;
        loom__stream_apply(s, EV_S_HEADERS);
        loom__stream_apply(s, EV_S_END_STREAM);
        s->counted = 1;
        upgraded_request(s, req, n);
        c->open_local++;
        c->next_local_id = 3;
        return 0;
    }
    if (c->last_peer_id != 0 || len % 6) return LOOM_ERR_STATE;
    /* HTTP2-Settings is applied as if it were the client's SETTINGS, with
     * the same checks; the 101 response acknowledges it. */
    for (size_t i = 0; i < len; i += 6) {
        uint8_t hd[LOOM_FRAME_HEADER_LEN + 6] = {0, 0, 6, LOOM_FRAME_SETTINGS, 0, 0, 0, 0, 0};
        loom_frame one;
        loom_frame_error e;
        memcpy(hd + LOOM_FRAME_HEADER_LEN, settings + i, 6);
        if (loom_frame_parse(hd, sizeof(hd), LOOM_MAX_FRAME_SIZE_MIN, &one, &e) < 0)
            return LOOM_ERR_PROTOCOL;
    }
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_SETTINGS;
    f.hd.length = (uint32_t)len;
    f.u.settings.wire = settings;
    f.u.settings.count = len / 6;
    const char *why;
    int rc = loom__settings_apply(c, &f, &why);
    if (rc < 0) return rc;
    /* the request becomes stream 1, half-closed (remote) */
    stream *s = loom__stream_open(c, 1, ST_IDLE);
    if (!s) return LOOM_ERR_NOMEM;
    loom__stream_apply(s, EV_R_HEADERS);
    loom__stream_apply(s, EV_R_END_STREAM);
    s->counted = 1;
    s->in = IN_DONE;
    upgraded_request(s, req, n);
    c->open_remote++;
    c->last_peer_id = 1;
    return 0;
}

/* ---- inspection ---- */

void *loom_stream_get_user(loom_conn *c, int32_t sid)
{
    stream *s = loom__streams_find(&c->streams, sid);
    return s ? s->user : NULL;
}

int loom_stream_set_user(loom_conn *c, int32_t sid, void *user)
{
    stream *s = loom__streams_find(&c->streams, sid);
    if (!s) return LOOM_ERR_STATE;
    s->user = user;
    return 0;
}

void loom_conn_get_stats(const loom_conn *c, loom_conn_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->open_streams = (uint32_t)c->streams.n;
    st->last_peer_stream = c->last_peer_id;
    st->send_window = c->flow.send_window;
    st->recv_window = c->flow.recv_window;
    st->rtt_us = c->stats.rtt_us;
    st->frames_in = c->stats.frames_in;
    st->frames_out = c->stats.frames_out;
    st->header_bytes_in = c->stats.hbytes_in;
    st->header_bytes_out = c->stats.hbytes_out;
}
