/* A loom connection engine over one TCP connection on loopback, for the
 * interop tests against other HTTP/2 implementations (test_conn_h2.py).
 *
 *   conn_driver server PORT   listens on 127.0.0.1:PORT (0: any free port),
 *                             prints "PORT n", serves one connection:
 *                             GET / gets a 100000-octet body and a push of
 *                             /pushed.css; any other request gets its own
 *                             body echoed back.
 *   conn_driver client PORT   connects to 127.0.0.1:PORT, sends GET / and
 *                             POST /upload with a 70000-octet body, waits
 *                             for both responses and every push, then sends
 *                             GOAWAY and closes.
 *
 * Events are printed one per line ("RESPONSE 1 200", "BODY 1 len=.. fnv=..",
 * "PROMISE 1 2 /pushed.js", "CLOSED 1 0", ...). Bodies are the pattern
 * (i * 7 + 3) % 251, compared by length and FNV-1a 32. Every wait is
 * bounded: the whole run gives up after 20 seconds. Exit status 0 when the
 * exchange completed without error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "loom/loom.h"

#define MAX_STREAMS 16
#define BODY_CAP    (1u << 18)
#define DEADLINE_MS 20000

typedef struct {
    int32_t id;
    char method[16], path[128], authority[128];
    uint8_t *body;
    size_t len;
    int status, ended, answered, closed, pushed;
    uint32_t code;
    uint8_t *out; /* our body for this stream, alive until the stream closes */
} strm;

static strm streams[MAX_STREAMS];
static int nstreams, is_server, failed, promises;

static strm *get(int32_t id)
{
    for (int i = 0; i < nstreams; i++)
        if (streams[i].id == id) return &streams[i];
    if (nstreams == MAX_STREAMS) {
        fprintf(stderr, "too many streams\n");
        exit(2);
    }
    strm *s = &streams[nstreams++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->body = malloc(BODY_CAP);
    if (!s->body) exit(2);
    return s;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p) exit(2);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 7 + 3) % 251);
    return p;
}

static void copy(char *dst, size_t cap, const loom_hpack_field *f)
{
    size_t n = f->value_len < cap - 1 ? f->value_len : cap - 1;
    memcpy(dst, f->value, n);
    dst[n] = 0;
}

static int is(const loom_hpack_field *f, const char *name)
{
    return f->name_len == strlen(name) && !memcmp(f->name, name, f->name_len);
}

static int on_event(loom_conn *c, const loom_event *ev, void *user)
{
    (void)c;
    (void)user;
    strm *s;
    switch (ev->type) {
    case LOOM_EV_HEADERS:
        s = get(ev->stream_id);
        for (size_t i = 0; i < ev->u.headers.n; i++) {
            const loom_hpack_field *f = &ev->u.headers.fields[i];
            if (is(f, ":method")) copy(s->method, sizeof(s->method), f);
            if (is(f, ":path")) copy(s->path, sizeof(s->path), f);
            if (is(f, ":authority")) copy(s->authority, sizeof(s->authority), f);
        }
        if (is_server) {
            printf("REQUEST %d %s %s\n", ev->stream_id, s->method, s->path);
        } else {
            s->status = ev->u.headers.status;
            printf("RESPONSE %d %d\n", ev->stream_id, s->status);
        }
        if (ev->u.headers.end_stream) s->ended = 1;
        break;
    case LOOM_EV_TRAILERS:
        s = get(ev->stream_id);
        s->ended = 1;
        printf("TRAILERS %d\n", ev->stream_id);
        break;
    case LOOM_EV_DATA:
        s = get(ev->stream_id);
        if (s->len + ev->u.data.len > BODY_CAP) {
            printf("ERROR body too large on %d\n", ev->stream_id);
            failed = 1;
            break;
        }
        memcpy(s->body + s->len, ev->u.data.data, ev->u.data.len);
        s->len += ev->u.data.len;
        if (ev->u.data.end_stream) s->ended = 1;
        break;
    case LOOM_EV_PUSH_PROMISE:
        s = get(ev->u.push.promised_id);
        s->pushed = 1;
        promises++;
        for (size_t i = 0; i < ev->u.push.n; i++)
            if (is(&ev->u.push.fields[i], ":path"))
                copy(s->path, sizeof(s->path), &ev->u.push.fields[i]);
        printf("PROMISE %d %d %s\n", ev->stream_id, ev->u.push.promised_id, s->path);
        break;
    case LOOM_EV_STREAM_CLOSED:
        s = get(ev->stream_id);
        s->closed = 1;
        s->code = ev->u.closed.error_code;
        printf("BODY %d len=%zu fnv=%08x\n", ev->stream_id, s->len, fnv(s->body, s->len));
        printf("CLOSED %d %u\n", ev->stream_id, ev->u.closed.error_code);
        if (ev->u.closed.error_code) failed = 1;
        break;
    case LOOM_EV_GOAWAY:
        printf("GOAWAY %u %u\n", ev->u.goaway.last_stream_id, ev->u.goaway.error_code);
        if (ev->u.goaway.error_code) failed = 1;
        break;
    case LOOM_EV_ERROR:
        printf("ERROR %s\n", ev->u.error.reason ? ev->u.error.reason : "?");
        failed = 1;
        break;
    case LOOM_EV_SETTINGS: printf("SETTINGS\n"); break;
    default: break;
    }
    fflush(stdout);
    return 0;
}

#define FLD(n, v)                                                                                  \
    {                                                                                              \
        (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), strlen(v), 0                    \
    }

