/* cli_util.h */
#include "cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_number(const char *prog, const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "%s: %s needs a number from %g to %g, not '%s'\n", prog, flag, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = d;
    return 0;
}

int cli_url_split(const char *u, char *scheme, char *host, char *port, char *authority,
                  const char **path)
{
    const char *p = strstr(u, "://");
    if (!p || (size_t)(p - u) >= 8) return -1;
    snprintf(scheme, 8, "%.*s", (int)(p - u), u);
    if (strcmp(scheme, "http") && strcmp(scheme, "https")) return -1;
    p += 3;
    size_t al = strcspn(p, "/?#");
    if (!al || al >= 300) return -1;
    snprintf(authority, 300, "%.*s", (int)al, p);
    if (strchr(authority, '@')) return -1; /* no user info */
    const char *colon;
    if (authority[0] == '[') {
        const char *e = strchr(authority, ']');
        if (!e) return -1;
        snprintf(host, 256, "%.*s", (int)(e - authority - 1), authority + 1);
        colon = e[1] == ':' ? e + 1 : NULL;
    } else {
        colon = strrchr(authority, ':');
        snprintf(host, 256, "%.*s", (int)(colon ? (size_t)(colon - authority) : al), authority);
    }
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v < 1 || v > 65535 || end == colon + 1) return -1;
    }
    snprintf(port, 8, "%s", colon ? colon + 1 : (scheme[4] ? "443" : "80"));
    *path = p + al;
    return host[0] ? 0 : -1;
}
