/* loom serve: flags, the built-in demo site, then the server runtime. */
#define _GNU_SOURCE
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../server.h"
#include "config.h"
#include "../tls.h"

static const char usage[] =
    "usage: loom serve [DIR] [options]\n"
    "\n"
    "Serves DIR over HTTP/2 (TLS with ALPN h2/http/1.1, and cleartext h2c by prior\n"
    "knowledge or HTTP/1.1 Upgrade, and plain HTTP/1.1). Without DIR: a built-in demo\n"
    "site on https://localhost:8443 and http://localhost:8080.\n"
    "\n"
    "options:\n"
    "  --https ADDR:PORT    listen with TLS (repeatable; ADDR may be empty for every\n"
    "                       address, IPv4 and IPv6; [::1] for IPv6; PORT 0 to 65535,\n"
    "                       0 picks a free port)\n"
    "  --http ADDR:PORT     listen in cleartext (repeatable)\n"
    "  --cert FILE          certificate chain (PEM); default: a self-signed certificate\n"
    "  --key FILE           its private key (PEM); made and cached in ~/.cache/loom\n"
    "  --workers N          worker threads, each with its own event loop and\n"
    "                       SO_REUSEPORT listeners (default: the number of cores)\n"
    "  --push-map FILE      pushes per page: lines of \"/page /asset /asset ...\"\n"
    "                       (same-origin paths; also sent as Link: rel=preload, and as\n"
    "                       103 Early Hints to clients that take no push)\n"
    "  --no-early-hints     do not send 103 Early Hints\n"
    "  --autoindex          list folders that have no index.html (HTML; off by default)\n"
    "  --deny GLOB          paths (from the root) or names matching GLOB get 403\n"
    "                       (repeatable; e.g. '*.bak' 'private/*')\n"
    "  --allow-dotfiles     serve names starting with '.' (denied by default: .git/,\n"
    "                       .env; .well-known/ is always served)\n"
    "  --mime-type EXT=TYPE the media type of .EXT (repeatable; over the built-in\n"
    "                       table and /etc/mime.types)\n"
    "  --tls-min 1.2|1.3    the oldest TLS version taken (default 1.2)\n"
    "  --tls12-ciphers LIST TLS 1.2 ciphers (OpenSSL syntax; default: ECDHE/DHE with\n"
    "                       AES-GCM or ChaCha20-Poly1305, RFC 9113 §9.2.2)\n"
    "  --key-pass-file FILE the private key's passphrase (the file's first line)\n"
    "  --client-ca FILE     require client certificates signed by these CAs (PEM)\n"
    "  --ticket-keys FILE   session ticket keys, 80 random octets each (openssl rand 80);\n"
    "                       instances sharing the file resume each other's sessions;\n"
    "                       the first encrypts, all decrypt; re-read on SIGHUP\n"
    "  --ocsp FILE          an OCSP response (DER) to staple; re-read on SIGHUP\n"
    "  --user NAME          after binding and reading keys, run as NAME (from root:\n"
    "                       :443 with no root process left serving)\n"
    "  --proxy PREFIX=URL[,URL...]  requests whose path starts with PREFIX go to these\n"
    "                       backends (repeatable): http://HOST:PORT (HTTP/1.1),\n"
    "                       h2c://HOST:PORT (HTTP/2), https://HOST:PORT (TLS, h2 or\n"
    "                       HTTP/1.1), unix:/PATH (HTTP/1.1 over a Unix socket)\n"
    "  --proxy-balance round-robin|least  how a route picks among its backends\n"
    "                       (least: fewest requests in flight; default round-robin)\n"
    "  --proxy-host client|backend  Host/:authority to backends: the client's\n"
    "                       (default) or the backend's own\n"
    "  --proxy-cacert FILE  CAs https:// backends are verified against (default: the\n"
    "                       system's)\n"
    "  --proxy-connect-timeout SEC  connecting to a backend (default 5; then 502)\n"
    "  --proxy-timeout SEC  from the request to the response head (default 60; then 504)\n"
    "  --proxy-idle-timeout SEC  between two reads of a response body; a WebSocket\n"
    "                       quiet both ways this long is closed (default 60)\n"
    "  --proxy-max-conns N  HTTP/1.1 connections per backend and worker (default 32)\n"
    "  --proxy-fails N      failures in a row that take a backend out (default 3)...\n"
    "  --proxy-fail-time SEC  ...for this long (default 10)\n"
    "  --no-compress        no on-the-fly brotli/gzip (text, scripts, JSON, SVG... of\n"
    "                       256 octets to 2 MiB without a .br/.gz sibling)\n"
    "  --status PATH        Prometheus metrics at PATH/metrics and a live page at PATH\n"
    "                       (off by default)\n"
    "  --status-allow NET   who may see it: ADDR or ADDR/BITS (repeatable; default\n"
    "                       loopback only; others get 403)\n"
    "  --access-log FILE    one line per request (\"-\" for stderr; default: none)\n"
    "  --log-format FMT     combined (nginx's, the default), json (lines with the\n"
    "                       protocol, stream, host and request time in µs) or loom\n"
    "  --error-log FILE     TLS, protocol, file and resource errors, one line each\n"
    "                       with the client's address (default: stderr)\n"
    "  --log-level LEVEL    error, warn (default) or info (also handshake failures,\n"
    "                       protocol errors, idle closes); SIGUSR1 reopens both logs\n"
    "  --idle-timeout SEC   close idle connections after SEC seconds (default 60)\n"
    "  --handshake-timeout SEC  TLS handshake limit (default 10)\n"
    "  --settings-timeout SEC   end an HTTP/2 connection whose peer does not acknowledge\n"
    "                       our SETTINGS in SEC seconds (SETTINGS_TIMEOUT; default 10)\n"
    "  --header-timeout SEC the TLS handshake and the HTTP/2 preface, or the HTTP/1.1\n"
    "                       request head, must arrive within SEC seconds of the\n"
    "                       connection (each later HTTP/1.1 head within SEC of its first\n"
    "                       octet), however they trickle in (default 10)\n"
    "  --max-request-body SIZE  larger request bodies get 413 (suffix k, m or g;\n"
    "                       default 1m)\n"
    "  --tcp-notsent-lowat SIZE  the socket takes more of a response only when fewer\n"
    "                       octets than SIZE wait unsent in it (TCP_NOTSENT_LOWAT;\n"
    "                       suffix k or m; default 16k; 0: the kernel's, no limit)\n"
    "  --grace SEC          on SIGTERM/SIGINT, time for streams in flight (default 10)\n"
    "  --config FILE        read directives from FILE (YAML; every flag is one, plus\n"
    "                       root and hosts: virtual hosts by name, SNI certificates)\n"
    "  --check-config FILE  read FILE and what it names (folders, certificates, keys,\n"
    "                       push maps), say ok or the wrong line, and stop\n"
    "  --help               this text\n"
    "\n"
    "exit status: 0 after a graceful shutdown; 1 could not start (out of memory,\n"
    "threads); 2 bad flags, push map or access log; 3 certificate or key unreadable,\n"
    "or the self-signed one not writable; 4 address in use or not available; 5 root\n"
    "folder missing; 6 demo site not writable in the cache folder.\n"
    "\n"
    "signals: SIGTERM/SIGINT finish the streams in flight (--grace) and stop; SIGHUP\n"
    "reads the flags and the --config file again, with every root, certificate, key,\n"
    "push map and media type they name, for new connections and requests (a broken\n"
    "file is refused and logged; listeners, --workers and --user need a restart);\n"
    "SIGUSR1 reopens the logs (logrotate).\n";

