#!/bin/sh
# 84-sched-pingpong.sh — no ping-pong between two hosts whose load swings
# around the thresholds (two busy loops alternate between h1 and h2 every
# 5 s; the rule says overloaded above 1 runnable task), auto mode,
# stability 0:
#   A. control, cooldown 0: the job bounces (at least 2 moves in 20 s) —
#      shows the swinging load really drives moves;
#   B. cooldown 20: a fresh job moves at most once (here: exactly once) in
#      an 18 s window of the same swinging load, and while its new host is
#      overloaded its why says `in cooldown`;
#   C. a move that fails (the schema's binary is /bin/false, so the
#      successor exits before ready) is not retried to the same destination
#      within the cooldown: one migration-requested in 10 s, and the why
#      refuses h2 with `a move of this job to it failed ... ago`.
# Each part's job is stopped (by its pid) before the next part.
TNAME=sched-pingpong
cd "$(dirname "$0")/../.." || exit 1
. test/lib/sched-common.sh
sc_init
sc_start_fs
for h in h1 h2; do sc_add_host $h 50; done
sc_rule_procs_running 0 1
sc_set stability 0
sc_wait 10 state_is h1 free || fail "h1 not free: $(state h1)"
sc_wait 10 state_is h2 free || fail "h2 not free: $(state h2)"
ARGS="--levels 10 --trees 3 --iterations 600 --seed 4 --sleep-ms 100"
ok "two hosts, rule @procs_running > 2 overloaded, stability 0"

# swing SECS: two busy loops on h1, then on h2, swapping every 5 s, for SECS
# seconds; the load is gone when it returns.
swing() {
    _end=$(($(date +%s) + $1)); _on=h1
    while [ "$(date +%s)" -lt $_end ]; do
        sc_load $_on 2
        _t=$(($(date +%s) + 5))
        while [ "$(date +%s)" -lt $_t ] && [ "$(date +%s)" -lt $_end ]; do
            sleep 0.5
            [ -n "${WATCH:-}" ] && $WATCH
        done
        sc_unload "$SC_LOAD"
        [ $_on = h1 ] && _on=h2 || _on=h1
    done
}
stop_job() { kill "$(field "$1" pid)" 2>/dev/null; sc_wait 5 sh -c "[ \"\$(cat '$M/procs/$1/status')\" != running ]"; }

# A. cooldown 0: it bounces
sc_set cooldown 0
sc_set mode manual
sc_start_job h1 a $ARGS; JA=$SC_JOB
sc_set mode auto
swing 20
N=$(moves "$JA")
[ "$N" -ge 2 ] || fail "control: with cooldown 0 job $JA moved $N times in 20 s of swinging load"
ok "A. cooldown 0: job $JA moved $N times in 20 s ($(field "$JA" history | awk '{printf "%s>%s ", $2, $3}'))"
sc_set mode manual
stop_job "$JA" || fail "job $JA did not stop"
sleep 1

# B. cooldown 20: at most once
sc_set cooldown 20
sc_start_job h1 b $ARGS; JB=$SC_JOB
sc_set mode auto
SAW_COOLDOWN=0
see_cooldown() {
    field "$JB" why | grep -q "job $JB: in cooldown (moved [0-9.]*s ago, cooldown 20s)" && SAW_COOLDOWN=1
}
WATCH=see_cooldown
swing 18
WATCH=
N=$(moves "$JB")
[ "$N" -eq 1 ] || fail "cooldown 20: job $JB moved $N times in 18 s: $(field "$JB" history)"
[ $SAW_COOLDOWN = 1 ] || fail "the why never said the job was in cooldown: $(field "$JB" why)"
ok "B. cooldown 20: job $JB moved once in 18 s ($(field "$JB" history | awk '{printf "%s>%s", $2, $3}')); why said: in cooldown"
sc_set mode manual
stop_job "$JB" || fail "job $JB did not stop"
sleep 1

# C. a failed move is not retried on that destination within the cooldown
printf '<application name="test_tree">\n  <binary arch="%s">/bin/false</binary>\n</application>\n' "$(uname -m)" > "$T/false.xml"
sc_start_job h1 c $ARGS --mig-schema "$T/false.xml"; JC=$SC_JOB
sc_set mode auto
sc_load h1 2
sleep 12
timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
sc_unload "$SC_LOAD"
NREQ=$(grep -c "migration-requested job=$JC .*to=h2" "$T/events.txt")
grep -q "migration-failed job=$JC " "$T/events.txt" || fail "no failed move of job $JC: $(grep "job=$JC" "$T/events.txt")"
[ "$NREQ" -eq 1 ] || fail "job $JC: $NREQ moves to h2 requested within 12 s (cooldown 20): $(grep "job=$JC" "$T/events.txt")"
host_is "$JC" h1 || fail "job $JC not running on h1 after the failed move"
W=$(field "$JC" why)
echo "$W" | grep -q "^  h2 refused: a move of this job to it failed [0-9.]*s ago (not retried within cooldown 20s)" ||
    fail "why of job $JC: $W"
ok "C. failed move to h2 requested once in 12 s; why: $(echo "$W" | grep 'h2 refused' | sed 's/^ *//')"
exit 0
