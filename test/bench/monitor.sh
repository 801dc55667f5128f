#!/bin/sh
# monitor.sh: the agent's cost (test/bench/monitor_bench.c); run from
# anywhere, called by test/bench/run.sh.  Prints the bench's lines.
set -eu
cd "$(dirname "$0")/../.."
B=build/bench/monitor_bench
[ -x "$B" ] || make -s "$B"
"$B" rules/default