/* ADDR:PORT, :PORT or PORT (ADDR empty: every address), [IPV6]:PORT; PORT
 * 0..65535, 0 for any free one. */
/* Where the flag being read came from: "FILE:LINE: " for a configuration
 * file's directive, "" for the command line. */
static char where[4200];

/* The messages that follow are about path's line (0 or no path: the
 * command line). */
static void at(const char *path, int line)
{
    if (path && line)
        snprintf(where, sizeof(where), "%s:%d: ", path, line);
    else
        where[0] = 0;
}

/* While a reload reads the options: where say() puts its line instead of
 * stderr (the server writes it to the error log). */
static char *said;
static size_t said_cap;

/* One line on stderr: "loom serve: [FILE:LINE: ]what". */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (said) {
        int n = snprintf(said, said_cap, "%s", where);
        if (n >= 0 && (size_t)n < said_cap) vsnprintf(said + n, said_cap - (size_t)n, fmt, ap);
        said[strcspn(said, "\n")] = 0;
    } else {
        fprintf(stderr, "loom serve: %s", where);
        vfprintf(stderr, fmt, ap);
    }
    va_end(ap);
}

static int parse_addr(const char *arg, server_listen *l, int tls)
{
    memset(l, 0, sizeof(*l));
    l->tls = tls;
    const char *colon = strrchr(arg, ':'), *port = colon ? colon + 1 : arg;
    if (colon) {
        size_t hl = (size_t)(colon - arg);
        if (hl >= sizeof(l->host)) return -1;
        if (hl >= 2 && arg[0] == '[' && arg[hl - 1] == ']')
            memcpy(l->host, arg + 1, hl - 2);
        else
            memcpy(l->host, arg, hl);
    }
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5) return -1;
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    if (atol(port) > 65535) return -1; /* not a number taken modulo 65536 */
    memcpy(l->port, port, pl + 1);
    return 0;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The demo: one page that loads 100 small images, a stylesheet and a
 * script over one connection, the last two pushed. The page reports which
 * protocol each resource came over. */
