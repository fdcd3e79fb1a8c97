/* Internal: the outbound queue. Control frames (SETTINGS, ACKs, PING,
 * RST_STREAM, WINDOW_UPDATE, GOAWAY) and field blocks wait here, packed,
 * for the next output batch (send.c). It is bounded twice: in octets
 * (cfg.max_send_buffer) and in frames owed to the peer (answers to its
 * frames, cfg.max_control_queue), so a peer that sends but never reads
 * cannot make us queue without end (RFC 9113 §10.5). A GOAWAY always fits:
 * it is the last word. */
#ifndef LOOM_LIB_QUEUE_H
#define LOOM_LIB_QUEUE_H

#include "buf.h"
#include "loom/frame.h"

struct loom_conn;

typedef struct {
    loom__buf stage;
    uint32_t n_ctrl; /* frames staged in answer to the peer */
} queue_state;

/* Each returns 0, LOOM_ERR_LIMIT when a bound is reached, or
 * LOOM_ERR_NOMEM. from_peer: the frame answers one of the peer's. */
int loom__queue_frame(struct loom_conn *c, const loom_frame *f, int from_peer);
int loom__queue_settings(struct loom_conn *c, const loom_setting *list, size_t n);
int loom__queue_rst(struct loom_conn *c, int32_t sid, uint32_t code, int from_peer);
int loom__queue_window_update(struct loom_conn *c, int32_t sid, uint32_t inc);
int loom__queue_goaway(struct loom_conn *c, int32_t last, uint32_t code, const char *debug);
/* Room for n more octets of a field block (LOOM_ERR_LIMIT past the bound
 * when bounded). */
int loom__queue_room(struct loom_conn *c, loom__buf *b, size_t n, int bounded);
/* Reports a frame written (LOOM_EV_FRAME, sent) and counts it. */
void loom__trace_sent(struct loom_conn *c, const loom_frame *f);

#endif
