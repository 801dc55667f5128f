# sched-common.sh — shared helpers of the scheduler integration tests
# (test/integration/8?-sched-*.sh).  The recipe is examples/demo.sh's:
# a real reschedfs (--key, private mount and state dir), agents in network
# namespaces with CPU-share cgroups (test/lib/cluster.sh), bin/test_tree.
# Source it from a POSIX sh script started in the tree's root:
#
#   TNAME=sched-auto; . test/lib/sched-common.sh
#   sc_init                      # checks (exit 77), $T $M $KEY $REG, cleanup trap
#   sc_start_fs                  # reschedfs on $M; mode manual, min_age 0
#   sc_add_host h1 [QUOTA]       # namespace + cgroup + agent; waits until the
#                                # host has joined (registration order = call order)
#   sc_rule_procs_running B O    # the demo's rule: @procs_running > B busy, > O overloaded
#   sc_start_job HOST NAME ARGS  # test_tree on HOST; sets SC_JOB (registry id),
#                                # writes $T/NAME.sum when it finishes
#   sc_load HOST N               # N busy loops in HOST's cgroup; sets SC_LOAD (pids)
#   sc_unload "$SC_LOAD"         # stops those loops (by PID)
#   sc_wait SECS CMD...          # poll CMD every 0.1 s; 1 on timeout
#   fail MSG / ok MSG / skip MSG
#
# Every process is started through cluster_bg or recorded with
# cluster_track, so cluster_cleanup (EXIT trap) kills it by PID; the mount
# is lazily unmounted and $T removed by CL_EXTRA_CLEANUP, also on failure.

set -u
SC_ROOT=$(pwd)
. "$SC_ROOT/test/lib/cluster.sh"

skip() { echo "$*"; exit 77; }
ok() { echo "ok - $*"; }

