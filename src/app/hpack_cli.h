/* `loom hpack`: HPACK on hpack-test-case stories. */
#ifndef LOOM_APP_HPACK_CLI_H
#define LOOM_APP_HPACK_CLI_H

/* argv[0] is "hpack". Returns the exit status: 0, 1 (bad input), 2 (usage). */
int loom_hpack_cli(int argc, char **argv);

#endif
