#!/bin/sh
# 40-fs-hosts.sh — real agents report to a real reschedfs over loopback:
# hosts appear in the tree (inotify CREATE), state/metrics/seen/lease are
# filled, drain/resume work, a stopped agent's host becomes unavailable
# after 3 intervals (inotify MODIFY on its state), rmdir forgets it.
# Skipped while reschedfs has no agent listener (fs/fs_net.c).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
FS=$ROOT/bin/reschedfs
AGENT=$ROOT/bin/resched-agent
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mounts)"; exit 77; }
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
[ -x "$FS" ] && [ -x "$AGENT" ] || { echo "bin/reschedfs or bin/resched-agent not built"; exit 77; }
command -v inotifywait >/dev/null || { echo "needs inotify-tools"; exit 77; }

T=$(mktemp -d "/tmp/resched-fs-hosts-$$-XXXXXX")
M=$T/mnt
mkdir -p "$M" "$T/run1" "$T/run2"
PORT=$((10000 + $$ % 22000)) # below the ephemeral range (32768-): never a TIME_WAIT client port
PIDS=""
FSPID=""

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; tail -20 "$T/fs.log"; exit 1; }
ok() { echo "ok - $*"; }
wait_for() {   # wait_for SECONDS CMD...: poll until CMD succeeds
    n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

"$FS" "$M" -f --listen "127.0.0.1:$PORT" >"$T/fs.log" 2>&1 &
FSPID=$!
wait_for 5 test -f "$M/README" || fail "reschedfs did not mount"
listening() { ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PORT "; }
if ! wait_for 2 listening; then
    echo "reschedfs has no agent listener yet (fs_net); skipped"
    exit 77
fi

inotifywait -q -m -e create -e delete "$M/hosts" >"$T/inw-hosts" 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
"$AGENT" --registry "127.0.0.1:$PORT" --name "ta$$" --interval 1 --run "$T/run1" >"$T/a1.log" 2>&1 &
A1=$!; PIDS="$PIDS $A1"
"$AGENT" --registry "127.0.0.1:$PORT" --name "tb$$" --interval 1 --run "$T/run2" >"$T/a2.log" 2>&1 &
A2=$!; PIDS="$PIDS $A2"
wait_for 10 test -d "$M/hosts/ta$$" || fail "host ta$$ did not appear"
wait_for 10 test -d "$M/hosts/tb$$" || fail "host tb$$ did not appear"
wait_for 5 grep -q "CREATE,ISDIR ta$$" "$T/inw-hosts" || fail "no inotify CREATE: $(cat "$T/inw-hosts")"
ok "agents' hosts appear; inotifywait -m hosts/ sees CREATE"
wait_for 5 test -s "$M/hosts/ta$$/metrics/load1" || fail "no load1 metric"
grep -qE '^(free|busy|overloaded)$' "$M/hosts/ta$$/state" || fail "state: $(cat "$M/hosts/ta$$/state")"
grep -qE '^[0-9]+\.[0-9]$' "$M/hosts/ta$$/seen" || fail "seen: $(cat "$M/hosts/ta$$/seen")"
grep -qE '^[0-9]+\.[0-9]$' "$M/hosts/ta$$/lease" || fail "lease: $(cat "$M/hosts/ta$$/lease")"
[ -s "$M/hosts/ta$$/info" ] || fail "empty info"
ok "state, metrics, seen, lease, info filled"

echo drain > "$M/hosts/ta$$/state" || fail "drain"
[ "$(cat "$M/hosts/ta$$/state")" = draining ] || fail "not draining"
echo resume > "$M/hosts/ta$$/state" || fail "resume"
wait_for 3 grep -qE '^(free|busy|overloaded)$' "$M/hosts/ta$$/state" || fail "resume did not undo drain"
ok "drain / resume"

(rmdir "$M/hosts/ta$$") 2>/dev/null && fail "rmdir of a live host succeeded"
# the kernel may cache a state file's attributes (10 s): the notifier's
# write through the mount must make it drop them, so stat is true at once
s0=$(stat -c %s "$M/hosts/tb$$/state")
inotifywait -q -t 10 -e modify "$M/hosts/tb$$/state" >"$T/inw-state" 2>&1 &
IW=$!
sleep 0.3
kill "$A2"
wait $IW
grep -q MODIFY "$T/inw-state" || fail "no MODIFY on state when the host went silent"
s1=$(stat -c %s "$M/hosts/tb$$/state")
c1=$(wc -c < "$M/hosts/tb$$/state")
[ "$s1" = "$c1" ] && [ "$s1" != "$s0" ] ||
    fail "stat says $s1 bytes right after the change (was $s0), content has $c1"
wait_for 5 grep -q unavailable "$M/hosts/tb$$/state" || fail "tb$$ not unavailable"
[ "$(cat "$M/hosts/tb$$/lease")" = 0.0 ] || fail "lease of an unavailable host: $(cat "$M/hosts/tb$$/lease")"
grep -q "host-left host=tb$$" "$M/events" || fail "no host-left event"
ok "silent agent: unavailable after 3 intervals, inotify MODIFY on state, stat size true at once ($s0 -> $s1)"
rmdir "$M/hosts/tb$$" || fail "rmdir of an unavailable host"
[ ! -e "$M/hosts/tb$$" ] || fail "host still there after rmdir"
wait_for 3 grep -q "DELETE,ISDIR tb$$" "$T/inw-hosts" || fail "no inotify DELETE"
ok "rmdir forgets an unavailable host (DELETE seen)"
echo "all fs-hosts checks passed"
