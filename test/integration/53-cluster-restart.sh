#!/bin/sh
# 53-cluster-restart.sh — registry killed and restarted with --state: rules, policy, sched intact, agents back on their own.
TNAME=cluster-restart
. "$(dirname "$0")/../lib/regtest.sh"

S=$T/state
start_fs --state "$S"
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
for h in h1 h2 h3; do wait_until 10 host_up $h || fail "$h did not come up"; done
printf 'rl_number: 92\nrl_name: keepme\nrl_type: simple\nrl_script: @procs\nrl_operator: >\nrl_busy: 100000\nrl_overLd: 200000\n' \
    > "$M/rules/keepme.rule" || fail "rule write"
printf 'migrate_when: load1 > 2\naccept_when: load1 < 1\nselect: oldest\nplace: first_fit\n' > "$M/policy" || fail "policy write"
echo manual > "$M/sched/mode" || fail "sched/mode write"
echo 42 > "$M/sched/cooldown" || fail "sched/cooldown write"
rules_before=$(cat "$M/rules/keepme.rule"); policy_before=$(cat "$M/policy")
ok "rules, policy, sched set"
kill -9 "$FSPID"; wait "$FSPID" 2>/dev/null
fusermount3 -uz "$M" 2>/dev/null
ok "registry killed with SIGKILL"
start_fs --state "$S"
[ "$(cat "$M/rules/keepme.rule")" = "$rules_before" ] || fail "rule lost"
[ "$(cat "$M/policy")" = "$policy_before" ] || fail "policy lost: $(cat "$M/policy")"
[ "$(cat "$M/sched/mode")" = manual ] || fail "sched/mode: $(cat "$M/sched/mode")"
[ "$(cat "$M/sched/cooldown")" = 42 ] || fail "sched/cooldown: $(cat "$M/sched/cooldown")"
ok "rules, policy, sched settings intact after restart"
t0=$(now_ms)
for h in h1 h2 h3; do wait_until 15 host_up $h || fail "$h did not come back"; done
for h in h1 h2 h3; do
    wait_until 5 test -s "$M/hosts/$h/rules/keepme" || fail "$h has no verdict for keepme"
done
echo "all agents back after $(( $(now_ms) - t0 )) ms"
ok "all agents reconnected and re-announced without intervention"
echo "PASS"
