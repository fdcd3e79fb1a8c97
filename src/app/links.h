/* What a browser fetches of an HTML page (loom get -a, loom bench --page):
 * a scanner for the subresource tags, fed the page as it arrives, and URL
 * resolution against a base (RFC 3986 §5.2). */
#ifndef LOOM_APP_LINKS_H
#define LOOM_APP_LINKS_H

#include <stddef.h>

typedef enum {
    LINK_STYLE,  /* <link rel=stylesheet href> */
    LINK_SCRIPT, /* <script src> */
    LINK_IMAGE,  /* <img src> */
    LINK_OTHER,  /* <link rel=preload|modulepreload|icon href> */
} link_kind;

/* Calls found() for each subresource reference in html[*pos, len), in
 * document order, and moves *pos past what it has read. A tag (or a
 * comment) not yet complete stops the scan unless final, so the page can
 * be fed as it comes: call again with the longer page from the same *pos.
 * ref is the attribute's value as written (at most 2000 octets; longer
 * ones are skipped). */
void links_scan(const char *html, size_t len, size_t *pos, int final,
                void (*found)(void *user, const char *ref, size_t n, link_kind kind), void *user);

/* The absolute URL of ref (absolute, scheme-relative, absolute path,
 * relative path, query) against scheme://authority/path, with dot segments
 * removed (RFC 3986 §5.2.4). from_html: ref is an attribute's value as
 * written in HTML: its character references (&amp;, &#47;) are decoded
 * and its fragment dropped. Returns 0, or -1 when it does not fit in cap. */
int links_resolve(const char *scheme, const char *authority, const char *path, const char *ref,
                  size_t reflen, int from_html, char *out, size_t cap);

#endif
