#!/bin/sh
# lib/huffman_table.c is exactly what tools/gen_huffman.py makes from the
# RFC 7541 Appendix B code list.
set -eu
src=$1
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"${LOOM_PYTHON:-python3}" "$src/tools/gen_huffman.py" "$src/tools/rfc7541_huffman_codes.txt" >"$tmp"
if ! cmp -s "$tmp" "$src/lib/huffman_table.c"; then
    echo "lib/huffman_table.c differs from the generator's output; regenerate with:"
    echo "  python3 tools/gen_huffman.py tools/rfc7541_huffman_codes.txt > lib/huffman_table.c"
    exit 1
fi
echo "lib/huffman_table.c matches tools/gen_huffman.py output"
