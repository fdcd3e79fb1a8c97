/* loom get's cookies (-b, -c): RFC 6265's storage model, kept small. A
 * Set-Cookie is taken for the host that sent it (a Domain attribute that
 * domain-matches it widens it to the domain and its subdomains), for a
 * path (the attribute, or the request's default path), until Expires or
 * Max-Age; a request gets the unexpired cookies whose domain and path
 * match it, Secure ones over https only, longest paths first. The jar is
 * read and written in the Netscape format that curl and wget use. */
#define _GNU_SOURCE
#include "cookies.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define JAR_MAX   1000 /* cookies kept; the oldest goes for a new one past it */
#define VALUE_MAX 4096

typedef struct {
    char *domain, *path, *name, *value;
    int host_only, secure, http_only;
    long long expires; /* 0: a session cookie */
    unsigned long long order;
} cookie;

struct cookie_jar {
    cookie c[JAR_MAX];
    int n;
    unsigned long long next_order;
};

cookie_jar *jar_new(void)
{
    return calloc(1, sizeof(cookie_jar));
}

static void cookie_free(cookie *k)
{
    free(k->domain);
    free(k->path);
    free(k->name);
    free(k->value);
    memset(k, 0, sizeof(*k));
}

void jar_free(cookie_jar *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++)
        cookie_free(&j->c[i]);
    free(j);
}

/* RFC 6265 §5.1.3 */
static int domain_match(const char *host, const char *domain)
{
    size_t hl = strlen(host), dl = strlen(domain);
    if (hl == dl) return !strcasecmp(host, domain);
    return hl > dl && host[hl - dl - 1] == '.' && !strcasecmp(host + hl - dl, domain);
}

/* RFC 6265 §5.1.4 */
static int path_match(const char *req, const char *path)
{
    size_t pl = strlen(path);
    if (strncmp(req, path, pl)) return 0;
    return req[pl] == 0 || req[pl] == '/' || req[pl] == '?' || (pl && path[pl - 1] == '/');
}

/* No control character (RFC 6265 §4.1.1's cookie-octet has none; browsers
 * drop such cookies): nor would it survive the tab-separated jar file. */
