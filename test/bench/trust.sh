#!/bin/sh
# trust.sh — what the trust work costs and what it withstands, each figure
# against a baseline measured in the same run (docs/BENCHMARKS.md):
#   1. registry CPU with 10,000 agents proving per-host keys (derived per
#      connection from the cluster key) against the same 10,000 holding
#      the shared cluster key (--shared-key): the ratio, target <= 1.1
#      (test/bench/registry.sh, run twice with BENCH_KEYS).
#   2. 2,000 agents' update lag p99 alone, then while 10,000 connections
#      that never authenticate are held open against the same registry:
#      registry RSS growth (target <= 64 MiB) and the lag (target <= 100 ms,
#      unchanged).
set -u
cd "$(dirname "$0")/../.." || exit 1
N=${BENCH_TRUST_N:-10000}
AG=${BENCH_TRUST_AGENTS:-2000}
WINDOW=${BENCH_WINDOW:-20}
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mount)"; exit 77; }
for b in bin/reschedfs bin/resched-key build/tools/loadgen; do
    [ -x "$b" ] || { echo "$b not built"; exit 77; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((N + AG + 200)) ] || { echo "ulimit -n $(ulimit -n) too low"; exit 77; }

# 1. per-host keys against the shared key
for k in shared host; do
    BENCH_KEYS=$k BENCH_WINDOW=$WINDOW sh test/bench/registry.sh "$N" > "build/bench/trust-$k.out" 2>&1 ||
        { echo "registry.sh BENCH_KEYS=$k failed:"; tail -5 "build/bench/trust-$k.out"; exit 1; }
    grep "^keys=" "build/bench/trust-$k.out"
done
cs=$(sed -n 's/^keys=shared registry_cpu_cores=\([^ ]*\).*/\1/p' build/bench/trust-shared.out)
ch=$(sed -n 's/^keys=host registry_cpu_cores=\([^ ]*\).*/\1/p' build/bench/trust-host.out)
awk -v s="$cs" -v h="$ch" 'BEGIN { printf "host_keys_cpu_ratio=%.2f (registry CPU, per-host keys / shared key, target <= 1.1)\n", h / s }'

# 2. a flood of unauthenticated connections
T=$(mktemp -d "/tmp/resched-bench-trust-$$-XXXXXX")
M=$T/mnt; mkdir -p "$M"
KEY=$T/key; bin/resched-key new > "$KEY"
PORT=$((10000 + $$ % 22000)); REG=127.0.0.1:$PORT
FSPID="" LGPID="" HOLDPID=""
cleanup() {
    for p in $LGPID $HOLDPID; do kill "$p" 2>/dev/null; done
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
bin/reschedfs "$M" -f --listen "$REG" --key "$KEY" >"$T/fs.log" 2>&1 &
FSPID=$!
i=0; while [ ! -f "$M/README" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$M/README" ] || { echo "reschedfs did not mount"; exit 1; }
# lag_run NAME: AG agents with host keys, steady state for WINDOW s
lag_run() {
    build/tools/loadgen --registry "$REG" --key "$KEY" --host-keys -n "$AG" --prefix "$1" \
        --duration $((WINDOW + 20)) --mount "$M" --probes 8 >"$T/$1.out" 2>"$T/$1.err" &
    LGPID=$!
}
lag_run base
wait "$LGPID"; LGPID=""
base=$(sed -n 's/.*lag_p99_ms=\([^ ]*\).*/\1/p' "$T/base.out")
rss0=$(rss_kib $FSPID)
build/tools/loadgen --attack hold --registry "$REG" -n "$N" --big --duration $((WINDOW + 30)) \
    >"$T/hold.out" 2>&1 &
HOLDPID=$!
sleep 5
lag_run flood
peak=$(rss_kib $FSPID)
while kill -0 "$LGPID" 2>/dev/null; do
    r=$(rss_kib $FSPID); [ "$r" -gt "$peak" ] && peak=$r; sleep 1
done
wait "$LGPID"; LGPID=""
flood=$(sed -n 's/.*lag_p99_ms=\([^ ]*\).*/\1/p' "$T/flood.out")
kill "$HOLDPID"; wait "$HOLDPID" 2>/dev/null; HOLDPID=""
drops=$(awk '/connections? dropped: 1024 were awaiting/ { n += $2 } END { print n + 0 }' "$T/fs.log")
echo "flood: $N unauthenticated connections held (+ $AG agents): registry_rss_growth_mib=$(( (peak - rss0) / 1024 )) (target <= 64), pending_dropped=$drops"
echo "lag_p99_ms: ${base} alone, ${flood} during the flood (target <= 100, unchanged)"
