/* loom frame codec: RFC 9113 §4 and §6 frames, plus PRIORITY_UPDATE
 * (RFC 9218 §7) and ORIGIN (RFC 8336).
 *
 * Parsing never copies a payload: a parsed frame's pointers point into the
 * caller's input, or into the reader's buffer for a frame that arrived split
 * across calls. Writing never allocates: the caller gives the buffer. */
#ifndef LOOM_FRAME_H
#define LOOM_FRAME_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_FRAME_HEADER_LEN 9

/* RFC 9113 §4.2 / §6.5.2 */
#define LOOM_MAX_FRAME_SIZE_MIN 16384u
#define LOOM_MAX_FRAME_SIZE_MAX 16777215u
#define LOOM_MAX_WINDOW         0x7fffffffu
#define LOOM_MAX_STREAM_ID      0x7fffffffu

typedef enum {
    LOOM_FRAME_DATA = 0x0,
    LOOM_FRAME_HEADERS = 0x1,
    LOOM_FRAME_PRIORITY = 0x2,
    LOOM_FRAME_RST_STREAM = 0x3,
    LOOM_FRAME_SETTINGS = 0x4,
    LOOM_FRAME_PUSH_PROMISE = 0x5,
    LOOM_FRAME_PING = 0x6,
    LOOM_FRAME_GOAWAY = 0x7,
    LOOM_FRAME_WINDOW_UPDATE = 0x8,
    LOOM_FRAME_CONTINUATION = 0x9,
    LOOM_FRAME_ORIGIN = 0xc,           /* RFC 8336 */
    LOOM_FRAME_PRIORITY_UPDATE = 0x10, /* RFC 9218 */
} loom_frame_type;

enum {
    LOOM_FLAG_END_STREAM = 0x01,
    LOOM_FLAG_ACK = 0x01,
    LOOM_FLAG_END_HEADERS = 0x04,
    LOOM_FLAG_PADDED = 0x08,
    LOOM_FLAG_PRIORITY = 0x20,
};

/* RFC 9113 §6.5.2 and extensions */
typedef enum {
    LOOM_SETTINGS_HEADER_TABLE_SIZE = 0x1,
    LOOM_SETTINGS_ENABLE_PUSH = 0x2,
    LOOM_SETTINGS_MAX_CONCURRENT_STREAMS = 0x3,
    LOOM_SETTINGS_INITIAL_WINDOW_SIZE = 0x4,
    LOOM_SETTINGS_MAX_FRAME_SIZE = 0x5,
    LOOM_SETTINGS_MAX_HEADER_LIST_SIZE = 0x6,
    LOOM_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8, /* RFC 8441 */
    LOOM_SETTINGS_NO_RFC7540_PRIORITIES = 0x9,   /* RFC 9218 */
} loom_settings_id;

typedef struct {
    uint32_t length; /* 24 bits */
    uint8_t type;
    uint8_t flags;
    uint32_t stream_id; /* 31 bits; the reserved bit is dropped */
} loom_frame_hd;

typedef struct {
    uint16_t id;
    uint32_t value;
} loom_setting;

/* RFC 9113 §5.3.2 (deprecated scheme, still parsed). weight is 1..256. */
typedef struct {
    uint32_t depends_on;
    uint16_t weight;
    uint8_t exclusive;
} loom_priority_spec;

typedef struct {
    loom_frame_hd hd;
    /* Set by the parser when the RFC says the receiver ignores the frame:
     * an unknown type (RFC 9113 §4.1, §5.5) or ORIGIN on a stream (RFC 8336
     * §2.1). Its payload is in `raw`. */
    uint8_t ignore;
    /* Padding octets after the content (PADDED flag); on writing, that many
     * zero octets are sent. */
    uint8_t pad_len;
    union {
        struct {
            const uint8_t *data;
            size_t len;
        } data;
        struct {
            loom_priority_spec pri; /* valid when hd.flags & LOOM_FLAG_PRIORITY */
            const uint8_t *block;   /* field block fragment */
            size_t len;
        } headers;
        loom_priority_spec priority;
        struct {
            uint32_t error_code;
        } rst_stream;
        struct {
            /* Parsed frames: `wire` points at count 6-octet entries, read them
             * with loom_frame_setting(). To write, set `list` instead. */
            const uint8_t *wire;
            const loom_setting *list;
            size_t count;
        } settings;
        struct {
            uint32_t promised_id;
            const uint8_t *block;
            size_t len;
        } push_promise;
        struct {
            uint8_t opaque[8];
        } ping;
        struct {
            uint32_t last_stream_id;
            uint32_t error_code;
            const uint8_t *debug;
            size_t debug_len;
        } goaway;
        struct {
            uint32_t increment;
        } window_update;
        struct {
            const uint8_t *block;
            size_t len;
        } continuation;
        struct {
            uint32_t stream_id;   /* the prioritized stream */
            const uint8_t *value; /* an RFC 9218 Priority Field Value */
            size_t len;
        } priority_update;
        struct {
            /* Origin-Entry list (2-octet length + ASCII origin, repeated);
             * walk it with loom_frame_origin_next(). */
            const uint8_t *entries;
            size_t len;
        } origin;
        struct {
            const uint8_t *payload;
            size_t len;
        } raw;
    } u;
} loom_frame;

