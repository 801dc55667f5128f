#!/bin/sh
# registry.sh [N] — scale bench of reschedfs: N (default 10000) synthetic
# authenticated agents (build/tools/loadgen, one process, libevent) send
# hello then a 15-metric update at 1 Hz over loopback, opened at
# BENCH_RATE (default 1000) a second and reconnecting when dropped.  Prints
#   connected=N ramp_s=...
#   registry_cpu_cores=... loadgen_cpu_cores=... rss_per_host_kib=...
#   lag_p99_ms=... hosts=... grep_s=...
# (CPU of both processes from /proc/PID/stat over BENCH_WINDOW (default
# 30) s: they share the machine; RSS growth per host; lag from an
# update's send to its value readable in the tree, sampled on 8 hosts;
# time of `grep -l overloaded hosts/*/state`), then the failure detection
# time of one real agent killed with SIGKILL at --interval 1.
# BENCH_KEYS=host (default): each agent proves its own host key, derived
# from the cluster key, as real agents do; BENCH_KEYS=shared: every agent
# holds the cluster key and the registry runs with --shared-key.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
N=${1:-10000}
WINDOW=${BENCH_WINDOW:-30}
RATE=${BENCH_RATE:-1000}
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mount)"; exit 77; }
for b in bin/reschedfs bin/resched-agent build/tools/loadgen; do
    [ -x "$b" ] || { echo "$b not built (make all build/tools/loadgen)"; exit 77; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || { echo "cannot raise ulimit -n"; exit 77; }
[ "$(ulimit -n)" -gt $((N + 100)) ] || { echo "ulimit -n $(ulimit -n) too low for $N agents"; exit 77; }
T=$(mktemp -d "/tmp/resched-bench-reg-$$-XXXXXX")
M=$T/mnt; mkdir -p "$M"
KEY=$T/key; bin/resched-key new > "$KEY"
KEYS=${BENCH_KEYS:-host}
case $KEYS in
    host) FS_KEYS="" LG_KEYS=--host-keys ;;
    shared) FS_KEYS=--shared-key LG_KEYS="" ;;
    *) echo "BENCH_KEYS=host|shared"; exit 2 ;;
esac
# below the ephemeral range (32768-): a port the last run's 10,000 client
# connections left in TIME_WAIT cannot be bound for a minute
PORT=$((10000 + $$ % 22000)); REG=127.0.0.1:$PORT
FSPID="" LGPID="" AGPID=""
cleanup() {
    for p in $LGPID $AGPID; do kill "$p" 2>/dev/null; done
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# shellcheck disable=SC2086
bin/reschedfs "$M" -f --listen "$REG" --key "$KEY" $FS_KEYS >"$T/fs.log" 2>&1 &
FSPID=$!
i=0; while [ ! -f "$M/README" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$M/README" ] || { echo "reschedfs did not mount:"; tail -3 "$T/fs.log"; exit 1; }
rss0=$(rss_kib $FSPID)
# shellcheck disable=SC2086
build/tools/loadgen --registry "$REG" --key "$KEY" $LG_KEYS -n "$N" --duration $((WINDOW + 150)) \
    --rate "$RATE" --mount "$M" --probes 8 >"$T/lg.out" 2>"$T/lg.err" &
LGPID=$!
i=0; while ! grep -q "^connected=" "$T/lg.out" && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "^connected=" "$T/lg.out" || {
    echo "connected=$(ls "$M/hosts" | wc -l) of $N after $((i / 10)) s: not all agents connected"
    tail -3 "$T/lg.err"; exit 1; }
grep "^connected=" "$T/lg.out"
sleep 3
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks $FSPID); l0=$(cpu_ticks $LGPID); t0=$(date +%s.%N)
sleep "$WINDOW"
c1=$(cpu_ticks $FSPID); l1=$(cpu_ticks $LGPID); t1=$(date +%s.%N)
rss1=$(rss_kib $FSPID)
hosts=$(ls "$M/hosts" | wc -l)
g0=$(date +%s.%N)
nover=$(grep -l overloaded "$M"/hosts/*/state | wc -l)
g1=$(date +%s.%N)
kill "$LGPID"; wait "$LGPID" 2>/dev/null; LGPID=""
sleep 0.2
lag=$(sed -n 's/.*lag_p99_ms=\([^ ]*\).*/\1/p' "$T/lg.out")
awk -v c0="$c0" -v c1="$c1" -v l0="$l0" -v l1="$l1" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v r0="$rss0" \
    -v r1="$rss1" -v n="$N" -v lag="$lag" -v h="$hosts" -v g0="$g0" -v g1="$g1" 'BEGIN {
    printf "keys='"$KEYS"' registry_cpu_cores=%.3f loadgen_cpu_cores=%.3f rss_per_host_kib=%.1f lag_p99_ms=%s hosts=%d grep_s=%.3f\n",
        (c1 - c0) / hz / (t1 - t0), (l1 - l0) / hz / (t1 - t0), (r1 - r0) / n, lag, h, g1 - g0 }'
echo "overloaded_hosts=$nover (loadgen reports every 10th host overloaded)"
grep -E "^(lag_|loadgen_cpu|welcomed)" "$T/lg.out"

# failure detection of one real agent at interval 1 s
bin/resched-key host bench-victim < "$KEY" > "$T/victim.key"
bin/resched-agent --registry "$REG" --key "$T/victim.key" --name bench-victim --interval 1 \
    --run "$T/run" >"$T/agent.log" 2>&1 &
AGPID=$!
i=0; while ! grep -qx "free\|busy\|overloaded" "$M/hosts/bench-victim/state" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1)); done
sleep 1.5
s0=$(date +%s%3N); kill -9 "$AGPID"; AGPID=""
i=0; while ! grep -qx unavailable "$M/hosts/bench-victim/state" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.05; i=$((i + 1)); done
echo "failure_detection_ms=$(( $(date +%s%3N) - s0 )) (lease 3 intervals of 1 s)"
