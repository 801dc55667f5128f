#!/bin/sh
# 59-trust-node.sh — node restriction: a connection that proved host H's
# key speaks only for H.  Fake agents with real host keys try what the
# attack run did: another host's hello, another host's job status, a
# claimed job id, lies about a move in flight, a root job, a second
# connection for a live host, an interval of 1e300.  Each is refused (an
# agent-refused event, `bye reason=refused`), the record stays true.
TNAME=trust-node
. "$(dirname "$0")/../lib/trusttest.sh"

start_fs --key "$KEY" --state "$T/state"
echo manual > "$M/sched/mode"
echo 30 > "$M/sched/migrate_timeout"
# keep_host H STATE SECS: a fake agent for H that stays SECS seconds
keep_host() {
    { printf 'hello name=%s interval=1 arch=x86_64 addr=127.0.0.1\n@wait welcome\n' "$1"
      [ -n "${4:-}" ] && printf '%s\n@wait job_id\n' "$4"
      i=0; while [ $i -lt "$3" ]; do printf 'update state=%s\n@sleep 1\n' "$2"; i=$((i + 1)); done
    } | "$FA" --registry "$REG" --key "$(hkey "$1")" --wait 10 > "$T/$1.out" 2>&1 &
    TT_PIDS="$TT_PIDS $!"
    eval "FA_$1=$!"
}
# attack H SCRIPT: one connection with H's key running SCRIPT; output kept
attack() {
    printf '%s\n' "$2" | "$FA" --registry "$REG" --key "$(hkey "$1")" --wait 3 > "$T/attack.out" 2>&1
}
refused() {   # refused WHAT EVENT-TEXT
    grep -q "^bye reason=refused" "$T/attack.out" || fail "$1 was not refused: $(cat "$T/attack.out")"
    grep -q "^closed:" "$T/attack.out" || fail "$1: connection not closed"
    wait_until 3 events_has "agent-refused.*$2" || fail "$1: no agent-refused event with '$2'"
    ok "$1 refused: $(events | grep "agent-refused" | grep -- "$2" | tail -1 | sed 's/^[^ ]* //')"
}
HELLO='hello interval=1 arch=x86_64 addr=127.0.0.1'

keep_host h1 overloaded 40 'job_register local=1 pid=4242 uid=0 prog=/bin/sh cwd=/ argc=3 arg0=sh arg1=-c arg2=id start=1'
keep_host h2 free 40
wait_until 5 test -d "$M/procs/1" || fail "h1's job did not register"
wait_until 5 test -d "$M/hosts/h2" || fail "h2 did not join"
[ "$(stat -c %u "$M/procs/1")" = 0 ] || fail "job 1 uid $(stat -c %u "$M/procs/1")"

# 1. a root job does not move, and says why
out=$(/bin/echo h2 2>&1 > "$M/procs/1/migrate") && fail "a root job moved: $out"
echo "$out" | grep -q "not permitted" || fail "root job move: $out (want EPERM)"
grep -q "runs as root and sched/allow_root is 0" "$M/procs/1/migrate" 2>/dev/null ||
    events_has "write-rejected path=procs/1/migrate.*runs as root" ||
    fail "no reason for the refused root move"
ok "root's job 1 does not move: $out"

# 2. another host's name with h1's key
attack h1 "hello name=h3 interval=1"
refused "hello for h3 with h1's key" "proved host h1's key"
[ ! -e "$M/hosts/h3" ] || fail "hosts/h3 was created"

# 3. h3 (a real host with its own key) speaks of h1's job
attack h3 "$HELLO name=h3
@wait welcome
job_status job=1 status=done code=0"
refused "h3 ending h1's job 1" "job_status for job 1"
[ "$(cat "$M/procs/1/status")" = running ] || fail "job 1 is $(cat "$M/procs/1/status")"

# 4. a claimed job id is not honoured: a new id, an event, no close
attack h3 "$HELLO name=h3
@wait welcome
job_register local=7 pid=99 uid=1000 prog=/bin/true argc=0 job=1
@wait job_id"
grep -q "^job_id local=7 job=1$" "$T/attack.out" && fail "h3 got job 1"
grep -q "^job_id local=7 job=" "$T/attack.out" || fail "no job_id for h3's registration: $(cat "$T/attack.out")"
grep -q "^bye" "$T/attack.out" && fail "a refused claim closed the connection"
wait_until 3 events_has "job-id-refused host=h3 job=1" || fail "no job-id-refused event"
[ "$(cat "$M/procs/1/host")" = h1 ] || fail "job 1 moved to $(cat "$M/procs/1/host")"
ok "h3's claim of job 1 refused: it got $(sed -n 's/^job_id local=7 job=//p' "$T/attack.out")"

