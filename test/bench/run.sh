#!/bin/sh
# make bench: every benchmark, each against a baseline measured in the same
# run (this machine is shared and noisy: compare ratios, not absolutes).
# Each test/bench/*.sh script prints its own result lines; results are
# collected in build/bench/results.txt.  See docs/BENCHMARKS.md.
set -u
cd "$(dirname "$0")/../.." || exit 1
mkdir -p build/bench
out=build/bench/results.txt
{
    echo "# resched bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$out"
rc=0
for b in test/bench/*.sh; do
    [ "$b" = test/bench/run.sh ] && continue
    case "$b" in *"${1:-}"*) ;; *) continue ;; esac
    echo "== $(basename "$b" .sh)" | tee -a "$out"
    sh "$b" 2>&1 | tee -a "$out"
    st=$?
    [ $st -eq 0 ] || [ $st -eq 77 ] || rc=1
done
echo "results in $out"
exit $rc
