# migtest.sh — shared set-up of the migration tests through the registry
# (60, 62): checks, a private temp dir T with mount M and key KEY, the
# cluster (test/lib/cluster.sh) with the registry address REG, TT (the
# test_tree binary), and fail, ok, wait_until, start_agent, field, job_on,
# alive_on, start_fs.  Source it after setting TNAME; cleanup runs on exit.
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

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log "$T"/run-*/jobs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
    [ -f "$M/events" ] && { echo "--- events"; timeout 1 cat "$M/events" | tail -20; }
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
# start_fs [OPTIONS]: the registry on M (log T/fs.log, PID FSPID), keyed
start_fs() {
    "$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" "$@" >>"$T/fs.log" 2>&1 &
    FSPID=$!
    cluster_track $FSPID
    wait_until 5 test -f "$M/README" || fail "reschedfs did not mount"
}
field() { cat "$M/procs/$1/$2" 2>/dev/null; }
# job_on HOST: the id of the one job registered from HOST, else fails.
job_on() { for d in "$M"/procs/*/; do [ "$(cat "$d/host" 2>/dev/null)" = "$1" ] && basename "$d" && return 0; done; return 1; }
alive_on() { [ "$(field "$1" host)" = "$2" ] && [ "$(field "$1" status)" = running ]; }
