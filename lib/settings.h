/* Internal: SETTINGS' whole lifecycle (RFC 9113 §6.5): ours staged in the
 * preface and later (a raised limit binds at once, a lowered one once the
 * peer acknowledges it), the peer's applied as they come, the ACKs both
 * ways, and the timeout of an unacknowledged SETTINGS (§6.5.3). */
#ifndef LOOM_LIB_SETTINGS_H
#define LOOM_LIB_SETTINGS_H

#include <stdint.h>

#include "loom/frame.h"

struct loom_conn;

#define SETTINGS_MAX_UNACKED 8

/* Values of one SETTINGS frame of ours that bind only once acknowledged;
 * UINT32_MAX: no change. */
typedef struct {
    uint32_t header_table_size, initial_window_size, max_frame_size, enable_push;
} settings_pending;

typedef struct {
    uint32_t peer[10]; /* the peer's, by id (1..9) */
    /* ours as they stand (ids 1..6), from the configuration, then
     * loom_submit_settings() */
    uint32_t local[7];
    uint8_t got;     /* the peer's first SETTINGS arrived */
    uint8_t unacked; /* our SETTINGS frames not acknowledged yet */
    /* oldest first, SETTINGS_MAX_UNACKED of them: on the heap while any
     * SETTINGS of ours is unacknowledged (an idle connection has none) */
    settings_pending *pending;
    uint64_t sent_at; /* of the oldest unacknowledged */
} settings_state;

/* The RFC's initial values for the peer's settings (§6.5.2), and our first
 * SETTINGS queued (the preface). */
int loom__settings_start(struct loom_conn *c);
/* The peer's SETTINGS (a frame's entries, or an HTTP2-Settings value):
 * checked and applied. Returns 0 or a connection-error loom_err with *why. */
int loom__settings_apply(struct loom_conn *c, const loom_frame *f, const char **why);
/* The peer acknowledged our oldest SETTINGS: its lowered limits bind. */
void loom__settings_acked(struct loom_conn *c);
/* Our oldest SETTINGS has waited more than ms for its ACK. */
int loom__settings_overdue(struct loom_conn *c, uint32_t ms);
/* Ours as they stand (ids 1..6). */
#define LOOM__LOCAL(c, id) ((c)->settings.local[LOOM_SETTINGS_##id])

#endif
