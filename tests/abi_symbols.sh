#!/bin/sh
# The shared library exports exactly the functions include/loom/*.h declares
# LOOM_API, and nothing else (RFC-free ABI hygiene: internal helpers are
# hidden by -fvisibility=hidden and named loom__ or static).
#   tests/abi_symbols.sh SRC_DIR LIBLOOM_SO
set -eu
src=$1
so=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# every name declared after LOOM_API in the public headers
# (declarations start their line with LOOM_API and name the function on it)
grep -h '^LOOM_API ' "$src"/include/loom/*.h | sed -E 's/^([^(]*[ *])([a-z_0-9]+)\(.*/\2/' |
    sort -u >"$tmp/declared"
# every function or object the library defines for others
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u >"$tmp/exported"
n=$(wc -l <"$tmp/declared")
if [ "$n" -lt 50 ]; then
    echo "abi_symbols: only $n LOOM_API declarations found: the header scan is broken"
    exit 1
fi
if ! cmp -s "$tmp/declared" "$tmp/exported"; then
    echo "abi_symbols: exported symbols differ from the LOOM_API declarations"
    echo "(< declared but not exported, > exported but not declared)"
    diff "$tmp/declared" "$tmp/exported" || true
    exit 1
fi
# no internal prefix leaks, whatever the headers say
if grep -q '^loom__' "$tmp/exported"; then
    echo "abi_symbols: internal loom__ symbols exported"
    exit 1
fi
echo "abi_symbols: $n symbols, exactly the documented API"
