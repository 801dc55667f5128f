#!/bin/sh
# 60-migrate-plain.sh — a plain-C job moves through the registry between
# namespaced hosts: `echo h2 > procs/ID/migrate` returns 0 once the job
# runs on h2; host, pid, status, history and events follow; four moves in a
# row (h1->h2->h3->h1->h2) keep the job id; after a registry restart the
# agent announces the job again (same id, host, pid) and it can still be
# moved; the job's final sum equals an unmigrated run's; a successor started
# by an agent outside its --cgroup joins that cgroup.  Real reschedfs (--key), real agents, bin/test_tree.
TNAME=migrate-plain
. "$(dirname "$0")/../lib/migtest.sh"

mkdir -p "$T/state"
start_fs --state "$T/state"
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the jobs here run as root
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
# h3's agent runs outside the cgroup it watches (in h3's network namespace
# only): the successors it starts must still join h3's cgroups
cluster_add_host h3
nsenter --net="/run/netns/$(cluster_ns h3)" "$ROOT/bin/resched-agent" --registry "$REG" \
    --name h3 --interval 1 --key "$(cluster_host_key "$KEY" h3)" --run "$T/run-h3" --cgroup "$(cluster_cg h3)" \
    >"$T/agent-h3.log" 2>&1 &
cluster_track $!
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
    if [ "$to" = h3 ]; then
        grep -q "/$(cluster_cg h3)\$" "/proc/$newpid/cgroup" ||
            fail "successor $newpid on h3 is not in h3's cgroup: $(cat "/proc/$newpid/cgroup")"
        ok "the successor on h3 joined $(cluster_cg h3) (its agent runs outside it)"
    fi
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
start_fs --state "$T/state"
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
