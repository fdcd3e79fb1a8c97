#!/bin/sh
# Instructions per field of each side, counted by callgrind over the
# measured loop only (bench_hpack switches instrumentation on around it).
#   bench/callgrind.sh BENCH_HPACK CORPUS OUTDIR [DECODE_ITERS] [ENCODE_ITERS]
# Leaves OUTDIR/callgrind.<side>.<op>.out for callgrind_annotate, and prints
# the hottest functions of each run.
set -eu
bin=$1
corpus=$2
out=$3
dec_iters=${4:-2}
enc_iters=${5:-5}
mkdir -p "$out"

# Ir of one run: the `totals:` line of the callgrind output (all events
# counted are Ir, the default).
count() { # side op iterations -> "Ir fields_per_pass"
    file="$out/callgrind.$1.$2.out"
    info=$(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$file" \
        "$bin" --only "$1" --op "$2" --iterations "$3" "$corpus" 2>"$out/valgrind.$1.$2.log") || {
        cat "$out/valgrind.$1.$2.log" >&2
        return 1
    }
    fields=$(printf '%s\n' "$info" | sed -n 's/.*fields_per_pass=\([0-9]*\).*/\1/p')
    ir=$(awk '/^totals:/ {print $2}' "$file")
    case "$info" in
    *instrumented=all*)
        # no client requests compiled in: take off a zero-iteration run
        # (loading the corpus) to leave the loop alone
        base="$out/callgrind.$1.$2.base.out"
        valgrind --tool=callgrind --callgrind-out-file="$base" \
            "$bin" --only "$1" --op "$2" --iterations 0 "$corpus" >/dev/null 2>&1
        ir=$((ir - $(awk '/^totals:/ {print $2}' "$base")))
        ;;
    esac
    echo "$ir $fields"
}

for op in decode encode; do
    if [ "$op" = decode ]; then iters=$dec_iters; else iters=$enc_iters; fi
    r=$(count loom $op "$iters") || exit 1
    set -- $r
    loom_ir=$1 fields=$2
    r=$(count nghttp2 $op "$iters") || exit 1
    set -- $r
    ng_ir=$1
    if [ -z "$loom_ir" ] || [ -z "$ng_ir" ] || [ -z "$fields" ]; then
        echo "callgrind.sh: no counts for $op (see $out/valgrind.*.$op.log)" >&2
        exit 1
    fi
    awk -v op=$op -v l="$loom_ir" -v n="$ng_ir" -v f="$fields" -v i="$iters" 'BEGIN {
        lf = l / (f * i); nf = n / (f * i)
        printf "callgrind %s: loom %.0f Ir/field, nghttp2 %.0f Ir/field, nghttp2/loom %.2f (%d passes of %d fields)\n",
            op, lf, nf, nf / lf, i, f
    }'
done

for f in "$out"/callgrind.*.out; do
    case "$f" in *.base.out) continue ;; esac
    echo "== hottest functions, $(basename "$f" .out | sed 's/^callgrind\.//') (Ir, % of the loop)"
    callgrind_annotate --inclusive=no "$f" 2>/dev/null |
        awk '/^-+$/ {sep++; next} sep >= 3 && NF > 1 && !/file:function/ && n < 8 {
            sub(/ \[[^]]*\]$/, ""); print "  " $0; n++ }'
done
