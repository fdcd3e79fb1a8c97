/* Internal: HTTP message field validation (RFC 9113 §8.2, §8.3) and the
 * RFC 9218 Priority field. */
#ifndef LOOM_LIB_FIELDS_H
#define LOOM_LIB_FIELDS_H

#include <string.h>

#include "loom/hpack.h"
#include "static_table.h" /* loom__same: names compared without a call to memcmp */

typedef enum {
    LOOM_MSG_REQUEST,  /* a request a server received, or a pushed request */
    LOOM_MSG_RESPONSE, /* a response (final or 1xx) a client received */
    LOOM_MSG_TRAILERS, /* trailing fields of either */
} loom_msg_kind;

typedef struct {
    const uint8_t *method, *scheme, *authority, *path, *protocol;
    size_t method_len, scheme_len, authority_len, path_len, protocol_len;
    int status;             /* responses */
    int64_t content_length; /* -1 when absent */
    int has_priority;       /* a valid RFC 9218 priority field was present */
    uint8_t urgency, incremental;
} loom_msg_info;

/* Checks a field section. reps (NULL, or one per field as a
 * loom_hpack_list has them): fields marked LOOM_HPACK_CHECKED skip the
 * octet checks. Returns 0, or LOOM_ERR_PROTOCOL with *why set to the rule
 * broken (the message is malformed: a stream error). */
int loom__fields_check(const loom_hpack_field *f, const uint8_t *reps, size_t n, loom_msg_kind kind,
                       int connect_protocol, loom_msg_info *info, const char **why);

/* RFC 9113 §8.2.1: the octets of a name and a value are allowed. */
int loom__field_octets_ok(const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen);

/* RFC 9113 §8.2.1: the octets of a value are allowed (for a name known
 * valid, as the static table's are). */
int loom__field_value_ok(const uint8_t *value, size_t vlen);

/* Whether a response's fields start with a 1xx :status (RFC 9110 §15.2:
 * an interim response; RFC 9113 §8.1: the final one is still to come). */
int loom__fields_informational(const loom_hpack_field *f, size_t n);

/* Parses an RFC 9218 §4 Priority Field Value ("u=1, i"). Returns 1 when a
 * parameter was understood; unknown members are ignored (§4). */
int loom__priority_parse(const uint8_t *v, size_t n, uint8_t *urgency, uint8_t *incremental);

/* A field's name compared with a string literal (its length known to the
 * compiler). */
#define LOOM__NAME_IS(f, lit)                                                                      \
    ((f)->name_len == sizeof(lit) - 1 &&                                                           \
     loom__same((f)->name, (const uint8_t *)(lit), sizeof(lit) - 1))

/* Case-sensitive equality of a field's name with a C string. */
int loom__name_is(const loom_hpack_field *f, const char *name);

#endif
