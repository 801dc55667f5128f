#!/bin/sh
# make bench: every benchmark, each against a baseline measured in the same
# run (this machine is shared and noisy: compare ratios, not absolutes).
# Each test/bench/*.sh script prints its own result lines; results are
# collected in build/bench/results.txt.  See docs/BENCHMARKS.md.
# `run.sh NAME` runs test/bench/NAME.sh, or, when there is no such script,
# every one whose name contains NAME (`run.sh mpi`: mpi.sh alone; `run.sh
# mig`: migrate.sh and mpi-migrate.sh).
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
    # NAME: the script of that name alone when there is one (migrate, not
    # mpi-migrate too), else every script whose name contains NAME
    if [ -n "${1:-}" ] && [ -f "test/bench/$1.sh" ]; then
        [ "$b" = "test/bench/$1.sh" ] || continue
    else
        case "$b" in *"${1:-}"*) ;; *) continue ;; esac
    fi
    echo "== $(basename "$b" .sh)" | tee -a "$out"
    # the script's own status, not tee's
    { sh "$b" 2>&1; echo $? > build/bench/.status; } | tee -a "$out"
    st=$(cat build/bench/.status)
    [ $st -eq 0 ] || [ $st -eq 77 ] || rc=1
done
echo "results in $out"
exit $rc
