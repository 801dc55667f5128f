#!/bin/sh
# 30-migrate-local: libmigrate between real processes on loopback, driven by
# build/tools/mig_ctl (the agent's local side, for tests).  test_tree's sum
# must be the same unmigrated, migrated once, migrated three times in a row,
# and after each failure case (destination killed mid-transfer, wrong token,
# a corrupted byte, nothing listening); each failure must be reported by the
# source in its `result ok=0` message while the job finishes on the source.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
TT=$ROOT/bin/test_tree
CTL=$ROOT/build/tools/mig_ctl
if [ ! -x "$TT" ] || [ ! -x "$CTL" ]; then
    echo "skip: needs bin/test_tree and build/tools/mig_ctl (make all)"; exit 77
fi
T=$(mktemp -d "/tmp/resched-it30-$$-XXXXXX")
PIDS=""
cleanup() {
    exec 3>&- 2>/dev/null
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: $*"; echo "--- ctl.log"; cat "$T/ctl.log"; for f in "$T"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }
# wait_for FILE REGEX [SECONDS]
wait_for() {
    i=0
    while ! grep -qE "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt $(( ${3:-15} * 10 )) ] && return 1
        sleep 0.1
    done
}
BASE="--levels 10 --trees 4 --iterations 60 --seed 7 --sleep-ms 40"
ARGS="$BASE --payload-mb 64"

mkfifo "$T/ctl.in"
"$CTL" "$T/agent.sock" <"$T/ctl.in" >"$T/ctl.log" 2>&1 &
PIDS="$PIDS $!"
exec 3>"$T/ctl.in"
wait_for "$T/ctl.log" '.' 1 || true
i=0; while [ ! -S "$T/agent.sock" ]; do i=$((i+1)); [ $i -gt 50 ] && fail "mig_ctl did not start"; sleep 0.1; done

# Reference run, without an agent: prints the warning once, and the sum.
RESCHED_RUN="$T/none" "$TT" $ARGS >"$T/ref.out" 2>"$T/ref.err" || fail "reference run failed"
EXPECTED=$(tail -1 "$T/ref.out")
echo "reference: $EXPECTED"
case "$EXPECTED" in "sum "[0-9]*) ;; *) fail "reference printed '$EXPECTED'" ;; esac
[ "$(grep -c "libmigrate: no agent at $T/none/agent.sock: cannot migrate" "$T/ref.err")" = 1 ] ||
    fail "no-agent warning not printed exactly once"

# start_src NAME [ENV...]: a source job writing $T/NAME.sum; sets SRC.
start_src() {
    n=$1; shift
    env RESCHED_RUN="$T" "$@" "$TT" $ARGS --out "$T/$n.sum" >"$T/$n.src.log" 2>&1 &
    SRC=$!; PIDS="$PIDS $SRC"
    wait_for "$T/ctl.log" "^$SRC register " || fail "$n: source did not register"
}
# start_dst NAME TOKEN: a successor in restore mode; sets DST and PORT.
start_dst() {
    rm -f "$T/$1.port"
    env RESCHED_RUN="$T" RESCHED_RESTORE_TOKEN="$2" RESCHED_JOB=1 \
        RESCHED_RESTORE_TIMEOUT="${RTO:-20}" RESCHED_RESTORE_PORTFILE="$T/$1.port" \
        "$TT" $ARGS --out "$T/${3:-$1}.sum" >"$T/$1.dst.log" 2>&1 &
    DST=$!; PIDS="$PIDS $DST"
    wait_for "$T/$1.port" '^[0-9]+$' || fail "$1: successor did not listen"
    PORT=$(cat "$T/$1.port")
    wait_for "$T/ctl.log" "^$DST ready job=1 port=$PORT" || fail "$1: no ready message"
}
# migrate PID PORT TOKEN
migrate() { echo "migrate $1 127.0.0.1:$2 $3 dest-$2" >&3; }
# check_sum NAME PID: PID finished and wrote the expected sum.
check_sum() {
    wait "$2"; rc=$?
    [ $rc = 0 ] || fail "$1: pid $2 exited $rc"
    [ "$(cat "$T/$1.sum" 2>/dev/null)" = "$EXPECTED" ] || fail "$1: sum $(cat "$T/$1.sum" 2>/dev/null) != $EXPECTED"
    echo "$1: ok ($EXPECTED)"
}

