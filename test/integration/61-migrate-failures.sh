#!/bin/sh
# 61-migrate-failures.sh — moves through the registry that must fail, each
# with an errno from `echo H > procs/ID/migrate`, the reason in `migrate`
# and `events`, and the job finishing on its source with the right sum:
#   a. destination killed mid-transfer (successor stopped after `ready`,
#      then SIGKILLed while the source is sending 128 MiB)
#   b. corrupted stream (libmigrate's RESCHED_TEST_CORRUPT_AT, documented
#      test-only): the successor refuses it (checksum), the source goes on
#   c. destination binary missing (the schema's <binary> for this arch does
#      not exist): the destination agent's prepare fails
#   d. successor exits before `ready` (the schema's binary is /bin/false)
#   e. destination agent down: EHOSTUNREACH at once
#   f. the source never reaches a poll point within sched/migrate_timeout:
#      ETIMEDOUT, and the destination agent kills the successor (abort)
# Real reschedfs (--key), real agents in namespaces, bin/test_tree.
TNAME=migrate-failures
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
. test/lib/cluster.sh
cluster_need_root
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
for b in bin/reschedfs bin/resched-agent bin/test_tree; do
    [ -x $b ] || { echo "$b not built"; exit 77; }
done
command -v nsenter >/dev/null || { echo "needs nsenter"; exit 77; }

T=$(mktemp -d "/tmp/resched-$TNAME-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
KEY=$T/key
head -c 32 /dev/urandom > "$KEY"; chmod 600 "$KEY"
CL_EXTRA_CLEANUP='fusermount3 -uz "$M" 2>/dev/null; rm -rf "$T"'
cluster_init
PORT=$((10000 + $$ % 22000)) # below the ephemeral range (32768-): never a TIME_WAIT client port
REG=$CL_REG_ADDR:$PORT
TT=$ROOT/bin/test_tree
ARCH=$(uname -m)

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log "$T"/run-*/jobs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
    [ -f "$M/events" ] && { echo "--- events"; timeout 1 cat "$M/events" | tail -25; }
    exit 1
}
ok() { echo "ok - $*"; }
wait_until() {
    _n=$(($1 * 10)); shift
    while [ $_n -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1; _n=$((_n - 1))
    done
    return 1
}
start_agent() {
    _h=$1; shift
    cluster_bg "$_h" "$T/agent-$_h.log" "$ROOT/bin/resched-agent" --registry "$REG" \
        --name "$_h" --interval 1 --key "$(cluster_host_key "$KEY" "$_h")" --run "$T/run-$_h" "$@"
    eval "AGENT_$_h=\$CL_LAST_PID"
}
field() { cat "$M/procs/$1/$2" 2>/dev/null; }
max_job() { ls "$M/procs" 2>/dev/null | sort -n | tail -1; }
newer_job() { _m=$(max_job); [ -n "$_m" ] && [ "$_m" -gt "$1" ]; }
# start_job NAME CMD...: CMD (test_tree, maybe behind env) on h1; sets JOB
# (the registry's id: the next one to appear) and writes $T/NAME.sum.
start_job() {
    sj_name=$1; shift
    sj_prev=$(max_job); sj_prev=${sj_prev:-0}
    cluster_bg h1 "$T/job-$sj_name.log" env RESCHED_RUN="$T/run-h1" "$@" --out "$T/$sj_name.sum"
    wait_until 20 newer_job "$sj_prev" || fail "$sj_name: job did not register"
    JOB=$(max_job)
}
# must_fail NAME ID HOST ERRNO_WORD REASON_REGEX: the write fails, the reason
# is in migrate and events, the job stays running on h1.
must_fail() {
    _nm=$1 _id=$2 _to=$3 _want=$4 _re=$5
    # coreutils echo names the errno (dash's builtin says only "I/O error")
    if /bin/echo "$_to" 2>"$T/$_id.err" > "$M/procs/$_id/migrate"; then
        fail "$_nm: echo $_to > migrate succeeded"
    fi
    _err=$(cat "$T/$_id.err")
    echo "$_err" | grep -q "$_want" || fail "$_nm: write error '$_err', expected $_want"
    field "$_id" migrate | grep -qE "$_re" || fail "$_nm: migrate reads '$(field "$_id" migrate)'"
    timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
    grep "job=$_id" "$T/events.txt" | grep -E "migration-(failed|refused)" | grep -qE "$_re" ||
        fail "$_nm: no event with the reason: $(grep "job=$_id" "$T/events.txt" | tail -3)"
    wait_until 5 sh -c "[ \"\$(cat '$M/procs/$_id/status')\" = running ]" || fail "$_nm: status $(field "$_id" status)"
    [ "$(field "$_id" host)" = h1 ] || fail "$_nm: host $(field "$_id" host)"
    ok "$_nm: write failed ($_err); migrate: $(field "$_id" migrate | cut -c1-150)"
}
check_sum() {
    wait_until "$3" grep -q '^sum ' "$T/$1.sum" || fail "$1: the job did not finish"
    [ "$(cat "$T/$1.sum")" = "$2" ] || fail "$1: sum '$(cat "$T/$1.sum")' != '$2'"
    ok "$1: finished on the source with the reference sum"
}

"$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" >"$T/fs.log" 2>&1 &
cluster_track $!
wait_until 5 test -f "$M/README" || fail "reschedfs did not mount"
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the jobs here run as root
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 3 ]" || fail "hosts did not appear"
ok "registry and three agents up"

