#!/bin/sh
# 83-sched-dryrun.sh — dry-run and manual modes on an overloaded host.
#   dry-run: sched/plan shows the move auto mode would make (job, dest and
#     reasons); procs/ID/why says `would move to`; sched/decisions says
#     `action=none ... dry-run, would move`; nothing moves for 6 intervals
#     (host, pid, history unchanged, no migration event).
#   manual: the plan is empty, no decision is written, nothing moves for 5
#     intervals; `echo h3 > procs/ID/migrate` still moves the job, which
#     finishes with the unmigrated sum.
TNAME=sched-dryrun
cd "$(dirname "$0")/../.." || exit 1
. test/lib/sched-common.sh
sc_init
sc_start_fs
for h in h1 h2 h3; do sc_add_host $h 50; done
sc_rule_procs_running 0 1
sc_set stability 0
sc_set cooldown 20
sc_set mode dry-run
sc_wait 10 state_is h1 free || fail "h1 not free: $(state h1)"
ARGS="--levels 11 --trees 4 --iterations 150 --seed 9 --sleep-ms 150"
sc_reference job $ARGS
sc_start_job h1 job $ARGS
ID=$SC_JOB
PID0=$(field "$ID" pid)
ok "three hosts, job $ID on h1 (pid $PID0), mode dry-run"

sc_load h1 2
sc_wait 20 state_is h1 overloaded || fail "h1 never overloaded: $(state h1)"
plan_move() { grep -q "^host=h1 job=$ID action=move dest=h[23] reason=\".*migrate_when held.*first_fit h[23]\"" "$M/sched/plan"; }
sc_wait 5 plan_move || fail "no planned move in sched/plan: $(cat "$M/sched/plan")"
head -1 "$M/sched/plan" | grep -q "^# dry-run plan at " || fail "plan header: $(head -1 "$M/sched/plan")"
P=$(grep "job=$ID" "$M/sched/plan")
DEST=$(echo "$P" | sed 's/.* dest=\(h[0-9]\) .*/\1/')
ok "plan: $P"
sc_wait 5 sh -c "head -1 '$M/procs/$ID/why' | grep -q '(mode dry-run): would move to $DEST'" ||
    fail "why: $(field "$ID" why)"
field "$ID" why | grep -q "rules/runnable overloaded" || fail "why without the rule: $(field "$ID" why)"
field "$ID" why | grep -q "^  $DEST taken: " || fail "why without the destination: $(field "$ID" why)"
grep -q "host=h1 job=$ID action=none dest=$DEST reason=\"dry-run, would move: " "$M/sched/decisions" ||
    fail "decisions: $(tail -3 "$M/sched/decisions")"
ok "why: $(field "$ID" why | head -1)"

i=0
while [ $i -lt 6 ]; do
    sleep 1; i=$((i + 1))
    host_is "$ID" h1 || fail "dry-run moved job $ID to $(field "$ID" host) after $i s"
done
state_is h1 overloaded || fail "h1 no longer overloaded: $(state h1)"
[ "$(field "$ID" pid)" = "$PID0" ] || fail "pid changed in dry-run"
[ "$(moves "$ID")" = 0 ] || fail "history in dry-run: $(field "$ID" history)"
timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
grep -q "migration-" "$T/events.txt" && fail "migration events in dry-run: $(grep migration- "$T/events.txt")"
plan_move || fail "plan lost its move: $(cat "$M/sched/plan")"
ok "dry-run: job $ID stayed on h1 (pid $PID0) for 6 s while h1 was overloaded"

sc_set mode manual
sleep 1
N0=$(wc -l < "$M/sched/decisions")
grep -q "job=" "$M/sched/plan" && fail "plan not empty in manual mode: $(cat "$M/sched/plan")"
i=0
while [ $i -lt 5 ]; do
    sleep 1; i=$((i + 1))
    host_is "$ID" h1 || fail "manual mode moved job $ID to $(field "$ID" host) after $i s"
done
state_is h1 overloaded || fail "h1 no longer overloaded: $(state h1)"
[ "$(wc -l < "$M/sched/decisions")" = "$N0" ] || fail "decisions written in manual mode: $(tail -2 "$M/sched/decisions")"
[ "$(moves "$ID")" = 0 ] || fail "history in manual: $(field "$ID" history)"
ok "manual: nothing moved in 5 s, no decision written, plan empty"

echo h3 > "$M/procs/$ID/migrate" || fail "echo h3 > migrate failed: $(field "$ID" migrate)"
sc_wait 5 host_is "$ID" h3 || fail "job $ID not running on h3: $(field "$ID" host)"
field "$ID" history | grep -q "h1 h3 .*ok" || fail "history: $(field "$ID" history)"
ok "manual: echo h3 > procs/$ID/migrate moved the job: $(field "$ID" migrate)"
sc_unload "$SC_LOAD"
sc_check_sum job 90
ok "job $ID finished on h3 with the unmigrated sum: $(cat "$T/job.sum")"
exit 0
