/* The subresource scanner and URL resolution of links.h. Not an HTML
 * parser: it reads tags and their attributes (quoted, single-quoted or
 * bare values, any case), skips comments, and knows which tags make a
 * browser fetch something. */
#define _GNU_SOURCE
#include "links.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

typedef struct {
    const char *v;
    size_t n;
} span;

/* The attributes of the tag in [p, end) (after its name): rel, href, src. */
static void tag_attrs(const char *p, const char *end, span *rel, span *href, span *src)
{
    while (p < end) {
        while (p < end && (is_space(*p) || *p == '/'))
            p++;
        const char *name = p;
        while (p < end && !is_space(*p) && *p != '=' && *p != '/')
            p++;
        size_t nl = (size_t)(p - name);
        while (p < end && is_space(*p))
            p++;
        span val = {"", 0};
        if (p < end && *p == '=') {
            p++;
            while (p < end && is_space(*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                char q = *p++;
                const char *e = memchr(p, q, (size_t)(end - p));
                if (!e) e = end;
                val = (span){p, (size_t)(e - p)};
                p = e < end ? e + 1 : end;
            } else {
                const char *v = p;
                while (p < end && !is_space(*p))
                    p++;
                val = (span){v, (size_t)(p - v)};
            }
        }
        if (!nl) {
            if (p < end) p++; /* a stray '=' */
            continue;
        }
        if (nl == 3 && !strncasecmp(name, "rel", 3)) *rel = val;
        if (nl == 4 && !strncasecmp(name, "href", 4)) *href = val;
        if (nl == 3 && !strncasecmp(name, "src", 3)) *src = val;
    }
}

/* Whether the space-separated list l has the word w (any case). */
static int has_word(span l, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i < l.n;) {
        while (i < l.n && is_space(l.v[i]))
            i++;
        size_t s = i;
        while (i < l.n && !is_space(l.v[i]))
            i++;
        if (i - s == wl && !strncasecmp(l.v + s, w, wl)) return 1;
    }
    return 0;
}

static int tag_is(const char *t, const char *end, const char *name)
{
    size_t n = strlen(name), len = (size_t)(end - t);
    return len >= n && !strncasecmp(t, name, n) && (len == n || is_space(t[n]) || t[n] == '/');
}

void links_scan(const char *html, size_t len, size_t *pos, int final,
                void (*found)(void *user, const char *ref, size_t n, link_kind kind), void *user)
{
    const char *end = html + len;
    const char *p = html + *pos;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt) {
            p = end;
            break;
        }
        if ((size_t)(end - lt) >= 4 && !memcmp(lt, "<!--", 4)) {
            const char *e = memmem(lt + 4, (size_t)(end - lt - 4), "-->", 3);
            if (!e) {
                p = final ? end : lt;
                break;
            }
            p = e + 3;
            continue;
        }
        /* the tag ends at the first '>' outside quotes */
        const char *q = lt + 1;
        char quote = 0;
        while (q < end && (quote || *q != '>')) {
            if (quote && *q == quote)
                quote = 0;
            else if (!quote && (*q == '"' || *q == '\'') && (is_space(q[-1]) || q[-1] == '='))
                quote = *q;
            q++;
        }
        if (q >= end) {
            p = final ? end : lt;
            break;
        }
        const char *t = lt + 1;
        span rel = {"", 0}, href = {"", 0}, src = {"", 0};
        int kind = -1;
        if (tag_is(t, q, "link")) {
            tag_attrs(t + 4, q, &rel, &href, &src);
            if (has_word(rel, "stylesheet"))
                kind = LINK_STYLE;
            else if (has_word(rel, "preload") || has_word(rel, "modulepreload") ||
                     has_word(rel, "icon"))
                kind = LINK_OTHER;
            src = href;
        } else if (tag_is(t, q, "script")) {
            tag_attrs(t + 6, q, &rel, &href, &src);
            kind = LINK_SCRIPT;
        } else if (tag_is(t, q, "img")) {
            tag_attrs(t + 3, q, &rel, &href, &src);
            kind = LINK_IMAGE;
        }
        /* the text of script and style (and the RCDATA of title and
         * textarea) holds no tags: skipped to its end tag (HTML's
         * tokenizer; a "<img" in a script's string is not an image) */
        const char *after = q + 1;
        static const char *const raw[] = {"script", "style", "title", "textarea"};
        for (size_t k = 0; k < sizeof(raw) / sizeof(raw[0]); k++) {
            if (!tag_is(t, q, raw[k])) continue;
            size_t rl = strlen(raw[k]);
            const char *e = after;
            while ((e = memchr(e, '<', (size_t)(end - e))) != NULL) {
                if ((size_t)(end - e) < rl + 2) {
                    e = NULL; /* the end tag may be arriving */
                    break;
                }
                if (e[1] == '/' && !strncasecmp(e + 2, raw[k], rl)) break;
                e++;
            }
            if (!e && !final) {
                q = NULL; /* read again, whole, when more has come */
                break;
            }
            after = e ? e : end;
        }
        if (!q) {
            p = lt;
            break;
        }
        if (kind >= 0 && src.n && src.n <= 2000) found(user, src.v, src.n, (link_kind)kind);
        p = after;
    }
    *pos = (size_t)(p - html);
}

