#!/bin/sh
# sched.sh: the scheduler's decision time with 1,000 registered hosts
# (test/bench/sched_bench.c): overloaded report -> migrate command.
# Run from anywhere; called by test/bench/run.sh.  Target: p99 <= 200 us.
set -eu
cd "$(dirname "$0")/../.."
B=build/bench/sched_bench
make -s "$B" >/dev/null
"$B" "${SCHED_BENCH_HOSTS:-1000}" "${SCHED_BENCH_ROUNDS:-2000}"