sc_dump() {
    for _f in "$T"/*.log "$T"/run-*/jobs/*.log; do
        [ -f "$_f" ] && { echo "--- $_f"; tail -15 "$_f"; }
    done
    [ -f "$M/README" ] || return 0
    echo "--- states"; grep . "$M"/hosts/*/state 2>/dev/null
    echo "--- decisions"; tail -8 "$M/sched/decisions" 2>/dev/null
    for _d in "$M"/procs/*/; do
        [ -d "$_d" ] || continue
        echo "--- ${_d}why"; cat "${_d}why" 2>/dev/null
        echo "--- ${_d}history"; cat "${_d}history" 2>/dev/null
    done
    echo "--- events"; timeout 1 cat "$M/events" 2>/dev/null | tail -20
}
fail() { echo "FAIL: $*"; sc_dump; exit 1; }

sc_wait() {
    _n=$(($1 * 10)); shift
    while [ $_n -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1; _n=$((_n - 1))
    done
    return 1
}

sc_init() {
    cluster_need_root
    [ -e /dev/fuse ] || skip "needs /dev/fuse"
    command -v fusermount3 >/dev/null || skip "needs fusermount3"
    command -v nsenter >/dev/null || skip "needs nsenter"
    [ -d "$CL_CG_CPU" ] || skip "needs the cgroup v1 cpu controller at $CL_CG_CPU"
    for _b in bin/reschedfs bin/resched-agent bin/test_tree; do
        [ -x "$SC_ROOT/$_b" ] || skip "$_b not built (make)"
    done
    T=$(mktemp -d "/tmp/resched-$TNAME-$$-XXXXXX")
    chmod 755 "$T"
    M=$T/mnt
    mkdir -p "$M" "$T/state"
    KEY=$T/key
    head -c 32 /dev/urandom > "$KEY"; chmod 600 "$KEY"
    CL_EXTRA_CLEANUP='fusermount3 -uz "$M" 2>/dev/null; rm -rf "$T"'
    cluster_init
    REG=$CL_REG_ADDR:$((20000 + $$ % 20000))
    TT=$SC_ROOT/bin/test_tree
}

# reschedfs in the foreground of a background job; manual mode and
# min_age 0 so that nothing moves before the test says so.
sc_start_fs() {
    "$SC_ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" --state "$T/state" \
        >>"$T/fs.log" 2>&1 &
    SC_FS_PID=$!
    cluster_track $SC_FS_PID
    sc_wait 10 test -f "$M/README" || fail "reschedfs did not mount"
    echo manual > "$M/sched/mode" || fail "cannot set sched/mode"
    echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # test jobs run as root
    echo 0 > "$M/sched/min_age" || fail "cannot set sched/min_age"
}

sc_add_host() {
    cluster_add_host "$1" ${2:-}
    sc_start_agent "$1"
}

# sc_start_agent HOST: the agent of a host made with cluster_add_host, in
# its namespace and its cgroup (it leaves its own threads out of what it
# counts).
sc_start_agent() {
    mkdir -p "$T/run-$1"
    set -- "$1" "$SC_ROOT/bin/resched-agent" --registry "$REG" --key "$(cluster_host_key "$KEY" "$1")" --name "$1" \
        --cgroup "$(cluster_cg "$1")" --interval 1 --run "$T/run-$1"
    _h=$1; shift
    cluster_bg "$_h" "$T/agent-$_h.log" "$@"
    sc_wait 15 test -s "$M/hosts/$_h/state" || fail "host $_h did not join"
}

# sc_set NAME VALUE: write a sched/ setting, failing the test if refused.
sc_set() { echo "$2" > "$M/sched/$1" || fail "cannot set sched/$1 to $2"; }

# The only rule: overloaded when more than O tasks are runnable in the host's
# cgroup (busy above B); stability 0 in the rule set, the scheduler's own
# sched/stability is what the tests set.
sc_rule_procs_running() {
    for _f in "$M"/rules/*.rule; do [ -e "$_f" ] && rm -f "$_f"; done
    cat > "$M/rules/sched-test.rule" <<EOF || fail "cannot write the rule"
set_interval: 1

rl_number: 1
rl_name: runnable
rl_type: simple
rl_script: @procs_running
rl_desc: Tasks running or waiting for this host's CPU share.
rl_operator: >
rl_busy: $1
rl_overLd: $2
EOF
}

field() { cat "$M/procs/$1/$2" 2>/dev/null; }
state() { cat "$M/hosts/$1/state" 2>/dev/null; }
state_is() { [ "$(state "$1")" = "$2" ]; }
host_is() { [ "$(field "$1" host)" = "$2" ] && [ "$(field "$1" status)" = running ]; }
moves() { _h=$(field "$1" history); [ -z "$_h" ] && echo 0 || echo "$_h" | grep -c .; }
sc_max_job() { ls "$M/procs" 2>/dev/null | sort -n | tail -1; }
sc_newer_job() { _m=$(sc_max_job); [ -n "$_m" ] && [ "$_m" -gt "$1" ]; }

# sc_start_job HOST NAME TEST_TREE_ARGS...
sc_start_job() {
    _h=$1 _nm=$2; shift 2
    _prev=$(sc_max_job); _prev=${_prev:-0}
    cluster_bg "$_h" "$T/job-$_nm.log" env RESCHED_RUN="$T/run-$_h" "$TT" "$@" \
        --out "$T/$_nm.sum"
    sc_wait 20 sc_newer_job "$_prev" || fail "job $_nm did not register on $_h"
    SC_JOB=$(sc_max_job)
    sc_wait 5 host_is "$SC_JOB" "$_h" || fail "job $SC_JOB not running on $_h"
}

# sc_reference NAME ARGS...: an unmigrated run's sum, in $T/NAME.ref
sc_reference() {
    _nm=$1; shift
    RESCHED_RUN=$T/none "$TT" "$@" --out "$T/$_nm.ref" >/dev/null 2>&1 || fail "reference run $_nm"
    grep -q '^sum ' "$T/$_nm.ref" || fail "reference run $_nm wrote no sum"
}

# sc_check_sum NAME SECS: the job finished with the reference's sum
sc_check_sum() {
    sc_wait "$2" grep -q '^sum ' "$T/$1.sum" || fail "job $1 did not finish within $2 s"
    [ "$(cat "$T/$1.sum")" = "$(cat "$T/$1.ref")" ] ||
        fail "job $1: sum '$(cat "$T/$1.sum")' != unmigrated '$(cat "$T/$1.ref")'"
}

# The PID cluster_bg records is a wrapper subshell; each loop writes its own
# PID (the shell that runs it: the enter command and nsenter exec) to a
# file, and that is the PID sc_unload kills.
sc_load() {
    SC_LOAD=""
    _i=0
    while [ $_i -lt "$2" ]; do
        SC_NLOAD=$((${SC_NLOAD:-0} + 1))
        _pf=$T/load-$SC_NLOAD.pid
        cluster_bg "$1" /dev/null sh -c 'echo $$ > "$0"; while :; do :; done' "$_pf"
        sc_wait 5 test -s "$_pf" || fail "busy loop $SC_NLOAD on $1 did not start"
        SC_LOAD="$SC_LOAD $(cat "$_pf") $CL_LAST_PID"
        _i=$((_i + 1))
    done
}

sc_unload() { for _p in $1; do kill "$_p" 2>/dev/null; done; }

now() { date +%s.%N; }
elapsed() { awk "BEGIN { printf \"%.1f\", $(now) - $1 }"; }

metric() { cat "$M/hosts/$1/metrics/$2" 2>/dev/null; }
# metric_ok HOST NAME AWK-CONDITION-ON-v: e.g. metric_ok h1 load1 'v > 2'
metric_ok() {
    _v=$(metric "$1" "$2"); [ -n "$_v" ] || return 1
    awk -v v="$_v" "BEGIN { exit !($3) }"
}
