/* What several commands of the program parse the same way: numbers given
 * to flags, and http(s) URLs split into their parts. */
#ifndef LOOM_APP_CLI_UTIL_H
#define LOOM_APP_CLI_UTIL_H

/* A number from lo to hi in v (the value of flag), into *out; else a line
 * "PROG: FLAG needs a number from LO to HI, not 'V'" on stderr and -1. */
int cli_number(const char *prog, const char *flag, const char *v, double lo, double hi,
               double *out);

/* "http[s]://host[:port][/path]": scheme (8 octets), host (256), port (8;
 * the scheme's when absent), authority (300) and *path (inside u, "" when
 * absent). No user info. Returns 0, or -1 when u is not such a URL. */
int cli_url_split(const char *u, char *scheme, char *host, char *port, char *authority,
                  const char **path);

#endif
