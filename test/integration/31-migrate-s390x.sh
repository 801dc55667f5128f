#!/bin/sh
# 31-migrate-s390x: heterogeneous migration of test_tree, x86-64 -> s390x
# (big-endian, under qemu-s390x) -> x86-64, driven by build/tools/mig_ctl.
# The receiver converts byte order; the final sum must equal an unmigrated
# run's, and the s390x run alone must give the same sum as well.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
TT=$ROOT/bin/test_tree
TZ=$ROOT/bin/s390x/test_tree
CTL=$ROOT/build/tools/mig_ctl
QEMU="qemu-s390x -L /usr/s390x-linux-gnu"
command -v qemu-s390x >/dev/null || { echo "skip: qemu-s390x not installed (make deps)"; exit 77; }
[ -x "$TT" ] && [ -x "$CTL" ] || { echo "skip: needs bin/test_tree and build/tools/mig_ctl (make all)"; exit 77; }
# always through make: a binary older than libmigrate speaks an old stream
make -s bin/s390x/test_tree >/dev/null 2>&1 && [ -x "$TZ" ] || { echo "skip: cannot build bin/s390x/test_tree"; exit 77; }
T=$(mktemp -d "/tmp/resched-it31-$$-XXXXXX")
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
wait_for() {
    i=0
    while ! grep -qE "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt $(( ${3:-30} * 10 )) ] && return 1
        sleep 0.1
    done
}
ARGS="--levels 9 --trees 3 --iterations 60 --seed 11 --sleep-ms 50 --payload-mb 8"

mkfifo "$T/ctl.in"
"$CTL" "$T/agent.sock" <"$T/ctl.in" >"$T/ctl.log" 2>&1 &
PIDS="$PIDS $!"
exec 3>"$T/ctl.in"
i=0; while [ ! -S "$T/agent.sock" ]; do i=$((i+1)); [ $i -gt 50 ] && fail "mig_ctl did not start"; sleep 0.1; done

EXPECTED=$(RESCHED_RUN="$T/none" "$TT" $ARGS 2>/dev/null | tail -1)
Z=$(RESCHED_RUN="$T/none" $QEMU "$TZ" $ARGS 2>/dev/null | tail -1)
echo "x86-64: $EXPECTED  s390x: $Z"
case "$EXPECTED" in "sum "[0-9]*) ;; *) fail "reference printed '$EXPECTED'" ;; esac
[ "$Z" = "$EXPECTED" ] || fail "s390x computes another sum"

# source on x86-64
RESCHED_RUN="$T" "$TT" $ARGS --out "$T/job.sum" >"$T/src.log" 2>&1 &
SRC=$!; PIDS="$PIDS $SRC"
wait_for "$T/ctl.log" "^$SRC register " || fail "source did not register"

# hop DESCR CMD...: start a successor, move the current process to it.
cur=$SRC
hop() {
    name=$1; shift
    env RESCHED_RUN="$T" RESCHED_RESTORE_TOKEN="tok-$name" RESCHED_JOB=1 \
        RESCHED_RESTORE_TIMEOUT=60 RESCHED_RESTORE_PORTFILE="$T/$name.port" \
        "$@" $ARGS --out "$T/job.sum" >"$T/$name.log" 2>&1 &
    DST=$!; PIDS="$PIDS $DST"
    wait_for "$T/$name.port" '^[0-9]+$' || fail "$name: successor did not listen"
    echo "migrate $cur 127.0.0.1:$(cat "$T/$name.port") tok-$name $name" >&3
    wait_for "$T/ctl.log" "^$cur result ok=" || fail "$name: no result"
    grep -q "^$cur result ok=1 " "$T/ctl.log" || fail "$name: move failed"
    wait_for "$T/ctl.log" "^$DST register .*restored=1" || fail "$name: successor did not register"
    wait "$cur" || fail "$name: old process exit $?"
    echo "$name: moved ($(grep "^$cur result" "$T/ctl.log" | sed 's/.*transfer_s=\([^ ]*\).*bytes=\(.*\)/\2 bytes in \1 s/'))"
    cur=$DST
}
hop s390x $QEMU "$TZ"
hop x86_64 "$TT"
wait "$cur" || fail "final process exit $?"
[ "$(cat "$T/job.sum")" = "$EXPECTED" ] || fail "sum $(cat "$T/job.sum") != $EXPECTED"
echo "31-migrate-s390x: ok ($EXPECTED after x86_64 -> s390x -> x86_64)"
