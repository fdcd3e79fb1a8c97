/* loom: the command-line program. Subcommands are added as they land. */
#include <stdio.h>
#include <string.h>

#include "../pool.h"
#include "../tls.h"

#include "loom/loom.h"
#include "bench.h"
#include "get.h"
#include "hpack_cli.h"
#include "relay.h"
#include "serve.h"

static const char usage[] =
    "usage: loom [--version | --help] <command> [args]\n"
    "\n"
    "loom is an HTTP/2 implementation: libloom (framing, HPACK, streams,\n"
    "flow control, priorities, push; no I/O) and this program built on it.\n"
    "\n"
    "options:\n"
    "  --version   print the program and library versions\n"
    "  --help      print this text\n"
    "\n"
    "commands:\n"
    "  get [options] URL...                      an HTTP/2 client: many URLs over one\n"
    "                                            connection, push, frame trace, stats,\n"
    "                                            timeline SVG, HAR. loom get --help\n"
    "  bench [options] URI...                    a load generator (h2load's options),\n"
    "                                            closed or open loop; --page: a page's\n"
    "                                            load over h2 vs HTTP/1.1. loom bench --help\n"
    "  serve [DIR] [options]                     an HTTP/2 server (TLS, h2c, HTTP/1.1,\n"
    "                                            static files, push); without DIR a\n"
    "                                            demo site. loom serve --help\n"
    "  relay --listen PORT --to HOST:PORT        an emulated network link (RTT, rate,\n"
    "                                            slow start, loss) in front of a\n"
    "                                            server. loom relay --help\n"
    "  hpack decode [options] STORY.json|-       decode an hpack-test-case story's\n"
    "                                            header blocks, print the headers\n"
    "  hpack encode [options] STORY.json|-       encode a story's header lists,\n"
    "                                            print the blocks. loom hpack --help\n";

int main(int argc, char **argv)
{
    pool_init(); /* before anything touches OpenSSL */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("loom %s (libloom %s)\n", LOOM_VERSION_STRING, loom_version());
        return 0;
    }
    if (!strcmp(argv[1], "hpack")) return loom_hpack_cli(argc - 1, argv + 1);
    if (!strcmp(argv[1], "serve")) return serve_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "get")) return get_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return bench_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "relay")) return relay_main(argc - 1, argv + 1);
    fprintf(stderr, "loom: unknown command or option '%s' (try: loom --help)\n", argv[1]);
    return 2;
}
