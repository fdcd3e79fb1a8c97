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
# man pages, made from the --help texts: each renders, and names every flag
# its command's --help does
for page in loom loom-serve loom-get loom-bench loom-relay; do
    man1="$prefix/share/man/man1/$page.1"
    test -f "$man1"
    nroff -man -Tascii "$man1" 2>"$prefix/page.err" | sed "s/.\x08//g" >"$prefix/page.txt"
    test ! -s "$prefix/page.err"
    cmd=$(echo "$page" | sed -n 's/^loom-//p')
    for flag in $("$prefix/bin/loom" $cmd --help | grep -o -- '^  --*[a-zA-Z0-9][a-zA-Z0-9-]*' | tr -d ' '); do
        grep -q -- "$flag" "$prefix/page.txt" || { echo "$page.1 lacks $flag" >&2; exit 1; }
        # and docs/cli.md documents it
        grep -q -- "$flag" "$src/docs/cli.md" || { echo "docs/cli.md lacks $flag ($page)" >&2; exit 1; }
    done
done
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
