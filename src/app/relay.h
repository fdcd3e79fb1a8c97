/* An emulated network link in user space (this kernel has no netem): a TCP
 * relay that every connection of a client goes through. Each direction is
 * one link shared by all connections (a host's access link): octets wait
 * their turn at --rate, then arrive half the round-trip time later. TCP's
 * slow start is modelled per connection and direction (a window of 10
 * segments, RFC 6928, growing by what is acknowledged, an acknowledgement
 * taking half a round trip back), since the real loopback connections
 * under the relay have no delay of their own to grow a window against.
 * --loss applies as delay: a segment lost costs its connection one more
 * round trip (the retransmission), holding back what follows it on that
 * connection, and halves its window (at most once a round trip). The
 * handshake costs its round trip too: a connection's first client octets
 * leave one round trip after it was accepted. docs/cli.md (loom relay)
 * has the whole model and its limits. */
#ifndef LOOM_APP_RELAY_H
#define LOOM_APP_RELAY_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    double rtt_ms;    /* round-trip time added (each direction half of it); 0: none */
    double rate_mbit; /* each direction's rate in Mbit/s; 0: unlimited */
    double loss_pct;  /* each segment's chance of being lost, 0..50 */
    int slow_start;   /* model TCP's window growth (on unless set to -1) */
    uint64_t seed;    /* for the loss draws (0: a fixed default, runs repeat) */
} relay_opts;

typedef struct relay relay;

/* Statistics, both directions added up. */
typedef struct {
    uint64_t conns;         /* connections accepted */
    uint64_t up_octets;     /* client to server (delivered) */
    uint64_t down_octets;   /* server to client (delivered) */
    uint64_t lost_segments; /* segments --loss drew as lost */
} relay_stats;

/* Starts the relay's thread (its own event loop; it blocks every signal).
 * NULL with a reason in err on failure (an option out of range, no file
 * descriptors left). */
relay *relay_start(const relay_opts *o, char *err, size_t errlen);

/* A listener on 127.0.0.1 (a free port) whose connections are relayed to
 * target; *local gets its address. Thread-safe: may be called while the
 * relay runs. Returns 0, or -1 with errno set. */
int relay_add(relay *r, const struct sockaddr *target, socklen_t targetlen,
              struct sockaddr_storage *local, socklen_t *locallen);

void relay_get_stats(relay *r, relay_stats *s);

/* Stops the thread, closes every listener and connection, frees r. */
void relay_stop(relay *r);

/* `loom relay`: the relay on its own, for any client (loom relay --help). */
int relay_main(int argc, char **argv);

#endif