/* RFC 3986 §5.2.4: "." and ".." segments of a URL's path taken out, in
 * place (the query and fragment left as they are). */
static void remove_dots(char *url, size_t cap)
{
    char *p = strstr(url, "://");
    if (!p || !(p = strchr(p + 3, '/'))) return;
    size_t end = strcspn(p, "?#");
    char tail[2048];
    snprintf(tail, sizeof(tail), "%s", p + end);
    char out[2048];
    size_t o = 0;
    const char *in = p, *stop = p + end;
    while (in < stop) {
        const char *seg = in + 1, *next = memchr(seg, '/', (size_t)(stop - seg));
        if (!next) next = stop;
        size_t sl = (size_t)(next - seg);
        int last = next == stop;
        if (sl == 1 && seg[0] == '.') {
            if (last) out[o++] = '/';
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o && out[o - 1] != '/') /* the last segment out, with its '/' */
                o--;
            if (o) o--;
            if (last) out[o++] = '/';
        } else if (o + sl + 1 < sizeof(out)) {
            out[o++] = '/';
            memcpy(out + o, seg, sl);
            o += sl;
        }
        in = next;
    }
    if (!o) out[o++] = '/';
    out[o] = 0;
    snprintf(p, cap - (size_t)(p - url), "%s%s", out, tail);
}

int links_resolve(const char *scheme, const char *authority, const char *path, const char *ref,
                  size_t reflen, int from_html, char *out, size_t cap)
{
    char loc[2048];
    /* surrounding spaces are not part of a URL (HTML's attribute values) */
    while (reflen && is_space(*ref))
        ref++, reflen--;
    while (reflen && is_space(ref[reflen - 1]))
        reflen--;
    if (reflen >= sizeof(loc)) return -1;
    /* HTML's character references in the value: the named ones a URL
     * holds, and numeric ones of ASCII */
    size_t ln = 0;
    for (size_t i = 0; i < reflen;) {
        static const struct {
            const char *name;
            char c;
        } named[] = {
            {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}};
        int taken = 0;
        if (from_html && ref[i] == '&') {
            for (size_t k = 0; k < sizeof(named) / sizeof(named[0]) && !taken; k++) {
                size_t nl = strlen(named[k].name);
                if (reflen - i >= nl && !strncasecmp(ref + i, named[k].name, nl)) {
                    loc[ln++] = named[k].c;
                    i += nl;
                    taken = 1;
                }
            }
            if (!taken && reflen - i > 3 && ref[i + 1] == '#') {
                int hex = ref[i + 2] == 'x' || ref[i + 2] == 'X';
                size_t j = i + 2 + (size_t)hex;
                unsigned v = 0, nd = 0;
                while (j < reflen && nd < 6 &&
                       (hex ? isxdigit((unsigned char)ref[j]) : isdigit((unsigned char)ref[j]))) {
                    char ch = ref[j++];
                    v = v * (hex ? 16u : 10u) + (unsigned)(isdigit((unsigned char)ch)
                                                               ? ch - '0'
                                                               : (tolower(ch) - 'a' + 10));
                    nd++;
                }
                if (nd && j < reflen && ref[j] == ';' && v >= 0x20 && v < 0x7f) {
                    loc[ln++] = (char)v;
                    i = j + 1;
                    taken = 1;
                }
            }
        }
        if (!taken) loc[ln++] = ref[i++];
    }
    loc[ln] = 0;
    if (from_html) loc[strcspn(loc, "#")] = 0; /* what a browser asks for */
    size_t pl = strcspn(path, "?#");
    const char *sep = strstr(loc, "://");
    int n;
    if (sep && strcspn(loc, "/?#") > (size_t)(sep - loc))
        n = snprintf(out, cap, "%s", loc);
    else if (loc[0] == '/' && loc[1] == '/')
        n = snprintf(out, cap, "%s:%s", scheme, loc);
    else if (loc[0] == '/')
        n = snprintf(out, cap, "%s://%s%s", scheme, authority, loc);
    else if (loc[0] == '?')
        n = snprintf(out, cap, "%s://%s%.*s%s", scheme, authority, (int)pl, path, loc);
    else if (!loc[0])
        n = snprintf(out, cap, "%s://%s%s", scheme, authority, path);
    else {
        const char *slash = memrchr(path, '/', pl);
        int dl = slash ? (int)(slash - path + 1) : 1;
        n = snprintf(out, cap, "%s://%s%.*s%s", scheme, authority, dl, slash ? path : "/", loc);
    }
    if (n <= 0 || (size_t)n >= cap) return -1;
    remove_dots(out, cap);
    return 0;
}
