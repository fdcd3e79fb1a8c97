/* loom serve */
#ifndef LOOM_APP_SERVE_H
#define LOOM_APP_SERVE_H

int serve_main(int argc, char **argv);

#endif
