#!/bin/sh
# 80-sched-auto.sh — automatic mode: three namespaced hosts (half a core
# each), the demo's rule (overloaded when more than 1 task is runnable),
# sched/stability 2.  test_tree runs on h1; two busy loops in h1's cgroup
# make it overloaded; from the moment hosts/h1/state reads `overloaded` the
# job must be running on a free host within stability + 2 intervals (4 s);
# the why, history and decisions name the move; the job finishes with the
# unmigrated run's sum.  Real reschedfs (--key), real agents, bin/test_tree.
TNAME=sched-auto
cd "$(dirname "$0")/../.." || exit 1
. test/lib/sched-common.sh
sc_init
sc_start_fs
for h in h1 h2 h3; do sc_add_host $h 50; done
sc_rule_procs_running 0 1
sc_set stability 2
sc_set cooldown 20
sc_wait 10 state_is h1 free || fail "h1 not free with the new rule: $(state h1)"
ok "registry, three hosts (half a core each), rule @procs_running > 1 overloaded"

ARGS="--levels 12 --trees 6 --iterations 150 --seed 42 --sleep-ms 150"
sc_reference job $ARGS
sc_start_job h1 job $ARGS
ID=$SC_JOB
sc_set mode auto
sleep 3
host_is "$ID" h1 || fail "job $ID moved off an idle h1 ($(field "$ID" host))"
[ "$(moves "$ID")" = 0 ] || fail "history before any load: $(field "$ID" history)"
ok "auto mode, job $ID stays on idle h1 for 3 s"

sc_load h1 2
sc_wait 20 state_is h1 overloaded || fail "h1 never overloaded: $(state h1), procs_running $(cat "$M/hosts/h1/metrics/procs_running")"
T0=$(now)
sc_wait 8 sh -c "[ \"\$(cat '$M/procs/$ID/host')\" != h1 ]" ||
    fail "job $ID still on h1 $(elapsed "$T0") s after h1 turned overloaded"
DT=$(elapsed "$T0")
DEST=$(field "$ID" host)
awk "BEGIN { exit !($DT <= 4.0) }" || fail "the move took $DT s after overloaded, more than stability 2 + 2 intervals"
case $DEST in h2|h3) ;; *) fail "moved to '$DEST'" ;; esac
sc_wait 5 host_is "$ID" "$DEST" || fail "status $(field "$ID" status) on $DEST"
ok "job $ID moved h1 -> $DEST $DT s after h1 turned overloaded (bound 4 s)"

[ "$(moves "$ID")" = 1 ] || fail "history: $(field "$ID" history)"
field "$ID" history | grep -q "h1 $DEST .*ok" || fail "history line: $(field "$ID" history)"
W=$(field "$ID" why)
echo "$W" | head -1 | grep -q "job $ID on h1 (mode auto): move to $DEST" || fail "why head: $(echo "$W" | head -1)"
echo "$W" | grep -q "held [0-9.]*s (stability 2s)" || fail "why has no stability: $W"
echo "$W" | grep -q "rules/runnable overloaded" || fail "why has no rule verdict: $W"
echo "$W" | grep -q "^  $DEST taken: " || fail "why has no taken candidate: $W"
grep -q "host=h1 job=$ID action=move dest=$DEST " "$M/sched/decisions" || fail "no decision line: $(tail -3 "$M/sched/decisions")"
ok "history, why and sched/decisions record the move: $(echo "$W" | head -1)"

sc_unload "$SC_LOAD"
sleep 3
host_is "$ID" "$DEST" || fail "job moved again after the load stopped: $(field "$ID" history)"
sc_check_sum job 120
ok "job $ID finished on $DEST with the unmigrated sum: $(cat "$T/job.sum")"
exit 0
