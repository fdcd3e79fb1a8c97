#!/bin/sh
# Fails listing every C file that clang-format (with the repo's .clang-format) would change.
set -u
cd "$1" || exit 1
bad=0
for f in $(find include lib src tests fuzz bench tools docs -name '*.c' -o -name '*.h' 2>/dev/null | grep -v '_table\.c$'); do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not clang-formatted: $f (run: make format)"
        bad=1
    fi
done
exit $bad
