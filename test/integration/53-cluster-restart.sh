#!/bin/sh
# 53-cluster-restart.sh — registry killed and restarted with --state: rules, policy, sched intact, agents back on their own.
TNAME=cluster-restart
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
. test/lib/cluster.sh
cluster_need_root
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
[ -x bin/reschedfs ] && [ -x bin/resched-agent ] || { echo "bin/ not built"; exit 77; }
command -v inotifywait >/dev/null || { echo "needs inotify-tools"; exit 77; }
command -v nsenter >/dev/null || { echo "needs nsenter"; exit 77; }

T=$(mktemp -d "/tmp/resched-$TNAME-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
KEY=$T/key
head -c 32 /dev/urandom > "$KEY"; chmod 600 "$KEY"
FSPID=""
CL_EXTRA_CLEANUP='fusermount3 -uz "$M" 2>/dev/null; rm -rf "$T"'
cluster_init
PORT=$((20000 + $$ % 20000))
REG=$CL_REG_ADDR:$PORT

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
    exit 1
}
ok() { echo "ok - $*"; }
# wait_until SECS CMD...: poll CMD every 0.1 s; 0 once it succeeds.
wait_until() {
    _n=$(($1 * 10)); shift
    while [ $_n -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1; _n=$((_n - 1))
    done
    return 1
}
start_fs() {
    "$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" "$@" >>"$T/fs.log" 2>&1 &
    FSPID=$!
    cluster_track $FSPID
    wait_until 5 test -f "$M/README" || fail "reschedfs did not mount"
}
# start_agent HOST [options]: the agent inside HOST's namespace, with the
# key unless options are given (they then replace --key).
start_agent() {
    _h=$1; shift
    [ $# -eq 0 ] && set -- --key "$KEY"
    cluster_bg "$_h" "$T/agent-$_h.log" "$ROOT/bin/resched-agent" --registry "$REG" \
        --name "$_h" --interval 1 --cgroup "$(cluster_cg "$_h")" \
        --run "$T/run-$_h" "$@"
    wait_until 5 agent_pid "$_h" || fail "agent $_h did not start"
    eval "AGENT_$_h=$(agent_pid "$_h")"
}
# agent_pid HOST: the PID of the agent running in HOST's namespace
agent_pid() {
    for _p in $(ip netns pids "$(cluster_ns "$1")" 2>/dev/null); do
        [ "$(cat /proc/$_p/comm 2>/dev/null)" = resched-agent ] && { echo "$_p"; return 0; }
    done
    return 1
}
host_up() { s=$(cat "$M/hosts/$1/state" 2>/dev/null) && [ -n "$s" ] && [ "$s" != unavailable ]; }
now_ms() { date +%s%3N; }

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
