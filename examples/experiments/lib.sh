# lib.sh — helpers shared by the experiment scripts (sourced, POSIX sh).
#
# Needs root.  Sources test/lib/cluster.sh, whose EXIT trap removes the
# hosts (namespaces, cgroups, processes started through cluster_bg).  The
# registry started here is stopped and unmounted by exp_cleanup, which is
# installed as the cluster's extra cleanup.
#
#   exp_init NAME            temp dir $T, mount point $M, cluster bridge
#   exp_registry             start reschedfs on $M (PID in $FS_PID)
#   exp_host NAME QUOTA      namespace host with QUOTA % of a core + agent
#   exp_sampler OUT HOSTS..  background: every 0.5 s "t usage_ns..." of
#                            each host's cpuacct.usage (PID in $SAMPLER_PID)
#   exp_now                  wall time, seconds with nanoseconds
#   exp_iso2epoch ISO        "2026-01-05T10:00:01.250Z" -> epoch seconds
#   exp_wait_until SECS CMD  poll CMD every 0.2 s; 1 when it never held

EXP_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$EXP_ROOT" || exit 1
. test/lib/cluster.sh

FS_PID="" SAMPLER_PID="" EVENTS_PID="" M="" T=""

exp_die() { echo "$EXP_NAME: $*" >&2; exit 1; }

exp_cleanup() {
    for _p in $SAMPLER_PID $EVENTS_PID; do kill "$_p" 2>/dev/null; done
    if [ -n "$FS_PID" ]; then kill "$FS_PID" 2>/dev/null; sleep 0.5; fi
    [ -n "$M" ] && mountpoint -q "$M" 2>/dev/null && fusermount3 -uz "$M"
    [ "${EXP_KEEP:-0}" = 1 ] || { [ -n "$T" ] && rm -rf "$T"; }
}

exp_now() { date +%s.%N; }

exp_iso2epoch() { date -u -d "$1" +%s.%N; }

exp_wait_until() {
    _n=$(( $1 * 5 )); shift
    while ! sh -c "$*" >/dev/null 2>&1; do
        _n=$((_n - 1)); [ $_n -le 0 ] && return 1; sleep 0.2
    done
}

exp_init() {
    EXP_NAME=$1
    [ "$(id -u)" = 0 ] || exp_die "run as root (network namespaces, cgroups, FUSE)"
    for _b in reschedfs resched-agent test_tree; do
        [ -x "bin/$_b" ] || exp_die "bin/$_b missing: run make first"
    done
    T=$(mktemp -d "/tmp/resched-exp-$EXP_NAME-$$-XXXXXX")
    M=$T/mnt
    CL_EXTRA_CLEANUP=exp_cleanup
    cluster_init
    mkdir -p "$M" "$T/state"
    bin/resched-key new > "$T/key"
    EXP_PORT=$((18000 + $$ % 1000))
}

exp_registry() {
    bin/reschedfs "$M" -f --listen "$CL_REG_ADDR:$EXP_PORT" --key "$T/key" \
        --state "$T/state" > "$T/reschedfs.log" 2>&1 &
    FS_PID=$!
    exp_wait_until 10 "test -f $M/README" || {
        cat "$T/reschedfs.log" >&2; exp_die "reschedfs did not start"; }
    echo 1 > "$M/sched/allow_root"   # the experiments' jobs run as root
    cat "$M/events" > "$T/events.log" &
    EVENTS_PID=$!
}

# exp_host NAME QUOTA [INTERVAL]
# The agent runs inside the host: its network namespace and its cgroups,
# so the successors it starts (migrated jobs) land in the host's CPU share
# as they would on a real machine.  The agent leaves its own threads out
# of the cgroup's running-task count and load (docs/METRICS.md), so an
# idle host reads load1 ~0 and "accept_when: load1 < 1" can pick it.
exp_host() {
    cluster_add_host "$1" "$2"
    mkdir -p "$T/$1"
    cluster_bg "$1" "$T/$1/agent.log" "$EXP_ROOT/bin/resched-agent" \
        --registry "$CL_REG_ADDR:$EXP_PORT" --key "$(cluster_host_key "$T/key" "$1")" --name "$1" \
        --cgroup "$(cluster_cg "$1")" --interval "${3:-1}" --run "$T/$1/run"
    eval "AGENT_PID_$1=\$CL_LAST_PID"
}

# exp_child PID: the process cluster_bg started (the child of its
# background subshell), or PID itself when it has no child within 2 s.
exp_child() {
    _n=20
    while [ $_n -gt 0 ]; do
        _c=$(pgrep -P "$1" | head -1)
        [ -n "$_c" ] && { echo "$_c"; return; }
        _n=$((_n - 1)); sleep 0.1
    done
    echo "$1"
}

exp_wait_hosts() {
    for _h in "$@"; do
        exp_wait_until 20 "test -d $M/hosts/$_h" || {
            cat "$T"/*/agent.log >&2; exp_die "host $_h did not join"; }
    done
}

exp_metric() { # HOST NAME: print the host's last reported metric
    cat "$M/hosts/$1/metrics/$2" 2>/dev/null
}

exp_sampler() {
    _out=$1; shift
    _files=""
    for _h in "$@"; do
        _files="$_files $CL_CG_CPUACCT/$(cluster_cg "$_h")/cpuacct.usage"
    done
    ( echo "# t $*"
      while :; do
          printf '%s' "$(date +%s.%N)"
          for _f in $_files; do printf ' %s' "$(cat "$_f" 2>/dev/null || echo 0)"; done
          echo
          sleep 0.5
      done ) > "$_out" &
    SAMPLER_PID=$!
}

exp_busy() { # HOST N: start N busy loops on HOST, PIDs appended to $BUSY_PIDS
    _i=0
    while [ $_i -lt "$2" ]; do
        cluster_bg "$1" /dev/null sh -c 'while :; do :; done'
        BUSY_PIDS="${BUSY_PIDS:-} $CL_LAST_PID $(exp_child "$CL_LAST_PID")"
        _i=$((_i + 1))
    done
}