ARGS="--levels 10 --trees 2 --iterations 400 --seed 5 --sleep-ms 40"
BIG="--levels 10 --trees 2 --iterations 100 --seed 5 --sleep-ms 40 --payload-mb 128"
RESCHED_RUN=$T/none "$TT" $ARGS --out "$T/ref.sum" >/dev/null 2>&1 || fail "reference run"
RESCHED_RUN=$T/none "$TT" $BIG --out "$T/refbig.sum" >/dev/null 2>&1 || fail "reference run (big)"
REF=$(cat "$T/ref.sum"); REFBIG=$(cat "$T/refbig.sum")
ok "references: $REF / $REFBIG"

# a. destination killed mid-transfer
start_job killed "$TT" $BIG; A=$JOB
/bin/echo h2 2>"$T/killed.err" > "$M/procs/$A/migrate" &
W=$!
n=0
until grep -q "job $A mig [0-9]*: successor pid [0-9]* ready" "$T/agent-h2.log"; do
    n=$((n + 1)); [ $n -gt 1000 ] && fail "killed: successor never ready"; sleep 0.01
done
SP=$(sed -n "s/.*job $A mig [0-9]*: successor pid \([0-9]*\) ready.*/\1/p" "$T/agent-h2.log" | tail -1)
kill -STOP "$SP"
wait_until 10 grep -q "job $A mig [0-9]*: phase connect" "$T/agent-h1.log" || fail "killed: source never connected"
sleep 0.3
kill -9 "$SP"
wait $W && fail "killed: the write succeeded"
grep -q "Input/output error" "$T/killed.err" || fail "killed: write error '$(cat "$T/killed.err")'"
field "$A" migrate | grep -qiE "failed.*(reset|pipe|send|recv|closed)" || fail "killed: migrate reads '$(field "$A" migrate)'"
wait_until 5 sh -c "[ \"\$(cat '$M/procs/$A/status')\" = running ]" || fail "killed: status $(field "$A" status)"
ok "a. destination killed mid-transfer: write failed ($(cat "$T/killed.err")); $(field "$A" migrate | cut -c1-160)"

# b. corrupted stream
start_job corrupt env RESCHED_TEST_CORRUPT_AT=2000 "$TT" $ARGS; B=$JOB
must_fail "b. corrupted stream" "$B" h2 "Input/output error" "checksum|corrupt|refused"

# c. destination binary missing
printf '<application name="test_tree">\n  <binary arch="%s">%s/no-such-dir/test_tree</binary>\n</application>\n' "$ARCH" "$T" > "$T/missing.xml"
start_job missing "$TT" --mig-schema "$T/missing.xml" $ARGS; C=$JOB
must_fail "c. binary missing" "$C" h2 "Input/output error" "prepare on h2: binary .*no-such-dir/test_tree: No such file"

# d. successor exits before ready
printf '<application name="test_tree">\n  <binary arch="%s">/bin/false</binary>\n</application>\n' "$ARCH" > "$T/false.xml"
start_job early "$TT" --mig-schema "$T/false.xml" $ARGS; D=$JOB
must_fail "d. exits early" "$D" h2 "Input/output error" "prepare on h2: successor exited with status 1 before ready"

# e. destination agent down
# cluster_bg's pid is a wrapper shell: find the agent itself by its unique --run
A3=$(pgrep -f -- "--run $T/run-h3") || fail "no agent process for h3"
kill $A3
wait_until 5 sh -c "! kill -0 $A3" || fail "agent h3 did not stop"
must_fail "e. destination agent down" "$B" h3 "No route to host\|unreachable" "h3"

# f. no poll point within migrate_timeout: the registry aborts
echo 1 > "$M/sched/migrate_timeout" || fail "cannot set migrate_timeout"
start_job slow "$TT" --levels 8 --trees 1 --iterations 3 --seed 3 --sleep-ms 2500; F=$JOB
RESCHED_RUN=$T/none "$TT" --levels 8 --trees 1 --iterations 3 --seed 3 --sleep-ms 0 --out "$T/refslow.sum" >/dev/null 2>&1
must_fail "f. timeout" "$F" h2 "timed out" "timed out"
wait_until 5 grep -q "job $F mig [0-9]* aborted.*killing successor pid" "$T/agent-h2.log" ||
    fail "f: the destination agent did not kill the successor"
ok "f: the destination agent killed the successor on abort"

check_sum killed "$REFBIG" 40
check_sum corrupt "$REF" 30
check_sum missing "$REF" 30
check_sum early "$REF" 30
check_sum slow "$(cat "$T/refslow.sum")" 30
for id in $A $B $C $D $F; do
    [ "$(field "$id" host)" = h1 ] || fail "job $id ended on $(field "$id" host)"
    wait_until 5 sh -c "[ \"\$(cat '$M/procs/$id/status')\" = done ]" || fail "job $id status $(field "$id" status)"
done
ok "every job finished on h1 with status done"
exit 0
