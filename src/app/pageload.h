/* loom bench --page: page loads over HTTP/2 and HTTP/1.1 compared. */
#ifndef LOOM_APP_PAGELOAD_H
#define LOOM_APP_PAGELOAD_H

int pageload_main(int argc, char **argv);

#endif
