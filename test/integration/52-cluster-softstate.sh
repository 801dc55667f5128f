#!/bin/sh
# 52-cluster-softstate.sh — an agent killed with SIGKILL turns unavailable within 3 intervals + 1 s, comes back without a duplicate; inotify sees it.
TNAME=cluster-softstate
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

start_fs
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
for h in h1 h2 h3; do wait_until 10 host_up $h || fail "$h did not come up"; done
ok "three hosts up"
inotifywait -m -e modify,close_write "$M/hosts/h2/state" >"$T/inotify.log" 2>&1 &
cluster_track $!
wait_until 5 grep -q "Watches established" "$T/inotify.log" || fail "inotifywait did not start"
eval "pid=\$AGENT_h2"
t0=$(now_ms)
kill -9 "$pid" || fail "cannot kill agent h2 ($pid)"
wait_until 8 grep -qx unavailable "$M/hosts/h2/state" || fail "h2 never became unavailable"
dt=$(( $(now_ms) - t0 ))
echo "failure detection: SIGKILL -> unavailable in ${dt} ms (interval 1 s, limit 4000 ms)"
[ $dt -le 4000 ] || fail "detection took $dt ms"
awk -v l="$(cat "$M/hosts/h2/lease")" 'BEGIN { exit !(l == 0) }' || fail "lease of an unavailable host: $(cat "$M/hosts/h2/lease")"
for h in h1 h3; do host_up $h || fail "$h went down with h2"; done
ok "killed agent unavailable within 3 intervals + 1 s; others unaffected"
start_agent h2
wait_until 10 host_up h2 || fail "h2 did not come back"
[ "$(ls "$M/hosts" | grep -c '^h2$')" -eq 1 ] || fail "duplicate h2: $(ls "$M/hosts")"
[ "$(ls "$M/hosts" | wc -l)" -eq 3 ] || fail "hosts/: $(ls "$M/hosts")"
ok "restarted agent is back, no duplicate directory"
wait_until 5 sh -c "[ \$(grep -c MODIFY '$T/inotify.log') -ge 2 ]" || fail "inotify saw: $(cat "$T/inotify.log")"
ok "inotifywait on h2/state saw the changes: $(grep -c MODIFY "$T/inotify.log") MODIFY"
echo "PASS"
