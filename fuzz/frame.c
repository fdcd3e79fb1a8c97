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
    uint8_t *out = malloc(n);
    int rc = loom_frame_pack(f, out, n);
    if (rc != (int)n) abort();
    /* Padding octets are written as zero, whatever was received (RFC 9113
     * §6.1 says they MUST be zero but receivers need not check), so compare
     * everything but the padding. */
    size_t pad = f->pad_len;
    if (memcmp(out, wire, n - pad) != 0) abort();
    free(out);
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
