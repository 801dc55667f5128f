#!/bin/sh
# run-fuzz.sh SECONDS FUZZER...: run each libFuzzer harness for SECONDS on
# its corpus (test/fuzz/corpus/NAME, seeds kept in git; new inputs go to a
# scratch copy so a short run never dirties the tree).  Fails on any crash.
set -u
secs=$1; shift
rc=0
for f in "$@"; do
    name=$(basename "$f")
    seeds=test/fuzz/corpus/$name
    work=$(mktemp -d "/tmp/resched-fuzz-$name-XXXXXX")
    trap 'rm -rf "$work"' EXIT INT TERM
    [ -d "$seeds" ] && cp -r "$seeds/." "$work/"
    dict=test/fuzz/$name.dict
    set -- -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
           -artifact_prefix="$work/" -print_final_stats=0
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    if "$f" "$@" "$work" >"$work/log" 2>&1; then
        echo "fuzz $name: ok ($(grep -c . "$work/log") log lines, ${secs}s)"
    else
        echo "fuzz $name: FAILED"; tail -40 "$work/log"
        mkdir -p build/fuzz-crashes && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* build/fuzz-crashes/ 2>/dev/null
        rc=1
    fi
    rm -rf "$work"
done
exit $rc
