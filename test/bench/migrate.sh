#!/bin/sh
# migrate.sh [N] — plain-C migration latency through the registry: from the
# write to procs/ID/migrate until it returns (the successor has the state,
# acknowledged it and runs on the destination), N moves (default 20)
# alternating between two namespaced hosts; 1 MiB of protected state, a poll
# point every millisecond.  Prints p50/p90 of the write, and of each phase
# from the history line (poll connect transfer restore total), plus
# "other" = total - (poll + connect + transfer + restore): registry hops,
# starting the successor and its `ready` ("(spawn)": that start alone).  Needs root; make all first.
set -u
N=${1:-20}
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
. test/lib/cluster.sh
cluster_need_root
for b in bin/reschedfs bin/resched-agent bin/test_tree; do
    [ -x $b ] || { echo "$b not built (make all)"; exit 77; }
done
T=$(mktemp -d "/tmp/resched-bench-migrate-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
KEY=$T/key
head -c 32 /dev/urandom > "$KEY"; chmod 600 "$KEY"
CL_EXTRA_CLEANUP='fusermount3 -uz "$M" 2>/dev/null; rm -rf "$T"'
cluster_init
PORT=$((10000 + $$ % 22000)) # below the ephemeral range (32768-): never a TIME_WAIT client port
REG=$CL_REG_ADDR:$PORT

die() { echo "migrate.sh: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }
wait_until() {
    _n=$(($1 * 10)); shift
    while [ $_n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; _n=$((_n - 1)); done
    return 1
}
"$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" >"$T/fs.log" 2>&1 &
cluster_track $!
wait_until 5 test -f "$M/README" || die "reschedfs did not mount"
echo manual > "$M/sched/mode"
echo 1 > "$M/sched/allow_root"   # the bench jobs run as root
for h in h1 h2; do
    cluster_add_host $h
    cluster_bg $h "$T/agent-$h.log" "$ROOT/bin/resched-agent" --registry "$REG" \
        --name $h --interval 1 --key "$(cluster_host_key "$KEY" $h)" --run "$T/run-$h"
done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 2 ]" || die "hosts did not appear"

# 1 MiB payload + a small tree; a poll point every 1 ms; runs until killed
cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/run-h1" "$ROOT/bin/test_tree" \
    --levels 6 --trees 1 --iterations 100000000 --sleep-ms 1 --payload-mb 1 --out "$T/job.sum"
wait_until 10 sh -c "ls '$M/procs' | grep -q ." || die "the job did not register"
ID=$(ls "$M/procs" | head -1)
sleep 1

# The moves, timed in one process (python3 when there is one: no fork
# between the two clock readings), else in the shell.
if command -v python3 >/dev/null; then
    python3 - "$M/procs/$ID" "$N" > "$T/write.ms" <<'PY' || die "a move failed: $(cat "$M/procs/$ID/migrate")"
import sys, time
d, n = sys.argv[1], int(sys.argv[2])
to = "h2"
for i in range(n):
    t0 = time.perf_counter()
    with open(d + "/migrate", "w") as f:
        f.write(to + "\n")
    t1 = time.perf_counter()
    print("%.0f" % ((t1 - t0) * 1e6))
    for _ in range(50):
        if open(d + "/status").read().strip() == "running":
            break
        time.sleep(0.1)
    to = "h1" if to == "h2" else "h2"
    time.sleep(0.2)
PY
else
    : > "$T/write.ms"
    to=h2
    i=0
    while [ $i -lt "$N" ]; do
        t0=$(date +%s%N)
        /bin/echo $to > "$M/procs/$ID/migrate" || die "move $i to $to failed: $(cat "$M/procs/$ID/migrate")"
        t1=$(date +%s%N)
        echo "$(( (t1 - t0) / 1000 ))" >> "$T/write.ms"
        wait_until 5 sh -c "[ \"\$(cat '$M/procs/$ID/status')\" = running ]" || die "not running after move $i"
        [ $to = h2 ] && to=h1 || to=h2
        i=$((i + 1))
        sleep 0.2
    done
fi

# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE
pct() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i] }'; }
echo "plain-C migration through the registry, $N moves, 1 MiB state, poll every 1 ms"
printf '%-10s %10s %10s\n' phase p50_ms p90_ms
awk '{ printf "%.3f\n", $1 / 1000 }' "$T/write.ms" > "$T/write"
printf '%-10s %10s %10s\n' write "$(pct "$T/write" 50)" "$(pct "$T/write" 90)"
tail -n "$N" "$M/procs/$ID/history" > "$T/history"
for ph in poll connect transfer restore total; do
    sed -n "s/.* $ph=\([0-9.]*\)s\{0,1\} .*/\1/p" "$T/history" | awk '{ printf "%.3f\n", $1 * 1000 }' > "$T/$ph"
    printf '%-10s %10s %10s\n' "$ph" "$(pct "$T/$ph" 50)" "$(pct "$T/$ph" 90)"
done
awk '{ t = 0; for (i = 1; i <= NF; i++) if ($i ~ /^(poll|connect|transfer|restore|total)=/) {
         split($i, kv, "="); v = kv[2] + 0; if (kv[1] == "total") tot = v; else t += v }
       printf "%.3f\n", (tot - t) * 1000 }' "$T/history" > "$T/other"
printf '%-10s %10s %10s\n' other "$(pct "$T/other" 50)" "$(pct "$T/other" 90)"
# part of `other`: the destination agent's fork/exec of the successor until
# its `ready` (agent log: "ready on port P, X ms after start")
sed -n 's/.*ready on port [0-9]*, \([0-9.]*\) ms after start.*/\1/p' "$T"/agent-h*.log > "$T/spawn"
[ -s "$T/spawn" ] && printf '%-10s %10s %10s\n' "(spawn)" "$(pct "$T/spawn" 50)" "$(pct "$T/spawn" 90)"
exit 0
