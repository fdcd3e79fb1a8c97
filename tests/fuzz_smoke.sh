#!/bin/sh
# A short run of one libFuzzer harness inside `make test` (the long runs are
# `make fuzz-run`). New inputs go to a scratch directory, the first one
# libFuzzer names; the committed corpus is only read, and is checked to be
# unchanged afterwards. Fails on any crash, leak, timeout or out-of-memory
# report; what libFuzzer found is kept in WORK/artifacts.
#   fuzz_smoke.sh HARNESS CORPUS SECONDS WORK
set -eu
bin=$1 corpus=$2 secs=$3 work=$4

[ -x "$bin" ] || { echo "fuzz_smoke: $bin was not built (see the fuzz_smoke_build test)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/new" "$work/artifacts"
dirs="$work/new"
if [ -d "$corpus" ]; then
    dirs="$dirs $corpus"
    sum() { (cd "$corpus" && find . -type f | LC_ALL=C sort | xargs -r cksum); }
    before=$(sum)
fi

rc=0
# shellcheck disable=SC2086 # $dirs: two directories, no spaces in them
"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" $dirs >"$work/log" 2>&1 || rc=$?

if [ -d "$corpus" ] && [ "$(sum)" != "$before" ]; then
    echo "fuzz_smoke: $corpus was modified" >&2
    exit 1
fi
found=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | head -5)
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    tail -n 60 "$work/log"
    echo "fuzz_smoke: ${bin##*/} failed (exit $rc); log $work/log; inputs: ${found:-none}" >&2
    exit 1
fi
# the last coverage line and the totals
grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -n 1
grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/log"