/* Server: answers the requests whose body has ended. */
static void answer(loom_conn *c)
{
    for (int i = 0; i < nstreams; i++) {
        strm *s = &streams[i];
        if (!s->ended || s->answered || s->pushed) continue;
        s->answered = 1;
        int root = !strcmp(s->method, "GET") && !strcmp(s->path, "/");
        if (root) {
            loom_hpack_field req[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                                      FLD(":authority", s->authority), FLD(":path", "/pushed.css")};
            int32_t pid = loom_push(c, s->id, req, 4);
            printf("PUSHED %d %d\n", s->id, pid);
            if (pid > 0) {
                strm *p = get(pid);
                p->pushed = 1;
                p->out = pattern(3000);
                loom_hpack_field rf[] = {FLD(":status", "200"), FLD("content-type", "text/css")};
                loom_body b = {.data = p->out, .len = 3000, .fd = -1};
                if (loom_respond(c, pid, rf, 2, &b) < 0) failed = 1;
            }
        }
        size_t n = root ? 100000 : s->len;
        s->out = root ? pattern(n) : malloc(n ? n : 1);
        if (!root) memcpy(s->out, s->body, n);
        char len[32];
        snprintf(len, sizeof(len), "%zu", n);
        loom_hpack_field f[] = {FLD(":status", "200"), FLD("content-length", len)};
        loom_body b = {.data = s->out, .len = n, .fd = -1};
        if (loom_respond(c, s->id, f, 2, n ? &b : NULL) < 0) failed = 1;
        printf("ANSWERED %d %zu\n", s->id, n);
        fflush(stdout);
    }
}

/* Writes what the engine has; returns -1 on a socket error. */
static int flush_out(loom_conn *c, int fd)
{
    loom_out out[16];
    size_t n;
    while ((n = loom_conn_send(c, out, 16)) > 0) {
        struct iovec iov[16];
        for (size_t i = 0; i < n; i++) {
            if (out[i].fd >= 0) return -1; /* no file bodies here */
            iov[i].iov_base = (void *)out[i].base;
            iov[i].iov_len = out[i].len;
        }
        ssize_t w = writev(fd, iov, (int)n);
        if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        loom_conn_sent(c, (size_t)w);
    }
    return 0;
}

static int client_done(void)
{
    int closed = 0, pushed_closed = 0;
    for (int i = 0; i < nstreams; i++) {
        if (!streams[i].closed) return 0;
        if (streams[i].pushed)
            pushed_closed++;
        else
            closed++;
    }
    return closed == 2 && pushed_closed == promises;
}

static int run(loom_conn *c, int fd)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    uint8_t buf[65536];
    int bye = 0;
    while (now_ms() < deadline) {
        if (is_server) answer(c);
        if (!is_server && !bye && client_done()) {
            loom_goaway(c, LOOM_H2_NO_ERROR, 0, NULL);
            bye = 1;
        }
        if (flush_out(c, fd) < 0) {
            printf("ERROR write\n");
            return 1;
        }
        if (bye && !loom_conn_want_write(c)) {
            printf("DONE\n");
            return failed;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (loom_conn_want_write(c)) p.events |= POLLOUT;
        int r = poll(&p, 1, 100);
        if (r < 0 && errno != EINTR) return 1;
        if (r <= 0) continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                flush_out(c, fd);
                printf("EOF\n");
                /* the server is done when the client left after its answers */
                return is_server ? failed : !client_done() || failed;
            }
            if (n > 0 && loom_conn_recv(c, buf, (size_t)n) < 0) {
                flush_out(c, fd);
                printf("ERROR recv\n");
                return 1;
            }
        }
    }
    printf("ERROR timeout\n");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
        fprintf(stderr, "usage: conn_driver server|client PORT\n");
        return 2;
    }
    is_server = !strcmp(argv[1], "server");
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[2]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 2;
    if (is_server) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        socklen_t al = sizeof(a);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
            perror("listen");
            return 2;
        }
        printf("PORT %d\n", ntohs(a.sin_port));
        fflush(stdout);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, DEADLINE_MS) != 1) {
            printf("ERROR no connection\n");
            return 1;
        }
        int cfd = accept(fd, NULL, NULL);
        close(fd);
        if (cfd < 0) return 2;
        fd = cfd;
    } else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("connect");
        return 2;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    loom_conn *c = loom_conn_new(is_server ? LOOM_SERVER : LOOM_CLIENT, NULL, on_event, NULL);
    if (!c) return 2;
    uint8_t *upload = NULL;
    if (!is_server) {
        char authority[64];
        snprintf(authority, sizeof(authority), "127.0.0.1:%s", argv[2]);
        loom_hpack_field get_req[] = {FLD(":method", "GET"), FLD(":scheme", "http"),
                                      FLD(":authority", authority), FLD(":path", "/")};
        loom_hpack_field post[] = {FLD(":method", "POST"), FLD(":scheme", "http"),
                                   FLD(":authority", authority), FLD(":path", "/upload"),
                                   FLD("content-length", "70000")};
        upload = pattern(70000);
        loom_body b = {.data = upload, .len = 70000, .fd = -1};
        int32_t s1 = loom_request(c, get_req, 4, NULL);
        int32_t s3 = loom_request(c, post, 5, &b);
        printf("SENT %d %d\n", s1, s3);
        fflush(stdout);
        if (s1 != 1 || s3 != 3) return 1;
        get(1);
        get(3);
    }
    int rc = run(c, fd);
    close(fd);
    loom_conn_free(c);
    for (int i = 0; i < nstreams; i++) {
        free(streams[i].body);
        free(streams[i].out);
    }
    free(upload);
    printf("EXIT %d\n", rc);
    return rc;
}
