/* loom — an HTTP/2 implementation with no I/O inside.
 *
 * Umbrella header: include this one for everything. The parts:
 *   common.h  version, error codes, the allocator
 *   frame.h   the frame codec (RFC 9113 §4, §6)
 *   hpack.h   header compression (RFC 7541)
 *   conn.h    the connection engine */
#ifndef LOOM_LOOM_H
#define LOOM_LOOM_H

#include "common.h"
#include "frame.h"
#include "hpack.h"
#include "conn.h"

#endif
