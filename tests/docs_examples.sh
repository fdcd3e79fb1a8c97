#!/bin/sh
# Compiles and runs every ```c block of docs/*.md against the built library.
set -eu
src=$1
lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count=0
for doc in "$src"/docs/*.md; do
    awk -v dir="$tmp" -v base="$(basename "$doc" .md)" '
        /^```c$/ { n++; f = dir "/" base "_" n ".c"; inblock = 1; next }
        /^```$/ { inblock = 0; next }
        inblock { print > f }' "$doc"
done
for c in "$tmp"/*.c; do
    [ -f "$c" ] || continue
    cc -std=c11 -Wall -Wextra -Werror $CFLAGS_EXTRA -I"$src/include" "$c" "$lib" -o "${c%.c}" $LDFLAGS_EXTRA
    "${c%.c}" >"${c%.c}.out"
    echo "== $(basename "$c"): ok"
    cat "${c%.c}.out"
    count=$((count + 1))
done
[ "$count" -gt 0 ]
