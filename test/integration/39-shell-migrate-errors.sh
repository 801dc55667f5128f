#!/bin/sh
# 39-shell-migrate-errors.sh — what bash's builtin echo shows: moving a job
# to the host it runs on is no error ("nothing to do", said in migrate),
# and a host name outside the protocol's alphabet is refused with the
# alphabet in the reason.
TNAME=shell-migrate
. "$(dirname "$0")/../lib/trusttest.sh"
command -v bash >/dev/null || { echo "needs bash"; exit 77; }

start_fs
# a host h1 with a job of uid 1000, kept connected by a fake agent
{ printf 'hello name=h1 interval=1 arch=x86_64 addr=127.0.0.1\n@wait welcome\n'
  printf 'job_register local=1 pid=777 uid=1000 prog=/bin/sleep cwd=/ argc=2 arg0=sleep arg1=60 start=1\n@wait job_id\n'
  i=0; while [ $i -lt 20 ]; do printf 'update state=free\n@sleep 1\n'; i=$((i + 1)); done
} | "$FA" --registry "$REG" > "$T/h1.out" 2>&1 &
TT_PIDS="$TT_PIDS $!"
wait_until 5 test -d "$M/procs/1" || fail "job 1 did not register"

bash -c "echo h1 > '$M/procs/1/migrate'" 2>"$T/err" || fail "echo h1 > migrate failed: $(cat "$T/err")"
grep -q "none: job 1 already runs on h1: nothing to do" "$M/procs/1/migrate" ||
    fail "migrate says: $(cat "$M/procs/1/migrate")"
[ "$(cat "$M/procs/1/host")" = h1 ] && [ "$(cat "$M/procs/1/status")" = running ] || fail "job 1 changed"
ok "echo h1 > migrate for a job on h1: exit 0, migrate says '$(cat "$M/procs/1/migrate")'"

# a UTF-8 host name
out=$(printf 'hello name=h\303\251 interval=1\n@wait welcome\n' | "$FA" --registry "$REG" --wait 3 2>&1)
echo "$out" | grep -q "^bye reason=refused detail=.*A-Z%20a-z%200-9%20.%20_%20-" ||
    fail "a UTF-8 host name was not refused with the alphabet: $out"
[ "$(ls "$M/hosts")" = h1 ] || fail "hosts: $(ls "$M/hosts")"
wait_until 3 events_has 'agent-refused.*a host name is 1-63 characters of A-Z a-z 0-9' ||
    fail "no agent-refused event naming the alphabet"
ok "host name 'hé' refused: $(events | grep agent-refused | tail -1 | sed 's/^[^ ]* //')"
echo PASS
