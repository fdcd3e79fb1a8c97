/* The page scanner of loom get -a and loom bench --page (src/app/links.c)
 * on hostile HTML: a server's page is untrusted input. Input: the first
 * octet picks where the page is cut into pieces, the rest is the page.
 * Checked: no crash, no read outside the page; the page fed in pieces (as
 * it arrives from the network) gives the same references, in the same
 * order, as fed whole; every reference lies inside the page and resolves
 * into a URL that fits its buffer and starts with a scheme. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/links.h"

typedef struct {
    const char *page;
    size_t len;
    const char *ref[256];
    size_t n[256];
    int kind[256];
    int count;
} refs;

static void found(void *user, const char *ref, size_t n, link_kind kind)
{
    refs *r = user;
    if (ref < r->page || ref + n > r->page + r->len || !n || n > 2000) abort();
    char url[2048];
    if (links_resolve("https", "example.com:8443", "/dir/page.html?q", ref, n, 1, url,
                      sizeof(url)) == 0 &&
        (strlen(url) >= sizeof(url) || !strstr(url, "://")))
        abort();
    if (r->count < 256) {
        r->ref[r->count] = ref;
        r->n[r->count] = n;
        r->kind[r->count] = (int)kind;
    }
    r->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned step = data[0] % 64 + 1;
    char *page = malloc(size - 1 ? size - 1 : 1);
    if (!page) return 0;
    memcpy(page, data + 1, size - 1);
    size_t len = size - 1;
    refs whole = {.page = page, .len = len}, pieces = {.page = page, .len = len};
    size_t pos = 0;
    links_scan(page, len, &pos, 1, found, &whole);
    if (pos != len) abort();
    /* in pieces of `step` octets, then the end */
    pos = 0;
    for (size_t have = 0; have < len;) {
        have = have + step > len ? len : have + step;
        links_scan(page, have, &pos, 0, found, &pieces);
        if (pos > have) abort();
    }
    links_scan(page, len, &pos, 1, found, &pieces);
    if (whole.count != pieces.count) abort();
    for (int i = 0; i < whole.count && i < 256; i++)
        if (whole.ref[i] != pieces.ref[i] || whole.n[i] != pieces.n[i] ||
            whole.kind[i] != pieces.kind[i])
            abort();
    free(page);
    return 0;
}