static int make_demo(char *dir, size_t dircap, char *map, size_t mapcap, int write)
{
    snprintf(dir, dircap, "%s/demo-site", tls_cache_dir());
    snprintf(map, mapcap, "%s/push-map.txt", dir);
    if (!write) return 0; /* a reload: written at start */
    char img[4600];
    snprintf(img, sizeof(img), "%s/img", dir);
    mkdir(dir, 0755);
    mkdir(img, 0755);
    static const char css[] =
        "body{font-family:system-ui,sans-serif;margin:2em;background:#f7f7fb;color:#223}\n"
        "h1{font-weight:600}.grid{display:grid;grid-template-columns:repeat(20,32px);gap:4px}\n"
        ".grid img{width:32px;height:32px}#report{margin-top:1em;font-family:monospace}\n";
    static const char js[] =
        "window.addEventListener('load', () => {\n"
        "  const res = performance.getEntriesByType('resource');\n"
        "  const by = {};\n"
        "  for (const r of res) by[r.nextHopProtocol] = (by[r.nextHopProtocol] || 0) + 1;\n"
        "  const nav = performance.getEntriesByType('navigation')[0];\n"
        "  document.getElementById('report').textContent =\n"
        "    'page over ' + (nav ? nav.nextHopProtocol : '?') + '; ' + res.length +\n"
        "    ' resources: ' + JSON.stringify(by);\n"
        "  document.body.dataset.resources = res.length;\n"
        "  document.body.dataset.protocols = JSON.stringify(by);\n"
        "});\n";
    if (write_file(dir, "style.css", css, sizeof(css) - 1) < 0 ||
        write_file(dir, "app.js", js, sizeof(js) - 1) < 0)
        return -1;
    char *html = malloc(64 * 1024);
    size_t o = 0;
    o += (size_t)snprintf(
        html + o, 65536 - o,
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
        "<title>loom: HTTP/2 demo</title>\n<link rel=stylesheet href=/style.css>\n"
        "<script src=/app.js defer></script></head><body>\n"
        "<h1>loom &mdash; HTTP/2</h1>\n"
        "<p>This page, its stylesheet, its script and the 100 images below came over one "
        "connection: requests and responses interleaved as frames, headers compressed with "
        "HPACK, the stylesheet and script pushed before the page asked for them.</p>\n"
        "<div class=grid>\n");
    for (int i = 0; i < 100; i++) {
        char name[32], svg[512];
        snprintf(name, sizeof(name), "img/%02d.svg", i);
        int n = snprintf(svg, sizeof(svg),
                         "<svg xmlns='http://www.w3.org/2000/svg' width='32' height='32'>"
                         "<rect width='32' height='32' rx='6' fill='hsl(%d,65%%,55%%)'/>"
                         "<text x='16' y='21' font-size='12' text-anchor='middle' "
                         "fill='white'>%d</text></svg>\n",
                         i * 36 / 10, i);
        if (write_file(dir, name, svg, (size_t)n) < 0) {
            free(html);
            return -1;
        }
        o += (size_t)snprintf(html + o, 65536 - o, "<img src=/img/%02d.svg alt=%d>", i, i);
    }
    o += (size_t)snprintf(html + o, 65536 - o, "\n</div>\n<p id=report></p>\n</body></html>\n");
    int rc = write_file(dir, "index.html", html, o);
    free(html);
    if (rc < 0) return -1;
    static const char pm[] = "# page      pushed assets\n/ /style.css /app.js\n"
                             "/index.html /style.css /app.js\n";
    return write_file(dir, "push-map.txt", pm, sizeof(pm) - 1);
}