static int clean(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

static void put(cookie_jar *j, const cookie *k)
{
    for (int i = 0; i < j->n; i++) { /* the same name, domain and path: replaced */
        cookie *o = &j->c[i];
        if (!strcmp(o->name, k->name) && !strcasecmp(o->domain, k->domain) &&
            !strcmp(o->path, k->path)) {
            cookie_free(o);
            *o = *k;
            o->order = j->next_order++;
            return;
        }
    }
    if (j->n == JAR_MAX) { /* full: the oldest makes room */
        int old = 0;
        for (int i = 1; i < j->n; i++)
            if (j->c[i].order < j->c[old].order) old = i;
        cookie_free(&j->c[old]);
        j->c[old] = j->c[--j->n];
    }
    j->c[j->n] = *k;
    j->c[j->n++].order = j->next_order++;
}

static void drop(cookie_jar *j, const char *name, const char *domain, const char *path)
{
    for (int i = 0; i < j->n; i++)
        if (!strcmp(j->c[i].name, name) && !strcasecmp(j->c[i].domain, domain) &&
            !strcmp(j->c[i].path, path)) {
            cookie_free(&j->c[i]);
            j->c[i] = j->c[--j->n];
            return;
        }
}

static char *trimmed(const char *p, size_t n)
{
    while (n && isspace((unsigned char)*p))
        p++, n--;
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    return strndup(p, n);
}

void jar_set_cookie(cookie_jar *j, const char *host, const char *req_path, int https, const char *v,
                    size_t vl, long long now)
{
    if (!j || vl > VALUE_MAX) return;
    const char *end = v + vl, *semi = memchr(v, ';', vl), *pair_end = semi ? semi : end;
    const char *eq = memchr(v, '=', (size_t)(pair_end - v));
    if (!eq) return; /* §5.2: no '=' in the name-value pair: ignored */
    cookie k;
    memset(&k, 0, sizeof(k));
    k.name = trimmed(v, (size_t)(eq - v));
    k.value = trimmed(eq + 1, (size_t)(pair_end - eq - 1));
    char *domain = NULL, *path = NULL;
    long long max_age = -1, expires = 0;
    int has_max_age = 0;
    for (const char *a = semi; a && a < end;) {
        a++;
        const char *ae = memchr(a, ';', (size_t)(end - a));
        if (!ae) ae = end;
        const char *aeq = memchr(a, '=', (size_t)(ae - a));
        char *an = trimmed(a, (size_t)((aeq ? aeq : ae) - a));
        char *av = aeq ? trimmed(aeq + 1, (size_t)(ae - aeq - 1)) : strdup("");
        if (an && av) {
            if (!strcasecmp(an, "domain") && av[0]) {
                free(domain);
                domain = strdup(av[0] == '.' ? av + 1 : av);
            } else if (!strcasecmp(an, "path") && av[0] == '/') {
                free(path);
                path = strdup(av);
            } else if (!strcasecmp(an, "max-age")) {
                char *e;
                long long m = strtoll(av, &e, 10);
                if (av[0] && !*e) max_age = m, has_max_age = 1;
            } else if (!strcasecmp(an, "expires")) {
                struct tm tm;
                memset(&tm, 0, sizeof(tm));
                if (strptime(av, "%a, %d %b %Y %H:%M:%S GMT", &tm) ||
                    strptime(av, "%a, %d-%b-%Y %H:%M:%S GMT", &tm))
                    expires = (long long)timegm(&tm);
            } else if (!strcasecmp(an, "secure")) {
                k.secure = 1;
            } else if (!strcasecmp(an, "httponly")) {
                k.http_only = 1;
            }
        }
        free(an);
        free(av);
        a = ae;
    }
    if (!k.name || !k.value || !k.name[0] || (k.secure && !https)) goto out;
    if (domain && domain[0]) {
        /* §5.3 step 6: the domain must cover the host */
        if (!domain_match(host, domain)) goto out;
        k.domain = domain;
        domain = NULL;
    } else {
        k.domain = strdup(host);
        k.host_only = 1;
    }
    if (path) {
        k.path = path;
        path = NULL;
    } else { /* §5.1.4: the default path, up to the last '/' */
        size_t pl = strcspn(req_path, "?#");
        const char *last = memrchr(req_path, '/', pl);
        k.path =
            !last || last == req_path ? strdup("/") : strndup(req_path, (size_t)(last - req_path));
    }
    if (!k.domain || !k.path || !clean(k.name) || !clean(k.value) || !clean(k.path) ||
        !k.domain[0] ||
        strspn(k.domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789.-_:[]") != strlen(k.domain))
        goto out;
    /* at most 400 days ahead (RFC 6265bis §5.6.1-2, as browsers do; and no
     * overflow from a Max-Age of 40 digits) */
    const long long cap = 400LL * 86400;
    if (has_max_age)
        k.expires = max_age <= 0 ? 1 : now + (max_age < cap ? max_age : cap);
    else
        k.expires = expires > now + cap ? now + cap : expires;
    if (k.expires && k.expires <= now) { /* expired: removes the one stored */
        drop(j, k.name, k.domain, k.path);
        goto out;
    }
    put(j, &k);
    free(domain);
    free(path);
    return;
out:
    free(domain);
    free(path);
    cookie_free(&k);
}

static int by_path(const void *a, const void *b)
{
    const cookie *x = *(cookie *const *)a, *y = *(cookie *const *)b;
    size_t xl = strlen(x->path), yl = strlen(y->path);
    if (xl != yl) return xl > yl ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

size_t jar_header(cookie_jar *j, const char *host, const char *path, int https, long long now,
                  char *out, size_t cap)
{
    if (!j || cap == 0) return 0;
    cookie *pick[JAR_MAX];
    int n = 0;
    for (int i = 0; i < j->n; i++) {
        cookie *k = &j->c[i];
        if (k->expires && k->expires <= now) continue;
        if (k->host_only ? strcasecmp(host, k->domain) : !domain_match(host, k->domain)) continue;
        if (!path_match(path, k->path) || (k->secure && !https)) continue;
        pick[n++] = k;
    }
    qsort(pick, (size_t)n, sizeof(pick[0]), by_path);
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + o, cap - o, "%s%s=%s", o ? "; " : "", pick[i]->name, pick[i]->value);
        if (w < 0 || (size_t)w >= cap - o) {
            out[o] = 0; /* what fits */
            break;
        }
        o += (size_t)w;
    }
    return o;
}

int jar_load(cookie_jar *j, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[VALUE_MAX + 1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        int http_only = 0;
        if (!strncmp(p, "#HttpOnly_", 10)) {
            http_only = 1;
            p += 10;
        } else if (p[0] == '#' || !p[0]) {
            continue;
        }
        char *fld[7];
        int k = 0;
        for (char *s = p; k < 7; k++) {
            fld[k] = s;
            char *tab = k < 6 ? strchr(s, '\t') : NULL;
            if (k < 6 && !tab) break;
            if (tab) *tab = 0, s = tab + 1;
        }
        if (k < 7) continue; /* not seven fields */
        cookie c;
        memset(&c, 0, sizeof(c));
        const char *d = fld[0][0] == '.' ? fld[0] + 1 : fld[0];
        c.domain = strdup(d);
        c.host_only = strcasecmp(fld[1], "TRUE") != 0;
        c.path = strdup(fld[2]);
        c.secure = !strcasecmp(fld[3], "TRUE");
        c.expires = strtoll(fld[4], NULL, 10);
        c.name = strdup(fld[5]);
        c.value = strdup(fld[6]);
        c.http_only = http_only;
        if (!c.domain || !c.path || !c.name || !c.value || !c.name[0])
            cookie_free(&c);
        else
            put(j, &c);
    }
    fclose(f);
    return 0;
}

static int by_order(const void *a, const void *b)
{
    const cookie *x = *(cookie *const *)a, *y = *(cookie *const *)b;
    return x->order < y->order ? -1 : x->order > y->order;
}

int jar_save(cookie_jar *j, const char *path, long long now)
{
    FILE *f = !strcmp(path, "-") ? stdout : fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "# Netscape HTTP Cookie File\n# written by loom get\n\n");
    /* oldest first: read back, the cookies keep their order (RFC 6265
     * §5.4: among equal paths, the earlier created goes first) */
    static cookie *sorted[JAR_MAX];
    int n = 0;
    for (int i = 0; j && i < j->n; i++)
        sorted[n++] = &j->c[i];
    qsort(sorted, (size_t)n, sizeof(sorted[0]), by_order);
    for (int i = 0; i < n; i++) {
        const cookie *k = sorted[i];
        if (k->expires && k->expires <= now) continue;
        fprintf(f, "%s%s%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", k->http_only ? "#HttpOnly_" : "",
                k->host_only ? "" : ".", k->domain, k->host_only ? "FALSE" : "TRUE", k->path,
                k->secure ? "TRUE" : "FALSE", k->expires, k->name, k->value);
    }
    if (f == stdout) return fflush(f);
    return fclose(f);
}
