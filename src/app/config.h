/* loom serve's configuration file (--config FILE, --check-config FILE):
 * YAML (libyaml), a mapping whose keys are loom serve's flags without
 * their dashes (every flag is a directive: a scalar is its value, a list
 * repeats it, true/false turn a switch on or off), "root" for DIR, and
 * "hosts": virtual hosts by name, each with its own root, certificate (by
 * SNI) and push map. */
#ifndef LOOM_SRC_APP_CONFIG_H
#define LOOM_SRC_APP_CONFIG_H

#include <stddef.h>

#include "../server.h"

typedef struct {
    char **argv; /* "--flag", "value", ...: what the command line would say */
    int *line;   /* the file's line of each argv[i] */
    int argc;
    server_vhost hosts[SERVER_MAX_HOSTS];
    int nhosts;
} config;

/* Reads FILE into c. Returns 0, or -1 with "FILE:LINE: why" in err. */
int config_load(const char *path, config *c, char *err, size_t errlen);
void config_free(config *c);

#endif