/* A whole number from lo to hi: digits only (no sign, no space, no
 * suffix), or one line saying what was wrong. */
static int num_arg(const char *flag, const char *v, int lo, int hi, int *out)
{
    long n = -1;
    if (v && *v >= '0' && *v <= '9' && strlen(v) <= 9) {
        char *end;
        n = strtol(v, &end, 10);
        if (*end) n = -1;
    }
    if (n < lo || n > hi) {
        say("%s needs a whole number from %d to %d, not '%s'\n", flag, lo, hi, v ? v : "");
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* "SIZE" with an optional k, m or g (powers of 1024). */
static int size_arg(const char *flag, const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    int shift = 0;
    if (v && *v >= '0' && *v <= '9') {
        if (*end == 'k' || *end == 'K')
            shift = 10, end++;
        else if (*end == 'm' || *end == 'M')
            shift = 20, end++;
        else if (*end == 'g' || *end == 'G')
            shift = 30, end++;
    }
    if (!v || *v < '0' || *v > '9' || *end || n > (1ull << 40) >> shift) {
        say("%s needs a size such as 1048576, 512k or 1m\n", flag);
        return -1;
    }
    *out = (uint64_t)n << shift;
    return 0;
}

#define MAX_LIST 64

/* --check-config: what the server would read at start is read here:
 * folders, certificates and keys (by OpenSSL, as the server does), push
 * maps and media types, each error naming its line. 0 and "ok", or the
 * exit status the server would have. */
static int check_config(const char *path, const server_opts *o, int cert_line, int root_line,
                        int push_line, const int *proxy_lines)
{
    char err[700];
    int site = -1, rc = server_check(o, &site, err, sizeof(err));
    if (rc != SERVE_OK) {
        /* the line of the directive at fault: the site's root,
         * certificate, or push map (a host's own line for that) */
        const server_vhost *h = site > 0 ? &o->hosts[site - 1] : NULL;
        int line = site < 0           ? 0
                   : rc == SERVE_ROOT ? (h ? h->root_line : root_line)
                   : rc == SERVE_CERT ? (h ? h->cert_line : cert_line)
                   : h                ? h->line
                                      : push_line;
        /* a --proxy route: the one that does not read on its own */
        for (size_t i = 0; site < 0 && i < o->proxy.nroutes; i++) {
            proxy_opts one = o->proxy;
            char e1[300];
            one.routes = &o->proxy.routes[i];
            one.nroutes = 1;
            proxy_conf *pc = proxy_conf_new(&one, e1, sizeof(e1));
            if (!pc) {
                line = proxy_lines[i];
                break;
            }
            proxy_conf_free(pc);
        }
        at(path, line);
        say("%s\n", err);
        return rc;
    }
    printf("loom serve: %s: ok (%d listeners, %d virtual hosts)\n", path, o->nlisten, o->nhosts);
    return SERVE_OK;
}

/* One reading of the options (the configuration file's directives, then
 * the command line's flags) and everything they point to. */
typedef struct {
    server_opts o;
    config conf;
    char **args;
    int *lines;
    const char *deny_list[MAX_LIST], *mime_list[MAX_LIST], *status_allow_list[MAX_LIST];
    const char *proxy_list[PROXY_MAX_ROUTES];
    int proxy_lines[PROXY_MAX_ROUTES];
    const char *conf_path;
    int check; /* --check-config */
    int cert_line, root_line, push_line;
    char demo[4200], map[4400];
} options;

static void options_free(options *p)
{
    if (!p) return;
    free(p->args);
    free(p->lines);
    config_free(&p->conf);
    free(p);
}

/* The options read from argv (and the --config file it names): -1, or
 * the exit status to stop with (0 after --help). reloading: for SIGHUP
 * (no demo site written, no banner; messages to said). */
static int read_options(int argc, char **argv, options *p, int reloading)
{
    server_opts o;
    memset(&o, 0, sizeof(o));
    const char **deny_list = p->deny_list, **mime_list = p->mime_list,
               **status_allow_list = p->status_allow_list;
    o.files.deny = deny_list;
    o.files.mime = mime_list;
    o.status_allow = status_allow_list;
    o.proxy.routes = p->proxy_list;
    o.proxy.connect_timeout_ms = 5000;
    o.proxy.first_byte_ms = 60000;
    o.proxy.idle_ms = 60000;
    o.proxy.max_conns = 32;
    o.proxy.fail_max = 3;
    o.proxy.fail_ms = 10000;
    o.idle_timeout_ms = 60000;
    o.handshake_timeout_ms = 10000;
    o.grace_ms = 10000;
    o.workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int idle = 60, hs = 10, grace = 10, st = 10, ht = 10;
    o.max_request_body = 1u << 20;
    o.notsent_lowat = 16u << 10;
    o.log_level = SERVE_LOG_WARN;

    /* --config FILE (--check-config FILE: read it, check it, stop): its
     * directives are read as flags first, then the command line's */
    const char *conf_path = NULL;
    int check = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--check-config")) {
            conf_path = argv[i + 1];
            check = !strcmp(argv[i], "--check-config");
        }
    p->conf_path = conf_path;
    p->check = check;
    config *conf = &p->conf;
    char **args = argv;
    int *lines = NULL;
    int nargs = argc, cert_line = 0, root_line = 0, push_line = 0;
    if (conf_path) {
        char cerr[700];
        if (config_load(conf_path, conf, cerr, sizeof(cerr)) < 0) {
            say("%s\n", cerr);
            return SERVE_USAGE;
        }
        args = p->args = calloc((size_t)(conf->argc + argc + 1), sizeof(*args));
        lines = p->lines = calloc((size_t)(conf->argc + argc + 1), sizeof(*lines));
        if (!args || !lines) {
            say("out of memory\n");
            return SERVE_FAIL;
        }
        args[0] = argv[0];
        nargs = 1;
        for (int i = 0; i < conf->argc; i++, nargs++) {
            args[nargs] = conf->argv[i];
            lines[nargs] = conf->line[i];
        }
        for (int i = 1; i < argc; i++)
            args[nargs++] = argv[i];
        o.hosts = conf->hosts;
        o.nhosts = conf->nhosts;
    }
    for (int i = 1; i < nargs; i++) {
        at(conf_path, lines ? lines[i] : 0);
        int cur_line = lines ? lines[i] : 0;
        const char *a = args[i], *v = i + 1 < nargs ? args[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return SERVE_OK;
        } else if (!strcmp(a, "--https") || !strcmp(a, "--http")) {
            if (!v || o.nlisten == SERVER_MAX_LISTEN ||
                parse_addr(v, &o.listen[o.nlisten], a[6] == 's') < 0) {
                say("%s needs ADDR:PORT with PORT 0 to 65535 (e.g. "
                    "127.0.0.1:8443, :443, [::1]:8080), not '%s'\n",
                    a, v ? v : "");
                return SERVE_USAGE;
            }
            o.nlisten++;
            i++;
        } else if (!strcmp(a, "--cert") || !strcmp(a, "--key") || !strcmp(a, "--push-map") ||
                   !strcmp(a, "--access-log")) {
            if (!v) {
                say("%s needs a file\n", a);
                return SERVE_USAGE;
            }
            if (a[2] == 'c')
                o.cert = v, cert_line = cur_line;
            else if (a[2] == 'k')
                o.key = v;
            else if (a[2] == 'p')
                o.push_map = v, push_line = cur_line;
            else
                o.access_log = v;
            i++;
        } else if (!strcmp(a, "--workers")) {
            if (num_arg(a, v, 1, 1024, &o.workers) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--idle-timeout")) {
            if (num_arg(a, v, 1, 86400, &idle) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--handshake-timeout")) {
            if (num_arg(a, v, 1, 86400, &hs) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--settings-timeout")) {
            if (num_arg(a, v, 1, 86400, &st) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--header-timeout")) {
            if (num_arg(a, v, 1, 86400, &ht) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--max-request-body")) {
            if (size_arg(a, v, &o.max_request_body) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--tcp-notsent-lowat")) {
            if (size_arg(a, v, &o.notsent_lowat) < 0) return SERVE_USAGE;
            if (o.notsent_lowat > INT_MAX) {
                say("--tcp-notsent-lowat takes at most %d octets\n", INT_MAX);
                return SERVE_USAGE;
            }
            i++;
        } else if (!strcmp(a, "--grace")) {
            if (num_arg(a, v, 0, 86400, &grace) < 0) return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--config") || !strcmp(a, "--check-config")) {
            if (!v) {
                say("%s needs a file\n", a);
                return SERVE_USAGE;
            }
            i++; /* read above */
        } else if (!strcmp(a, "--no-early-hints")) {
            o.no_early_hints = 1;
        } else if (!strcmp(a, "--autoindex")) {
            o.files.autoindex = 1;
        } else if (!strcmp(a, "--allow-dotfiles")) {
            o.files.allow_dotfiles = 1;
        } else if (!strcmp(a, "--log-format") || !strcmp(a, "--log-level")) {
            static const char *const fmts[] = {"combined", "json", "loom"};
            static const char *const levels[] = {"error", "warn", "info"};
            int fmt = a[6] == 'f', k = -1;
            for (int j = 0; j < 3 && v; j++)
                if (!strcmp(v, fmt ? fmts[j] : levels[j])) k = j;
            if (k < 0) {
                say("%s needs %s, not '%s'\n", a,
                    fmt ? "combined, json or loom" : "error, warn or info", v ? v : "");
                return SERVE_USAGE;
            }
            if (fmt)
                o.log_format = k;
            else
                o.log_level = k;
            i++;
        } else if (!strcmp(a, "--status")) {
            if (!v || v[0] != '/' || strchr(v, '?')) {
                say("--status needs a path such as /loom-status\n");
                return SERVE_USAGE;
            }
            o.status_path = v;
            i++;
        } else if (!strcmp(a, "--status-allow")) {
            if (!v || !v[0] || o.nstatus_allow == MAX_LIST) {
                say("--status-allow needs ADDR or ADDR/BITS (at most %d)\n", MAX_LIST);
                return SERVE_USAGE;
            }
            status_allow_list[o.nstatus_allow++] = v;
            i++;
        } else if (!strcmp(a, "--tls-min")) {
            if (!v || (strcmp(v, "1.2") && strcmp(v, "1.3"))) {
                say("--tls-min needs 1.2 or 1.3, not '%s'\n", v ? v : "");
                return SERVE_USAGE;
            }
            o.tls.min_version = v;
            i++;
        } else if (!strcmp(a, "--tls12-ciphers") || !strcmp(a, "--key-pass-file") ||
                   !strcmp(a, "--client-ca") || !strcmp(a, "--ticket-keys") ||
                   !strcmp(a, "--ocsp")) {
            if (!v || !v[0]) {
                say("%s needs %s\n", a, a[2] == 't' && a[3] == 'l' ? "a cipher list" : "a file");
                return SERVE_USAGE;
            }
            if (!strcmp(a, "--tls12-ciphers"))
                o.tls.ciphers12 = v;
            else if (!strcmp(a, "--key-pass-file"))
                o.tls.key_pass_file = v;
            else if (!strcmp(a, "--client-ca"))
                o.tls.client_ca = v;
            else if (!strcmp(a, "--ticket-keys"))
                o.tls.ticket_keys = v;
            else
                o.tls.ocsp = v;
            i++;
        } else if (!strcmp(a, "--error-log") || !strcmp(a, "--user")) {
            if (!v) {
                say("%s needs %s\n", a, a[2] == 'u' ? "a user name" : "a file");
                return SERVE_USAGE;
            }
            if (a[2] == 'u')
                o.user = v;
            else
                o.error_log = v;
            i++;
        } else if (!strcmp(a, "--proxy")) {
            if (!v || !strchr(v, '=') || o.proxy.nroutes == PROXY_MAX_ROUTES) {
                say("--proxy needs PREFIX=URL[,URL...] (e.g. /api=http://127.0.0.1:8000; at most "
                    "%d)\n",
                    PROXY_MAX_ROUTES);
                return SERVE_USAGE;
            }
            p->proxy_lines[o.proxy.nroutes] = cur_line;
            p->proxy_list[o.proxy.nroutes++] = v;
            i++;
        } else if (!strcmp(a, "--proxy-cacert")) {
            if (!v || !v[0]) {
                say("--proxy-cacert needs a file\n");
                return SERVE_USAGE;
            }
            o.proxy.cacert = v;
            i++;
        } else if (!strcmp(a, "--proxy-host") || !strcmp(a, "--proxy-balance")) {
            int host = a[8] == 'h';
            const char *one = host ? "client" : "round-robin", *two = host ? "backend" : "least";
            if (!v || (strcmp(v, one) && strcmp(v, two))) {
                say("%s needs %s or %s, not '%s'\n", a, one, two, v ? v : "");
                return SERVE_USAGE;
            }
            if (host)
                o.proxy.host_backend = !strcmp(v, two);
            else
                o.proxy.balance = !strcmp(v, two) ? PROXY_LEAST : PROXY_ROUND_ROBIN;
            i++;
        } else if (!strcmp(a, "--proxy-connect-timeout") || !strcmp(a, "--proxy-timeout") ||
                   !strcmp(a, "--proxy-idle-timeout") || !strcmp(a, "--proxy-fail-time")) {
            int sec;
            if (num_arg(a, v, 1, 86400, &sec) < 0) return SERVE_USAGE;
            int *t = a[8] == 'c'   ? &o.proxy.connect_timeout_ms
                     : a[8] == 't' ? &o.proxy.first_byte_ms
                     : a[8] == 'i' ? &o.proxy.idle_ms
                                   : &o.proxy.fail_ms;
            *t = sec * 1000;
            i++;
        } else if (!strcmp(a, "--proxy-max-conns") || !strcmp(a, "--proxy-fails")) {
            if (num_arg(a, v, 1, 10000, a[8] == 'm' ? &o.proxy.max_conns : &o.proxy.fail_max) < 0)
                return SERVE_USAGE;
            i++;
        } else if (!strcmp(a, "--no-compress")) {
            o.files.no_compress = 1;
        } else if (!strcmp(a, "--deny") || !strcmp(a, "--mime-type")) {
            int deny = a[2] == 'd';
            size_t *n = deny ? &o.files.ndeny : &o.files.nmime;
            if (!v || !v[0] || *n == MAX_LIST) {
                say("%s needs %s (at most %d)\n", a,
                    deny ? "a glob such as '*.bak'" : "EXT=TYPE such as md=text/markdown",
                    MAX_LIST);
                return SERVE_USAGE;
            }
            (deny ? deny_list : mime_list)[(*n)++] = v;
            i++;
        } else if (a[0] == '-' && where[0]) {
            say("unknown directive '%s' (the directives are loom serve's flags: loom serve "
                "--help)\n",
                a + 2);
            return SERVE_USAGE;
        } else if (a[0] == '-') {
            say("unknown option '%s' (try: loom serve --help)\n", a);
            return SERVE_USAGE;
        } else if (!o.root) {
            o.root = a;
            root_line = cur_line;
        } else {
            say("one DIR only ('%s' is extra)\n", a);
            return SERVE_USAGE;
        }
    }
    where[0] = 0;
    if (!o.cert != !o.key) {
        say("--cert and --key go together\n");
        return SERVE_USAGE;
    }
    p->cert_line = cert_line;
    p->root_line = root_line;
    p->push_line = push_line;
    if (check) {
        p->o = o;
        return -1;
    }
    o.idle_timeout_ms = idle * 1000;
    o.handshake_timeout_ms = hs * 1000;
    o.grace_ms = grace * 1000;
    o.settings_timeout_ms = st * 1000;
    o.header_timeout_ms = ht * 1000;
    int is_demo = !o.root;
    if (is_demo) {
        if (make_demo(p->demo, sizeof(p->demo), p->map, sizeof(p->map), !reloading) < 0) {
            say("cannot write the demo site under %s: %s (the cache folder is "
                "$XDG_CACHE_HOME/loom or ~/.cache/loom: make it writable, or serve a DIR)\n",
                tls_cache_dir(), strerror(errno));
            return SERVE_CACHE;
        }
        o.root = p->demo;
        if (!o.push_map) o.push_map = p->map;
    }
    if (o.nlisten == 0) {
        parse_addr("127.0.0.1:8443", &o.listen[o.nlisten++], 1);
        parse_addr("127.0.0.1:8080", &o.listen[o.nlisten++], 0);
        if (is_demo && !reloading) {
            printf("loom serve: the built-in demo site (%s)\n"
                   "  open https://localhost:8443/ (self-signed certificate) or "
                   "http://localhost:8080/\n"
                   "  try:  curl -k --http2 -v https://localhost:8443/\n"
                   "        curl --http2-prior-knowledge http://localhost:8080/\n"
                   "        nghttp -nva https://localhost:8443/\n"
                   "  stop: Ctrl-C (graceful)\n",
                   p->demo);
        }
    }
    p->o = o;
    return -1;
}

/* The command line loom serve started with: SIGHUP reads it (and its
 * --config file) again. */
static int launch_argc;
static char **launch_argv;

static void options_release(void *user, const server_opts *o)
{
    (void)user;
    options_free((options *)(uintptr_t)o); /* o is the first member */
}

static const server_opts *options_reread(void *user, char *err, size_t errlen)
{
    (void)user;
    options *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    err[0] = 0;
    said = err;
    said_cap = errlen;
    int rc = read_options(launch_argc, launch_argv, p, 1);
    said = NULL;
    where[0] = 0;
    if (rc >= 0) {
        if (!err[0]) snprintf(err, errlen, "the options could not be read (status %d)", rc);
        options_free(p);
        return NULL;
    }
    return &p->o;
}

int serve_main(int argc, char **argv)
{
    options *p = calloc(1, sizeof(*p));
    if (!p) {
        say("out of memory\n");
        return SERVE_FAIL;
    }
    int rc = read_options(argc, argv, p, 0);
    if (rc < 0 && p->check)
        rc = check_config(p->conf_path, &p->o, p->cert_line, p->root_line, p->push_line,
                          p->proxy_lines);
    if (rc >= 0) {
        options_free(p);
        return rc;
    }
    launch_argc = argc;
    launch_argv = argv;
    p->o.reload = options_reread;
    p->o.release = options_release;
    rc = server_run(&p->o);
    options_free(p);
    return rc;
}