# 5. the owner h1 cannot change its job's uid by registering it again
attack h1 "$HELLO name=h1
@wait welcome
job_register local=1 pid=4242 uid=1000 prog=/bin/sh argc=0 job=1
@wait job_id"
[ "$(stat -c %u "$M/procs/1")" = 0 ] || fail "job 1's uid changed to $(stat -c %u "$M/procs/1")"
wait_until 3 events_has "job-uid-kept job=1 host=h1 uid=0 said=1000" || fail "no job-uid-kept event"
ok "job 1 keeps uid 0 though h1 said 1000"
# that second h1 connection replaced the first: told so
wait_until 5 grep -q "^bye reason=replaced" "$T/h1.out" || fail "the first h1 connection was not told it was replaced"
wait_until 3 events_has "agent-replaced host=h1" || fail "no agent-replaced event"
ok "a second connection for h1 replaced the first ($(grep '^bye' "$T/h1.out"))"
keep_host h1 overloaded 40 'job_register local=2 pid=4343 uid=1000 prog=/bin/sleep cwd=/ argc=2 arg0=sleep arg1=100 start=1'
wait_until 5 grep -q "^job_id local=2 job=" "$T/h1.out" || fail "h1's second job did not register"
J=$(sed -n 's/^job_id local=2 job=//p' "$T/h1.out")

# 6. a move in flight: lies about it from a host that is not its source
( echo h2 > "$M/procs/$J/migrate" ) 2>"$T/migrate.err" &
MIGPID=$!
TT_PIDS="$TT_PIDS $MIGPID"
wait_until 5 grep -q "^prepare " "$T/h2.out" || fail "h2 got no prepare"
MIG=$(sed -n 's/^prepare .*mig=\([0-9]*\).*/\1/p' "$T/h2.out" | tail -1)
TOKEN=$(sed -n 's/^prepare .*token=\([0-9a-f]*\).*/\1/p' "$T/h2.out" | tail -1)
[ -n "$MIG" ] && [ ${#TOKEN} -eq 64 ] || fail "prepare without mig/token: $(grep prepare "$T/h2.out")"
attack h3 "$HELLO name=h3
@wait welcome
mig_result job=$J mig=$MIG ok=1 token=$TOKEN"
refused "h3's mig_result ok=1 for h1's move (with the real token)" "mig_result for job $J"
[ "$(cat "$M/procs/$J/status")" = migrating ] || fail "job $J is $(cat "$M/procs/$J/status") after the lie"
attack h2 "$HELLO name=h2
@wait welcome
mig_result job=$J mig=$MIG ok=1 token=$TOKEN"
refused "the destination h2 reporting success" "mig_result for job $J"
[ "$(cat "$M/procs/$J/host")" = h1 ] || fail "job $J is on $(cat "$M/procs/$J/host")"
attack h1 "$HELLO name=h1
@wait welcome
mig_progress job=$J mig=$MIG phase=send t=1 token=0000000000000000000000000000000000000000000000000000000000000000"
refused "h1's progress with a wrong token" "mig_progress for job $J"
# the real source ends it honestly: the move fails, the job stays
attack h1 "$HELLO name=h1
@wait welcome
mig_result job=$J mig=$MIG ok=0 reason=test token=$TOKEN"
grep -q "^bye" "$T/attack.out" && fail "the source's own result was refused: $(cat "$T/attack.out")"
wait "$MIGPID" && fail "the move was reported as done"
[ "$(cat "$M/procs/$J/host")" = h1 ] || fail "job $J on $(cat "$M/procs/$J/host")"
grep -q "failed from=h1 to=h2" "$M/procs/$J/migrate" || fail "migrate: $(cat "$M/procs/$J/migrate")"
ok "only the source's result with the token counts: $(cat "$M/procs/$J/migrate")"

# 7. an interval that never expires
attack h3 "hello name=h3 interval=1e300"
refused "interval=1e300" "interval 1e300"
echo PASS
