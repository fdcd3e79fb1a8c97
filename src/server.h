/* loom serve's runtime: listeners, worker threads (one event loop each,
 * SO_REUSEPORT), TLS with ALPN, h2c by prior knowledge or Upgrade,
 * HTTP/1.1, static files with push. */
#ifndef LOOM_SRC_SERVER_H
#define LOOM_SRC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "proxy.h"
#include "tls.h"

#define SERVER_MAX_LISTEN 16
#define SERVER_MAX_HOSTS  32 /* virtual hosts (--config) */
#define SERVER_MAX_NAMES  8  /* names of one host */

/* A virtual host (from the configuration file): its names (exact,
 * case-insensitive; "*.example.com" for any one label there), its own root
 * and push map, and its certificate, chosen by SNI. */
typedef struct {
    char *names[SERVER_MAX_NAMES];
    int nnames;
    char *root, *cert, *key, *push_map;
    int line, root_line, cert_line; /* in the file, for messages */
} server_vhost;

typedef struct {
    char host[256];
    char port[16];
    int tls;
} server_listen;

typedef struct server_opts server_opts;

struct server_opts {
    const char *root;
    server_listen listen[SERVER_MAX_LISTEN];
    int nlisten;
    const char *cert, *key;
    int workers;
    const char *push_map;   /* file: "PAGE ASSET..." lines */
    const char *access_log; /* file, "-" for stderr, NULL for none */
    int log_format;         /* SERVE_LOG_COMBINED, _JSON, _LOOM */
    const char *error_log;  /* file, "-" or NULL for stderr */
    int log_level;          /* SERVE_LOG_ERROR, _WARN, _INFO: the least kept */
    int idle_timeout_ms, handshake_timeout_ms, grace_ms;
    int settings_timeout_ms; /* RFC 9113 §6.5.3: our SETTINGS unacknowledged this long */
    /* From accept to the HTTP/2 preface (TLS handshake included) or the
     * first HTTP/1.1 request head, and from a later head's first octet to
     * its end: a deadline trickled octets do not move. */
    int header_timeout_ms;
    uint64_t max_request_body; /* octets; a larger request gets 413 */
    /* TCP_NOTSENT_LOWAT on every accepted connection (0: none, the
     * kernel's default): the socket takes more only when fewer octets
     * than this wait unsent in it. Without it a connection may queue
     * megabytes in the kernel (a client that stops reading pins them),
     * which are cold in the cache by the time they go, and which a
     * higher-priority response waits behind. */
    uint64_t notsent_lowat;
    int no_early_hints;
    files_config files;        /* --autoindex, --deny, --allow-dotfiles, --mime-type */
    const char *user;          /* --user: run as this user once bound */
    const server_vhost *hosts; /* virtual hosts; requests for others get the root above */
    int nhosts;
    const char *status_path;   /* --status PATH: metrics and a live page there; NULL: none */
    const char **status_allow; /* --status-allow ADDR[/BITS]: who may see it (loopback) */
    int nstatus_allow;
    proxy_opts proxy;    /* --proxy routes and their settings */
    tls_server_opts tls; /* --tls-min, --tls12-ciphers, --key-pass-file, --client-ca,
                            --ticket-keys, --ocsp */
    void (*ready)(const char *what, void *user); /* after the sockets listen */
    void *ready_user;
    /* SIGHUP: the options made again (the flags and the configuration
     * file read again), or NULL with the reason in err (what is in force
     * stays). Everything but the listeners, workers and --user takes
     * effect for new connections and requests. NULL: a reload reads again
     * only the files these options name. Called on the thread that called
     * server_run(). */
    const struct server_opts *(*reload)(void *user, char *err, size_t errlen);
    /* options reload() gave, once no request uses them */
    void (*release)(void *user, const struct server_opts *o);
    void *reload_user;
};

enum { SERVE_LOG_COMBINED = 0, SERVE_LOG_JSON = 1, SERVE_LOG_LOOM = 2 };
enum { SERVE_LOG_ERROR = 0, SERVE_LOG_WARN = 1, SERVE_LOG_INFO = 2 };

/* Exit codes of loom serve (docs/cli.md, --help) */
enum {
    SERVE_OK = 0,
    SERVE_FAIL = 1,  /* out of memory, threads or event loops that could not start */
    SERVE_USAGE = 2, /* bad flags, push map or access log */
    SERVE_CERT = 3,  /* certificate or key unreadable, or the self-signed one not writable */
    SERVE_PORT = 4,  /* address in use or not available */
    SERVE_ROOT = 5,  /* the root folder is missing or not a folder */
    SERVE_CACHE = 6, /* the demo site cannot be written to the cache folder */
};

/* What server_run() reads before it listens — every site's root, the
 * certificates and keys (through OpenSSL), the push maps, the media types
 * — read and dropped: SERVE_OK, or the exit status server_run() would
 * have with the reason in err and *site the site at fault (0 the top-level
 * one, i + 1 o->hosts[i], -1 none). For --check-config. */
int server_check(const server_opts *o, int *site, char *err, size_t errlen);

/* Runs the server until SIGTERM/SIGINT (graceful shutdown). Returns an exit
 * code; prints a one-line reason on failure. */
int server_run(const server_opts *o);

#endif
