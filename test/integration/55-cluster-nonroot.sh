#!/bin/sh
# 55-cluster-nonroot.sh — a non-root user reads the tree and gets EACCES writing rules, policy or host state.
TNAME=cluster-nonroot
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

command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
start_fs -o allow_other
cluster_add_host h1; start_agent h1
wait_until 10 host_up h1 || fail "h1 did not come up"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NOBODY cat "$M/hosts/h1/state" >/dev/null || fail "nobody cannot read state"
$NOBODY cat "$M/hosts/h1/info" | grep -q "^arch " || fail "nobody cannot read info"
$NOBODY ls "$M/rules" >/dev/null || fail "nobody cannot list rules"
ok "a non-root user reads the tree"
r=$(ls "$M/rules" | head -1)
before=$(cat "$M/rules/$r")
out=$($NOBODY sh -c "echo junk > '$M/rules/$r'" 2>&1) && fail "nobody wrote a rule"
echo "$out" | grep -q "Permission denied" || fail "rule write error: $out"
[ "$(cat "$M/rules/$r")" = "$before" ] || fail "rule changed"
out=$($NOBODY sh -c "echo 'migrate_when: 1' > '$M/policy'" 2>&1) && fail "nobody wrote the policy"
echo "$out" | grep -q "Permission denied" || fail "policy write error: $out"
out=$($NOBODY sh -c "echo x > '$M/rules/new.rule'" 2>&1) && fail "nobody created a rule"
echo "$out" | grep -q "Permission denied" || fail "rule create error: $out"
out=$($NOBODY sh -c "echo drain > '$M/hosts/h1/state'" 2>&1) && fail "nobody drained h1"
ok "EACCES for rules, new rule, policy and host state"
echo "note: procs/<id>/migrate is not covered here: the agent's commander (jobs) is not built yet"
echo "PASS"
