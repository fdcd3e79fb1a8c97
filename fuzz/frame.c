/* libFuzzer harness for the frame codec: arbitrary bytes through the parser
 * and through the incremental reader split at a fuzzer-chosen chunk size;
 * both must agree, and every frame parsed must write back to its own bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loom/frame.h"

static void check_repack(const loom_frame *f, const uint8_t *wire)
{
    size_t n = LOOM_FRAME_HEADER_LEN + f->hd.length;
    uint8_t *out = malloc(n), *want = malloc(n);
    int rc = loom_frame_pack(f, out, n);
    if (rc != (int)n) abort();
    /* What loom writes differs from what it read only where RFC 9113 lets
     * a receiver ignore the input: reserved bits (§4.1, §6.6, §6.8, §6.9;
     * RFC 9218 §7.1) are written as 0, and padding octets as 0 (§6.1). */
    memcpy(want, wire, n);
    want[5] &= 0x7f;
    size_t reserved = SIZE_MAX, off = LOOM_FRAME_HEADER_LEN;
    int padded = (f->hd.flags & LOOM_FLAG_PADDED) != 0;
    switch (f->hd.type) {
    case LOOM_FRAME_PUSH_PROMISE: reserved = off + (padded ? 1 : 0); break;
    case LOOM_FRAME_GOAWAY:
    case LOOM_FRAME_WINDOW_UPDATE:
    case LOOM_FRAME_PRIORITY_UPDATE: reserved = off; break;
    default: break;
    }
    if (f->ignore) reserved = SIZE_MAX;
    if (reserved != SIZE_MAX) want[reserved] &= 0x7f;
    memset(want + n - f->pad_len, 0, f->pad_len);
    if (memcmp(out, want, n) != 0) abort();
    free(out);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint32_t max = data[0] & 1 ? LOOM_MAX_FRAME_SIZE_MIN : 64; /* small limit: hit FRAME_SIZE */
    size_t chunk = (size_t)(data[1] % 17) + 1;
    data += 2;
    size -= 2;

    /* 1. one-shot parsing, frame after frame */
    int frames1 = 0, err1 = 0;
    for (size_t off = 0; off < size;) {
        loom_frame f;
        loom_frame_error e;
        int rc = loom_frame_parse(data + off, size - off, max, &f, &e);
        if (rc == 0) break;
        if (rc < 0) {
            if (e.scope == LOOM_SCOPE_CONNECTION) {
                err1 = rc;
                break;
            }
            off += LOOM_FRAME_HEADER_LEN + f.hd.length;
            continue;
        }
        /* settings values that parsed are valid, so the frame re-writes */
        check_repack(&f, data + off);
        frames1++;
        off += (size_t)rc;
    }

    /* 2. the reader, fed in chunks: same frames, same error */
    loom_frame_reader r;
    loom_frame_reader_init(&r, max, NULL);
    int frames2 = 0, err2 = 0;
    for (size_t off = 0; off < size && !err2;) {
        size_t k = size - off < chunk ? size - off : chunk;
        uint8_t *copy = malloc(k);
        memcpy(copy, data + off, k);
        const uint8_t *p = copy;
        size_t n = k;
        while (1) {
            loom_frame f;
            loom_frame_error e;
            size_t used;
            int rc = loom_frame_reader_next(&r, p, n, &used, &f, &e);
            if (used > n) abort();
            p += used;
            n -= used;
            if (rc == 0) break;
            if (rc < 0) {
                if (e.scope == LOOM_SCOPE_CONNECTION) {
                    err2 = rc;
                    break;
                }
                continue;
            }
            frames2++;
        }
        free(copy);
        off += k;
    }
    if (r.cap > LOOM_FRAME_HEADER_LEN + (size_t)max) abort(); /* bounded buffer */
    loom_frame_reader_free(&r);
    if (frames1 != frames2 || err1 != err2) abort();
    return 0;
}
