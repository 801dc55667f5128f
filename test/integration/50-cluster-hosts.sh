#!/bin/sh
# 50-cluster-hosts.sh — three namespaced hosts with agents appear in hosts/ with plausible values; shell tools behave.
TNAME=cluster-hosts
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
inotifywait -m -e create "$M/hosts" >"$T/inotify.log" 2>&1 &
cluster_track $!
wait_until 5 grep -q "Watches established" "$T/inotify.log" || fail "inotifywait did not start"
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 3 ]" || fail "hosts/ has $(ls "$M/hosts" | wc -l) entries, not 3"
ok "three hosts in hosts/: $(ls "$M/hosts" | tr '\n' ' ')"
for h in h1 h2 h3; do
    wait_until 5 grep -q "CREATE,ISDIR $h\$" "$T/inotify.log" || fail "no CREATE for $h: $(cat "$T/inotify.log")"
done
ok "inotifywait -m saw CREATE for each host"
for h in h1 h2 h3; do
    wait_until 5 test -s "$M/hosts/$h/metrics/load1" || fail "$h: no metrics"
    wait_until 5 sh -c "ls '$M/hosts/$h/rules' | grep -q ." || fail "$h: no rule verdicts"
    I=$M/hosts/$h/info
    grep -qx "arch $(uname -m)" "$I" || fail "$h info arch: $(cat "$I")"
    grep -qx "os Linux" "$I" || fail "$h info os"
    grep -qx "addr $(cluster_addr $h)" "$I" || fail "$h info addr is not $(cluster_addr $h): $(cat "$I")"
    grep -Eqx "cpus [0-9.]+" "$I" || fail "$h info cpus"
    grep -Eqx "mem_total [0-9]+" "$I" || fail "$h info mem_total"
    grep -Eqx "byte_order (little|big)" "$I" || fail "$h info byte_order"
    grep -q "^agent_version " "$I" || fail "$h info agent_version"
    grep -Eqx "free|busy|overloaded" "$M/hosts/$h/state" || fail "$h state: $(cat "$M/hosts/$h/state")"
    grep -Eqx "[0-9]+(\.[0-9]+)?" "$M/hosts/$h/metrics/load1" || fail "$h load1: $(cat "$M/hosts/$h/metrics/load1")"
    cpu=$(cat "$M/hosts/$h/metrics/cpu_util")
    awk -v v="$cpu" 'BEGIN { exit !(v >= 0 && v <= 100) }' || fail "$h cpu_util $cpu"
    for r in "$M/hosts/$h/rules/"*; do
        grep -Eqx "(free|busy|overloaded|error) [-0-9.e+naif]+" "$r" || fail "$r: $(cat "$r")"
    done
    seen=$(cat "$M/hosts/$h/seen"); lease=$(cat "$M/hosts/$h/lease")
    awk -v s="$seen" -v l="$lease" 'BEGIN { exit !(s >= 0 && s < 2.5 && l > 0 && l <= 3) }' \
        || fail "$h seen=$seen lease=$lease"
done
ok "info, state, metrics, rules, seen, lease plausible"
[ "$(cat "$M"/hosts/*/state | wc -l)" -eq 3 ] || fail "cat hosts/*/state"
n=$(grep -r . "$M/hosts/h2/metrics" | wc -l)
[ "$n" -ge 10 ] || fail "grep -r found $n metric lines"
[ "$(find "$M/hosts" -name state | wc -l)" -eq 3 ] || fail "find -name state"
[ "$(grep -l . "$M"/hosts/*/info | wc -l)" -eq 3 ] || fail "grep -l info"
sz=$(ls -l "$M/hosts/h1/info" | awk '{print $5}')
[ "$sz" -eq "$(cat "$M/hosts/h1/info" | wc -c)" ] || fail "ls -l size $sz is not the content size"
ls -l "$M/hosts/h1" | grep -q " metrics$" || fail "ls -l hosts/h1"
ok "cat, grep -r, find and ls -l behave"
echo "PASS"
