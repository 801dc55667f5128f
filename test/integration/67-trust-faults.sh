#!/bin/sh
# 67-trust-faults.sh — the record stays true after faults: (1) the
# registry is SIGKILLed while a move is in flight: after its restart the
# successor's claim (with the move's token) settles the move, which is in
# history as recovered; (2) the destination agent is SIGKILLed just as its
# successor is about to restore: once a new agent runs there, the successor registers
# again and the job is running on the destination, not `migrated` forever.
# In both, the job ends with the same sum as an unmigrated run.
TNAME=trust-faults
. "$(dirname "$0")/../lib/migtest.sh"

mkdir -p "$T/state"
start_fs --state "$T/state"
echo manual > "$M/sched/mode" || fail "sched/mode"
echo 1 > "$M/sched/allow_root" || fail "sched/allow_root"   # the job runs as root
echo 60 > "$M/sched/migrate_timeout" || fail "sched/migrate_timeout"
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 2 ]" || fail "hosts did not appear"

# a slow poll point (2 s between polls) leaves the registry time to die
# after it ordered the move and before the source acts on it
ARGS="--levels 10 --trees 2 --iterations 30 --seed 5 --sleep-ms 1000 --payload-mb 1"
RESCHED_RUN=$T/none "$TT" $ARGS --sleep-ms 0 --out "$T/ref.sum" >"$T/ref.out" 2>&1 || fail "reference run"
REF=$(cat "$T/ref.sum")
ok "reference: $REF"

# ---- 1. the registry dies mid-move ----
cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/run-h1" "$TT" $ARGS --out "$T/job.sum"
wait_until 10 job_on h1 || fail "the job did not register from h1"
ID=$(job_on h1)
ok "job $ID runs on h1"
( echo h2 > "$M/procs/$ID/migrate" ) 2>/dev/null &
wait_until 10 grep -q "job $ID mig [0-9]*: pid [0-9]* told to move to h2" "$T/agent-h1.log" ||
    fail "the source was not told to move"
kill -9 "$FSPID"; wait "$FSPID" 2>/dev/null
fusermount3 -uz "$M" 2>/dev/null
ok "registry SIGKILLed after it ordered the move"
wait_until 20 grep -q "job $ID .*result ok=1" "$T/agent-h1.log" || fail "the move did not finish without the registry"
ok "the move finished between the hosts while the registry was down"
start_fs --state "$T/state"
wait_until 20 alive_on "$ID" h2 || fail "job $ID after the restart: $(field "$ID" status) on $(field "$ID" host)"
grep -q "h1 h2 .*ok recovered=1" "$M/procs/$ID/history" || fail "history: $(cat "$M/procs/$ID/history")"
ok "after the restart job $ID runs on h2, history: $(tail -1 "$M/procs/$ID/history")"

# ---- 2. the destination agent dies as its successor restores ----
wait_until 15 sh -c "grep -qx 'free\|busy\|overloaded' '$M/hosts/h1/state'" || fail "h1 did not come back"
echo h1 > "$M/procs/$ID/migrate" 2>/dev/null &
wait_until 20 grep -q "job $ID mig [0-9]*: pid [0-9]* told to move to h1" "$T/agent-h2.log" ||
    fail "the source on h2 was not told to move"
kill -9 "$AGENT_h1"
ok "h1's agent SIGKILLed once the source on h2 knew where its successor listens"
wait_until 20 sh -c "[ \"\$(cat '$M/procs/$ID/status')\" = migrated ] || [ \"\$(cat '$M/procs/$ID/status')\" = lost ]" ||
    fail "status after the kill: $(field "$ID" status)"
ok "job $ID is $(field "$ID" status) on $(field "$ID" host) while h1 has no agent"
mv "$T/agent-h1.log" "$T/agent-h1.first.log"
start_agent h1
wait_until 30 alive_on "$ID" h1 || fail "job $ID did not come back on h1: $(field "$ID" status) on $(field "$ID" host)"
ok "a new agent on h1: job $ID runs on h1 again, pid $(field "$ID" pid)"
wait_until 60 sh -c "[ \"\$(cat '$M/procs/$ID/status')\" = done ]" || fail "job $ID did not finish: $(field "$ID" status)"
wait_until 5 test -s "$T/job.sum" || fail "no sum"
[ "$(cat "$T/job.sum")" = "$REF" ] || fail "sum $(cat "$T/job.sum"), want $REF"
ok "job $ID done with the reference sum after both faults"
echo PASS
