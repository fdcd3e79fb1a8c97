#!/bin/sh
# Installs the release build of the clang tree into a temporary prefix and
# builds a program against it with pkg-config only, static and shared.
set -eu
src=$1
bin=$2/clang
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$bin" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/loom"
test -f "$prefix/include/loom/loom.h"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -print-multiarch 2>/dev/null)/pkgconfig"
cat >"$prefix/t.c" <<'C'
#include <loom/loom.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    uint8_t buf[32];
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_PING;
    int n = loom_frame_pack(&f, buf, sizeof(buf));
    printf("%s %d\n", loom_version(), n);
    return n == 17 ? 0 : 1;
}
C
cc -std=c11 -Wall -Werror "$prefix/t.c" -o "$prefix/t" $(pkg-config --cflags --libs loom)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir loom)" "$prefix/t"
cc -std=c11 -Wall -Werror "$prefix/t.c" -o "$prefix/t-static" $(pkg-config --cflags loom) \
    "$(pkg-config --variable=libdir loom)/libloom.a"
"$prefix/t-static"
