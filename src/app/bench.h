/* loom bench: a load generator (h2load's interface). */
#ifndef LOOM_APP_BENCH_H
#define LOOM_APP_BENCH_H

int bench_main(int argc, char **argv);

#endif
