/* Internal: the connection engine's state, shared by conn.c (receiving),
 * send.c (submissions, scheduling, output) and stream.c (the stream table). */
#ifndef LOOM_LIB_CONN_INTERNAL_H
#define LOOM_LIB_CONN_INTERNAL_H

#include "fields.h"
#include "loom/conn.h"
#include "mem.h"

/* RFC 9113 §5.1 */
typedef enum {
    ST_IDLE,
    ST_RESERVED_LOCAL,
    ST_RESERVED_REMOTE,
    ST_OPEN,
    ST_HALF_CLOSED_LOCAL,
    ST_HALF_CLOSED_REMOTE,
    ST_CLOSED,
} stream_state;

/* What the receiving side of a stream expects next. */
enum { IN_HEADERS, IN_BODY, IN_DONE };

typedef struct stream {
    int32_t id;
    uint8_t state;
    uint8_t in;          /* IN_* */
    uint8_t head;        /* client: the request was HEAD, so the response has no body */
    uint8_t ready;       /* in a scheduler list */
    uint8_t urgency;     /* RFC 9218, 0 most urgent */
    uint8_t incremental; /* RFC 9218 */
    uint8_t has_body;    /* a body is to be sent after the HEADERS */
    uint8_t deferred;    /* the body source said LOOM_BODY_DEFER */
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
    struct stream *next_ready, *prev_ready;
    /* RFC 7540 §5.3 tree (priority.c) */
    struct stream *pparent, *pchild, *psibling;
    uint16_t weight;
    uint32_t pready;      /* ready streams in this subtree */
    uint64_t pcycle, pvt; /* virtual time of this node; of its last child served */
} stream;

/* How a closed stream ended, remembered for frames that come after it. */
enum { CLOSED_NORMAL, CLOSED_RESET_SENT, CLOSED_RESET_RECEIVED };

/* Values of one SETTINGS frame of ours that bind once acknowledged. */
typedef struct {
    uint32_t header_table_size, initial_window_size, max_frame_size, enable_push;
} pending_settings;

/* A piece of output: bytes in the batch buffer, caller memory, or a file. */
typedef struct {
    uint8_t kind; /* 0 batch buffer, 1 memory, 2 file */
    int fd;
    size_t off; /* batch: offset in batch; file: unused */
    const uint8_t *mem;
    uint64_t file_off;
    size_t len;
} piece;

#define MAX_PIECES 64

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes;

struct loom_conn {
    loom_role role;
    loom_config cfg;
    loom_on_event cb;
    void *user;
    const loom_mem *mem;

    /* receiving */
    size_t preface_got; /* server: octets of the client magic matched */
    int settings_got;   /* the peer's first SETTINGS arrived */
    loom_frame_reader reader;
    int dead; /* a connection error: input is ignored */
    int err;
    loom_hpack_decoder *dec;
    /* a field block in progress (HEADERS/PUSH_PROMISE + CONTINUATION) */
    int32_t hb_stream, hb_promised;
    uint8_t hb_type, hb_end_stream, hb_reset; /* hb_reset: decode only, stream refused */
    uint32_t hb_frames;
    bytes hb;
    /* fields of the block being decoded */
    loom_hpack_field *fields;
    size_t nfields, fields_cap;
    bytes fb;

    /* peer settings, by id (1..9) */
    uint32_t peer[10];
    int settings_unacked; /* our SETTINGS frames not acknowledged yet */
    /* values that bind only once acknowledged (lowered limits), per
     * outstanding SETTINGS frame, oldest first; UINT32_MAX: no change */
    pending_settings pending[8];
    uint64_t settings_sent_at;

    /* streams */
    stream **buckets;
    size_t nbuckets, nstreams;
    stream *free_streams;
    uint32_t open_local, open_remote;
    int32_t last_peer_id, last_promised_id;
    int64_t next_local_id; /* past 2^31-1 when the ids ran out (§5.1.1) */
    struct {
        int32_t id;
        uint8_t how;
    } * closed;
    size_t nclosed, closed_pos;

    /* connection flow control */
    int64_t send_window, recv_window;
    uint32_t recv_unacked;

    /* GOAWAY */
    int goaway_sent, goaway_final_pending, goaway_received;
    int32_t goaway_last_sent, goaway_last_recv;
    uint32_t goaway_code;
    uint8_t goaway_ping[8];

    /* output */
    loom_hpack_encoder *enc;
    bytes stage; /* control frames and field blocks waiting for a batch */
    bytes batch; /* the batch being written */
    piece pieces[MAX_PIECES];
    size_t npieces, piece_at, piece_done;
    int batch_open, building;
    int32_t close_after[MAX_PIECES]; /* streams to close once the batch is written */
    size_t nclose_after;
    uint32_t n_ctrl; /* frames staged in answer to the peer */
    bytes ebuf;      /* a field block being encoded */
    stream *ready_head[8], *ready_tail[8];
    stream proot;   /* root of the RFC 7540 tree */
    int prio7540;   /* the peer sent RFC 7540 priority signals */
    int prio_field; /* the peer sent an RFC 9218 priority field */
    int64_t next_push_id;

    /* defences: counts within the current window */
    uint64_t win_start;
    uint32_t n_resets, n_pings, n_settings, n_empty, n_prio;

    /* stats */
    uint64_t ping_sent_at, rtt_us;
    uint64_t frames_in, frames_out, hbytes_in, hbytes_out;
};

/* stream.c */
stream *loom_stream_find(loom_conn *c, int32_t id);
stream *loom_stream_new(loom_conn *c, int32_t id, uint8_t state);
void loom_stream_close(loom_conn *c, stream *s, uint8_t how, uint32_t code, int by_peer,
                       int retry_safe);
int loom_stream_closed_how(const loom_conn *c, int32_t id);
/* Records how a stream that has no stream object ended (one refused or
 * reset before it was created), for the frames that follow it (§5.1). */
void loom_stream_remember(loom_conn *c, int32_t id, uint8_t how);
void loom_streams_free(loom_conn *c);

/* priority.c */
void loom_prio_init(loom_conn *c, stream *s);
void loom_prio_set(loom_conn *c, stream *s, const loom_priority_spec *pri);
void loom_prio_remove(loom_conn *c, stream *s);
void loom_prio_ready(stream *s, int ready);
stream *loom_prio_pick(loom_conn *c);
void loom_prio_charge(loom_conn *c, stream *s, size_t n);

/* conn.c */
int32_t loom_last_peer_stream(const loom_conn *c);

/* send.c */
void loom_settings_acked(loom_conn *c);
int loom_stage_frame(loom_conn *c, const loom_frame *f, int from_peer);
int loom_stage_settings(loom_conn *c, const loom_setting *list, size_t n);
int loom_stage_rst(loom_conn *c, int32_t sid, uint32_t code, int from_peer);
int loom_stage_window_update(loom_conn *c, int32_t sid, uint32_t inc);
int loom_stage_goaway(loom_conn *c, int32_t last, uint32_t code, const char *debug);
void loom_ready(loom_conn *c, stream *s);
void loom_unready(loom_conn *c, stream *s);
void loom_recv_credit(loom_conn *c, stream *s, size_t conn_n, size_t stream_n);
uint64_t loom_now(loom_conn *c);
int loom_emit(loom_conn *c, loom_event *ev);

#endif