# 1. migrate once
start_src once
start_dst once tok1once
migrate $SRC $PORT tok1once
wait_for "$T/ctl.log" "^$SRC result ok=1 " || fail "once: no successful result"
wait_for "$T/ctl.log" "^$SRC exit status=migrated" || fail "once: no exit status=migrated"
wait_for "$T/ctl.log" "^$DST register .*job=1 restored=1" || fail "once: successor did not register"
wait "$SRC" || fail "once: source exit status $?"
grep -E "^$SRC progress phase=(poll|connect|send|verify|done)" "$T/ctl.log" | wc -l | grep -q '^5$' ||
    fail "once: expected 5 progress phases"
check_sum once "$DST"
grep -q "^$DST exit status=done code=0" "$T/ctl.log" || fail "once: successor did not report done"

# 2. three moves in a row: src -> a -> b -> c
start_src chain
cur=$SRC
for hop in a b c; do
    start_dst "chain$hop" "tok$hop" chain
    migrate "$cur" "$PORT" "tok$hop"
    wait_for "$T/ctl.log" "^$cur result ok=1 " || fail "chain $hop: move failed"
    wait_for "$T/ctl.log" "^$DST register .*restored=1" || fail "chain $hop: no register"
    wait "$cur" || fail "chain $hop: old process exit $?"
    cur=$DST
done
check_sum chain "$cur"

# 3. failures: each time the source finishes the job itself.
# 3a. destination killed mid-transfer: 256 MiB of state; the successor is
# stopped while receiving (so the transfer is surely in flight), then killed.
ARGS="$BASE --payload-mb 256"
RESCHED_RUN="$T/none" "$TT" $ARGS >"$T/ref256.out" 2>/dev/null || fail "reference run (256 MiB) failed"
SAVED=$EXPECTED; EXPECTED=$(tail -1 "$T/ref256.out")
start_src killed
start_dst killed tokk killed-dst
migrate $SRC $PORT tokk
wait_for "$T/ctl.log" "^$SRC progress phase=connect" || fail "killed: no connect"
sleep 0.1
kill -STOP "$DST"; sleep 0.3; kill -9 "$DST"
wait_for "$T/ctl.log" "^$SRC result ok=0 " || fail "killed: no failed result"
line=$(grep "^$SRC result ok=0" "$T/ctl.log"); echo "$line"
bytes=${line##*bytes=}
[ "$bytes" -gt 1000000 ] && [ "$bytes" -lt 268435456 ] || fail "killed: not mid-transfer ($bytes bytes)"
check_sum killed "$SRC"
ARGS="$BASE --payload-mb 64"; EXPECTED=$SAVED

# 3b. wrong token: refused; the successor keeps waiting, then times out (75)
start_src badtok
RTO=3 start_dst badtok right-token badtok-dst
migrate $SRC $PORT wrong-token
wait_for "$T/ctl.log" "^$SRC result ok=0 reason=destination%20refused:%20wrong%20token" ||
    fail "badtok: no refusal reported"
wait "$DST"; rc=$?
[ $rc = 75 ] || fail "badtok: successor exit $rc, expected 75"
grep -q "refused a connection: wrong token" "$T/badtok.dst.log" || fail "badtok: successor did not log the refusal"
check_sum badtok "$SRC"

# 3c. a corrupted byte in the stream (test hook in the sender)
start_src corrupt RESCHED_TEST_CORRUPT_AT=100000
start_dst corrupt tokc corrupt-dst
migrate $SRC $PORT tokc
wait_for "$T/ctl.log" "^$SRC result ok=0 reason=destination%20refused:%20checksum%20mismatch" ||
    fail "corrupt: checksum failure not reported"
wait "$DST"; rc=$?
[ $rc = 75 ] || fail "corrupt: successor exit $rc, expected 75"
check_sum corrupt "$SRC"

# 3d. nothing listening (destination never started): connection refused
start_src refused
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$T/freeport"
migrate $SRC "$(cat "$T/freeport")" tokr
wait_for "$T/ctl.log" "^$SRC result ok=0 reason=connect%20" || fail "refused: no failed result"
grep "^$SRC result ok=0" "$T/ctl.log"
check_sum refused "$SRC"

echo "30-migrate-local: all passed"
