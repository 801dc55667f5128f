#!/bin/sh
# 60-migrate-plain.sh — a plain-C job moves through the registry between
# namespaced hosts: `echo h2 > procs/ID/migrate` returns 0 once the job
# runs on h2; host, pid, status, history and events follow; four moves in a
# row (h1->h2->h3->h1->h2) keep the job id; after a registry restart the
# agent announces the job again (same id, host, pid) and it can still be
# moved; the job's final sum equals an unmigrated run's.  Real reschedfs (--key), real agents, bin/test_tree.
TNAME=migrate-plain
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
. test/lib/cluster.sh
cluster_need_root
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
for b in bin/reschedfs bin/resched-agent bin/test_tree; do
    [ -x $b ] || { echo "$b not built"; exit 77; }
done
command -v nsenter >/dev/null || { echo "needs nsenter"; exit 77; }

T=$(mktemp -d "/tmp/resched-$TNAME-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
KEY=$T/key
head -c 32 /dev/urandom > "$KEY"; chmod 600 "$KEY"
CL_EXTRA_CLEANUP='fusermount3 -uz "$M" 2>/dev/null; rm -rf "$T"'
cluster_init
PORT=$((20000 + $$ % 20000))
REG=$CL_REG_ADDR:$PORT
TT=$ROOT/bin/test_tree

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log "$T"/run-*/jobs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
    [ -f "$M/events" ] && { echo "--- events"; timeout 1 cat "$M/events" | tail -20; }
    exit 1
}
ok() { echo "ok - $*"; }
wait_until() {
    _n=$(($1 * 10)); shift
    while [ $_n -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1; _n=$((_n - 1))
    done
    return 1
}
start_agent() {
    _h=$1; shift
    cluster_bg "$_h" "$T/agent-$_h.log" "$ROOT/bin/resched-agent" --registry "$REG" \
        --name "$_h" --interval 1 --key "$KEY" --run "$T/run-$_h" "$@"
    eval "AGENT_$_h=\$CL_LAST_PID"
}
field() { cat "$M/procs/$1/$2" 2>/dev/null; }
# job_on HOST: the id of the one job registered from HOST, else fails.
job_on() { for d in "$M"/procs/*/; do [ "$(cat "$d/host" 2>/dev/null)" = "$1" ] && basename "$d" && return 0; done; return 1; }
alive_on() { [ "$(field "$1" host)" = "$2" ] && [ "$(field "$1" status)" = running ]; }

start_fs() {
    "$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" --state "$T/state" >>"$T/fs.log" 2>&1 &
    FSPID=$!
    cluster_track $FSPID
    wait_until 5 test -f "$M/README" || fail "reschedfs did not mount"
}
mkdir -p "$T/state"
start_fs
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 3 ]" || fail "hosts did not appear"
ok "registry and three agents up"

ARGS="--levels 12 --trees 4 --iterations 450 --seed 11 --sleep-ms 40 --payload-mb 1"
RESCHED_RUN=$T/none "$TT" $ARGS --out "$T/ref.sum" >"$T/ref.out" 2>&1 || fail "reference run"
REF=$(cat "$T/ref.sum")
case "$REF" in "sum "[0-9]*) ;; *) fail "reference sum '$REF'" ;; esac
ok "reference: $REF"

cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/run-h1" "$TT" $ARGS --out "$T/job.sum"
JOBPID=$CL_LAST_PID
wait_until 10 job_on h1 || fail "the job did not register from h1"
ID=$(job_on h1)
[ "$(field "$ID" status)" = running ] || fail "status $(field "$ID" status)"
[ -n "$(field "$ID" pid)" ] || fail "no pid"
ok "job $ID registered on h1, pid $(field "$ID" pid)"

n=0
for to in h2 h3 h1 h2; do
    from=$(field "$ID" host); oldpid=$(field "$ID" pid)
    t0=$(date +%s%N)
    echo "$to" > "$M/procs/$ID/migrate" || fail "echo $to > migrate failed: $(field "$ID" migrate)"
    t1=$(date +%s%N)
    n=$((n + 1))
    [ "$(field "$ID" host)" = "$to" ] || fail "host $(field "$ID" host), not $to"
    wait_until 5 alive_on "$ID" "$to" || fail "status $(field "$ID" status) on $(field "$ID" host)"
    newpid=$(field "$ID" pid)
    [ "$newpid" != "$oldpid" ] || fail "pid unchanged after the move ($newpid)"
    grep -q " ok" "$M/procs/$ID/migrate" || fail "migrate reads: $(field "$ID" migrate)"
    [ "$(wc -l < "$M/procs/$ID/history")" -ge $n ] || fail "history has $(wc -l < "$M/procs/$ID/history") lines after $n moves"
    last=$(tail -1 "$M/procs/$ID/history")
    echo "$last" | grep -qE "$from $to poll=[0-9.]+s? connect=[0-9.]+s? transfer=[0-9.]+s? restore=[0-9.]+s? total=[0-9.]+s? .*ok" ||
        fail "history line: $last"
    ok "move $n $from -> $to: write returned 0 in $(( (t1 - t0) / 1000000 )) ms; pid $oldpid -> $newpid; $last"
done
timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
grep -q "migration-finished job=$ID" "$T/events.txt" || fail "no migration-finished event"
[ "$(ls "$M/procs" | wc -l)" -eq 1 ] || fail "successive moves created new jobs: $(ls "$M/procs")"
ok "four moves, one job id ($ID), events logged"

# registry restart: the agents reconnect and announce the job again
kill "$FSPID"
wait_until 5 sh -c "! kill -0 $FSPID" || fail "reschedfs did not stop"
fusermount3 -uz "$M" 2>/dev/null
start_fs
wait_until 15 sh -c "[ \"\$(cat '$M/procs/$ID/host' 2>/dev/null)\" = h2 ]" ||
    fail "job $ID not announced again after the restart: $(ls "$M/procs" 2>&1)"
[ "$(field "$ID" pid)" = "$newpid" ] || fail "pid after restart $(field "$ID" pid), not $newpid"
wait_until 5 alive_on "$ID" h2 || fail "status after restart $(field "$ID" status)"
wait_until 10 sh -c "[ \"\$(cat '$M/hosts/h3/state' 2>/dev/null)\" != '' ]" || fail "h3 not back"
echo h3 > "$M/procs/$ID/migrate" || fail "move after the restart failed: $(field "$ID" migrate)"
[ "$(field "$ID" host)" = h3 ] || fail "host $(field "$ID" host) after the post-restart move"
[ "$(ls "$M/procs" | wc -l)" -eq 1 ] || fail "restart created new jobs: $(ls "$M/procs")"
ok "after a registry restart job $ID is announced again (h2, pid $newpid) and moves to h3"

wait_until 40 grep -q '^sum ' "$T/job.sum" || fail "the job did not finish"
GOT=$(cat "$T/job.sum")
[ "$GOT" = "$REF" ] || fail "sum after 4 moves '$GOT' != reference '$REF'"
ok "final sum equals the reference: $GOT"
wait_until 5 sh -c "[ \"\$(cat '$M/procs/$ID/status')\" = done ]" || fail "status after the end: $(field "$ID" status)"
ok "job $ID status done after it finished on $(field "$ID" host)"
exit 0
