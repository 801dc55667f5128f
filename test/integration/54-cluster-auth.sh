#!/bin/sh
# 54-cluster-auth.sh — wrong key, no key, replayed and oversized frames, random bytes: each rejected and logged; other agents keep being served.
TNAME=cluster-auth
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

LG=$ROOT/build/tools/loadgen
[ -x "$LG" ] || { echo "build/tools/loadgen not built"; exit 77; }
start_fs
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
for h in h1 h2; do wait_until 10 host_up $h || fail "$h did not come up"; done
ok "two good agents up"
cluster_add_host bad
head -c 32 /dev/urandom > "$T/wrong.key"; chmod 600 "$T/wrong.key"
# fresh(): the good hosts' seen stays below their lease (3 intervals)
fresh() {
    for h in h1 h2; do
        s=$(cat "$M/hosts/$h/seen")
        awk -v s="$s" 'BEGIN { exit !(s < 3) }' || fail "$h seen=$s (not below the 3 s lease) after $1"
    done
}
expect_log() { wait_until 5 grep -q "$1" "$T/fs.log" || fail "no log line for $2 ('$1')"; ok "$2 rejected: $(grep "$1" "$T/fs.log" | tail -1)"; fresh "$2"; }

start_agent bad --key "$T/wrong.key"
expect_log "bad proof\|bad MAC on frame 0" "wrong key"
kill "$AGENT_bad"
start_agent bad --interval 1     # options without --key: no key
expect_log "offers auth=none" "no key"
kill "$AGENT_bad"
cluster_exec bad "$LG" --attack replay --registry "$REG" --key "$KEY" || fail "replay not rejected"
expect_log "replayed or reordered" "replayed frame"
cluster_exec bad "$LG" --attack oversize --registry "$REG" --key "$KEY" || fail "oversize not rejected"
expect_log "frame length\|too large\|over" "oversized frame"
cluster_exec bad "$LG" --attack garbage --registry "$REG" || fail "garbage not rejected"
expect_log "greeting" "random bytes"
cluster_exec bad sh -c "head -c 300 /dev/urandom > /dev/tcp/${REG%:*}/${REG#*:}" 2>/dev/null || \
    cluster_exec bad bash -c "head -c 300 /dev/urandom > /dev/tcp/${REG%:*}/${REG#*:}"
sleep 1.5
fresh "random bytes over /dev/tcp"
[ ! -e "$M/hosts/bad" ] || fail "a rejected peer appeared as a host"
ok "registry kept serving h1 and h2 throughout"
echo "PASS"