/* Where a protocol error applies (RFC 9113 §5.4). */
typedef enum {
    LOOM_SCOPE_CONNECTION = 0, /* GOAWAY, then close */
    LOOM_SCOPE_STREAM = 1,     /* RST_STREAM on stream_id; the connection lives */
} loom_scope;

typedef struct {
    int err; /* a loom_err; loom_err_h2_code(err) is the wire code */
    loom_scope scope;
    uint32_t stream_id; /* the stream of a stream error */
    const char *reason; /* static text naming the rule, with its RFC section */
} loom_frame_error;

/* Parses one frame from `in`.
 *
 * Returns the number of octets the frame takes (> 0) and fills *f; 0 when
 * `in` does not hold a whole frame yet (need more input, not an error); or a
 * negative loom_err with *e filled.
 *
 * On a stream-scope error (e->scope == LOOM_SCOPE_STREAM) the frame is still
 * well delimited: *f is filled as far as the payload allowed, and the frame
 * takes LOOM_FRAME_HEADER_LEN + f->hd.length octets, so the caller resets the
 * stream and goes on. A field block in such a frame must still be fed to
 * HPACK to keep the tables in step. After a connection-scope error nothing
 * further from the peer is meaningful.
 *
 * max_frame_size is the local SETTINGS_MAX_FRAME_SIZE. */
LOOM_API int loom_frame_parse(const uint8_t *in, size_t len, uint32_t max_frame_size, loom_frame *f,
                              loom_frame_error *e);

/* Reads the 9-octet frame header. No checks. */
LOOM_API void loom_frame_hd_parse(const uint8_t in[LOOM_FRAME_HEADER_LEN], loom_frame_hd *hd);

/* Writes a 9-octet frame header; the reserved bit is sent as 0. */
LOOM_API void loom_frame_hd_pack(uint8_t out[LOOM_FRAME_HEADER_LEN], const loom_frame_hd *hd);

/* The payload length loom_frame_pack() writes for f (hd.length is ignored
 * and computed), including padding. */
LOOM_API size_t loom_frame_payload_len(const loom_frame *f);

/* Writes the whole frame, header included, into out. Returns the octets
 * written, LOOM_ERR_BUFFER when cap is too small, or LOOM_ERR_INVALID when
 * the frame cannot be represented (a field out of range, padding on a type
 * without a PADDED flag). The PADDED and PRIORITY flags in hd.flags choose
 * whether the pad length and priority fields are written. */
LOOM_API int loom_frame_pack(const loom_frame *f, uint8_t *out, size_t cap);

/* Entry i (< f->u.settings.count) of a parsed or to-be-written SETTINGS. */
LOOM_API loom_setting loom_frame_setting(const loom_frame *f, size_t i);

/* Iterates an ORIGIN frame's entries. *pos starts at 0. Returns 1 with
 * *origin and *len set, 0 at the end, LOOM_ERR_FRAME_SIZE for a truncated entry. */
LOOM_API int loom_frame_origin_next(const loom_frame *f, size_t *pos, const uint8_t **origin,
                                    size_t *len);

/* The name of a frame type ("HEADERS"), or "UNKNOWN". */
LOOM_API const char *loom_frame_type_name(uint8_t type);

/* An incremental reader: feed it the byte stream however it was split, get
 * frames out. Whole frames are parsed in place from the caller's input; only
 * a frame split across calls is gathered into the reader's buffer, which
 * never grows past LOOM_FRAME_HEADER_LEN + max_frame_size. */
typedef struct loom_frame_reader {
    const loom_mem *mem;
    uint32_t max_frame_size;
    uint8_t *buf;
    size_t have; /* octets of the partial frame gathered in buf */
    size_t cap;
    int dead; /* a connection error was returned */
} loom_frame_reader;

LOOM_API void loom_frame_reader_init(loom_frame_reader *r, uint32_t max_frame_size,
                                     const loom_mem *mem);
LOOM_API void loom_frame_reader_free(loom_frame_reader *r);

/* Takes the next frame. *used is set to the input octets consumed (always,
 * whatever the return). Returns 1 with *f set (its pointers valid until the
 * next call or until `in` changes), 0 when all of `in` was consumed and no
 * whole frame is left, or a negative loom_err with *e set. A stream-scope
 * error consumes its frame and the reader goes on; after a connection-scope
 * error every call returns that error again. */
LOOM_API int loom_frame_reader_next(loom_frame_reader *r, const uint8_t *in, size_t len,
                                    size_t *used, loom_frame *f, loom_frame_error *e);

/* Changes the limit (a new local SETTINGS_MAX_FRAME_SIZE once acknowledged). */
LOOM_API void loom_frame_reader_set_max(loom_frame_reader *r, uint32_t max_frame_size);

#ifdef __cplusplus
}
#endif

#endif
