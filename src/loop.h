/* A small epoll event loop with a timer heap: one per worker thread. */
#ifndef LOOM_SRC_LOOP_H
#define LOOM_SRC_LOOP_H

#include <stdint.h>

typedef struct loop loop;
typedef void (*loop_io_cb)(loop *l, int fd, uint32_t events, void *user);
typedef void (*loop_timer_cb)(loop *l, void *user);

enum { LOOP_READ = 1, LOOP_WRITE = 4 }; /* EPOLLIN, EPOLLOUT */

loop *loop_new(void);
void loop_free(loop *l);
int loop_add(loop *l, int fd, uint32_t events, loop_io_cb cb, void *user);
int loop_mod(loop *l, int fd, uint32_t events);
void loop_del(loop *l, int fd);

/* A timer firing once after ms; returns an id > 0 for loop_timer_cancel(). */
uint64_t loop_timer(loop *l, uint64_t ms, loop_timer_cb cb, void *user);
void loop_timer_cancel(loop *l, uint64_t id);

uint64_t loop_now_ms(void);

/* Runs until loop_stop(); returns 0. */
int loop_run(loop *l);
void loop_stop(loop *l);

#endif
