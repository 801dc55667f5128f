#!/bin/sh
# Read latency of hosts/H/state (open+read+close, p50/p99 over N reads)
# on reschedfs, against a minimal libfuse filesystem serving one file at
# the same depth with the same options, and against tmpfs — all in this
# run.  Target: reschedfs p50 <= 1.3x the minimal filesystem.
set -u
N=${BENCH_READS:-100000}
B=build/bench
[ -x bin/reschedfs ] && [ -x $B/fuse_min ] && [ -x $B/read_lat ] || { echo "build first"; exit 1; }
T=$(mktemp -d /tmp/resched-bench-fsread-XXXXXX)
FS_PID="" MIN_PID="" AG_PID=""
cleanup() {
    [ -n "$AG_PID" ] && kill "$AG_PID" 2>/dev/null
    [ -n "$FS_PID" ] && kill "$FS_PID" 2>/dev/null
    [ -n "$MIN_PID" ] && kill "$MIN_PID" 2>/dev/null
    sleep 0.3
    fusermount3 -uz "$T/reg" 2>/dev/null; fusermount3 -uz "$T/min" 2>/dev/null
    umount "$T/tmpfs" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkdir -p "$T/reg" "$T/min" "$T/tmpfs" "$T/state" "$T/run"
PORT=$((10000 + $$ % 22000)) # below the ephemeral range (32768-): never a TIME_WAIT client port
bin/reschedfs "$T/reg" -f --listen 127.0.0.1:$PORT --state "$T/state" >"$T/fs.log" 2>&1 &
FS_PID=$!
$B/fuse_min "$T/min" -f >"$T/min.log" 2>&1 &
MIN_PID=$!
mount -t tmpfs -o size=1m tmpfs "$T/tmpfs" && mkdir -p "$T/tmpfs/hosts/h1" && echo free > "$T/tmpfs/hosts/h1/state"
bin/resched-agent --registry 127.0.0.1:$PORT --name h1 --interval 1 --run "$T/run" >"$T/agent.log" 2>&1 &
AG_PID=$!
for i in $(seq 100); do [ -f "$T/reg/hosts/h1/state" ] && [ -f "$T/min/hosts/h1/state" ] && break; sleep 0.1; done
[ -f "$T/reg/hosts/h1/state" ] || { echo "reschedfs: host h1 never appeared"; cat "$T/fs.log" "$T/agent.log"; exit 1; }
# interleave the three, twice, so machine noise hits all alike
for round in 1 2; do
    $B/read_lat "$T/min/hosts/h1/state" "$N" | sed "s|$T/||; s|^|round=$round |"
    $B/read_lat "$T/reg/hosts/h1/state" "$N" | sed "s|$T/||; s|^|round=$round |"
    $B/read_lat "$T/tmpfs/hosts/h1/state" "$N" | sed "s|$T/||; s|^|round=$round |"
done | tee "$T/out"
awk '/round=2/ { split($0, a, " "); for (i in a) { if (a[i] ~ /^path=/) p = a[i]; if (a[i] ~ /^p50_us=/) { sub("p50_us=", "", a[i]); v[p] = a[i] } } }
     END { printf "fsread_ratio reschedfs/fuse_min p50=%.2f (target <= 1.3); fuse_min/tmpfs p50=%.1f\n",
           v["path=reg/hosts/h1/state"] / v["path=min/hosts/h1/state"], v["path=min/hosts/h1/state"] / v["path=tmpfs/hosts/h1/state"] }' "$T/out"
