#!/bin/sh
# 57-strict-values.sh — sched/* and hosts/H/state take exactly one value and
# an optional newline: a value cut at a buffer size, bytes after a NUL, hex,
# an exponent, blanks around the value or a trailing word are refused with
# EINVAL and the old value stays; root and nobody alike (nobody: EACCES as
# before).  A real agent supplies the host.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
FS=$ROOT/bin/reschedfs
AGENT=$ROOT/bin/resched-agent
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mounts)"; exit 77; }
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
[ -x "$FS" ] && [ -x "$AGENT" ] || { echo "bin/ not built"; exit 77; }
command -v bash >/dev/null || { echo "needs bash"; exit 77; }

T=$(mktemp -d "/tmp/resched-strict-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M" "$T/run"
PORT=$((10000 + ($$ + 7) % 22000))
FSPID=""
APID=""
H="sv$$"

cleanup() {
    [ -n "$APID" ] && kill "$APID" 2>/dev/null
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; tail -20 "$T/fs.log"; exit 1; }
ok() { echo "ok - $*"; }
wait_for() {
    n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
# wr FILE FORMAT [USER]: bash's printf of FORMAT (escapes and %Ns allowed)
# into FILE as one write(2); prints bash's error, returns its status.
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
wr() {
    if [ "${3:-}" = nobody ]; then
        $NOBODY bash -c 'printf -- "$1" > "$2"' _ "$2" "$1" 2>&1
    else
        bash -c 'printf -- "$1" > "$2"' _ "$2" "$1" 2>&1
    fi
}
# refused FILE FORMAT OLD [USER]: the write fails with EINVAL (EACCES for
# nobody) and FILE still reads OLD.
refused() {
    out=$(wr "$1" "$2" "${4:-}") && fail "$1 accepted '$2'"
    want="Invalid argument"
    [ "${4:-}" = nobody ] && want="Permission denied"
    echo "$out" | grep -q "$want" || fail "$1 '$2': wanted $want, got: $out"
    [ "$(cat "$1")" = "$3" ] || fail "$1 after '$2': $(cat "$1"), wanted $3"
}

"$FS" "$M" -f -o allow_other --listen "127.0.0.1:$PORT" >"$T/fs.log" 2>&1 &
FSPID=$!
wait_for 5 test -f "$M/README" || fail "reschedfs did not mount"

C=$M/sched/cooldown
wr "$C" '30\n' >/dev/null || fail "cooldown 30 refused"
[ "$(cat "$C")" = 30 ] || fail "cooldown: $(cat "$C")"
refused "$C" '9%130sjunk\n' 30            # cut at 127 bytes read as 9
refused "$C" '9%200s\n' 30                # blanks after the value
refused "$C" '9\000junk' 30               # bytes after a NUL
refused "$C" '9\000' 30
refused "$C" '0x10\n' 30                  # hex (read as 16 s)
refused "$C" '1e3\n' 30                   # exponent
refused "$C" '9 junk\n' 30
refused "$C" ' 9\n' 30
refused "$C" '9\r\n' 30
refused "$C" '+9\n' 30
refused "$C" '\n' 30
refused "$C" 'inf\n' 30
refused "$C" '9.\n' 30
wr "$C" '12.5' >/dev/null || fail "cooldown 12.5 without newline refused"
[ "$(cat "$C")" = 12.5 ] || fail "cooldown: $(cat "$C")"
ok "sched/cooldown: one decimal value and an optional newline, nothing else"

MC=$M/sched/max_concurrent
wr "$MC" '3\n' >/dev/null || fail "max_concurrent 3 refused"
refused "$MC" '0x2\n' 3
refused "$MC" '2%140sjunk\n' 3
refused "$MC" '2\0005' 3
refused "$MC" '2.0\n' 3
MO=$M/sched/mode
wr "$MO" 'manual\n' >/dev/null || fail "mode manual refused"
refused "$MO" 'auto junk\n' manual
refused "$MO" 'auto\000x' manual
refused "$MO" 'auto%140sx\n' manual
ok "sched/max_concurrent and sched/mode are strict too"

# as nobody: refused before any value is looked at (EACCES), as before
refused "$C" '5\n' 12.5 nobody
refused "$C" '0x10\n' 12.5 nobody
refused "$MO" 'auto\n' manual nobody
ok "nobody is still refused (EACCES), value kept"

"$AGENT" --registry "127.0.0.1:$PORT" --name "$H" --interval 1 --run "$T/run" >"$T/agent.log" 2>&1 &
APID=$!
wait_for 10 test -d "$M/hosts/$H" || fail "host $H did not appear"
S=$M/hosts/$H/state
wait_for 5 grep -qE '^(free|busy|overloaded)$' "$S" || fail "state: $(cat "$S")"
st=$(cat "$S")
sleep 1.2   # a new second: events shows 10 rejected writes per uid and second
refused "$S" 'drain junk\n' "$st"
refused "$S" 'drain\000junk' "$st"
refused "$S" 'drain%140sjunk\n' "$st"
refused "$S" ' drain\n' "$st"
refused "$S" 'drain \n' "$st"
refused "$S" 'drain\n' "$st" nobody
wr "$S" 'drain\n' >/dev/null || fail "drain refused"
[ "$(cat "$S")" = draining ] || fail "not draining: $(cat "$S")"
refused "$S" 'resume junk\n' draining
refused "$S" 'resume\000' draining
wr "$S" 'resume' >/dev/null || fail "resume refused"
wait_for 3 grep -qE '^(free|busy|overloaded)$' "$S" || fail "resume did not undo drain"
ok "hosts/H/state takes drain or resume alone"

timeout 2 cat "$M/events" > "$T/events" 2>/dev/null
grep -q 'write-rejected path=sched/cooldown uid=0 reason=' "$T/events" || fail "no write-rejected event for cooldown"
grep -q "write-rejected path=hosts/$H/state uid=0 reason=" "$T/events" || fail "no write-rejected event for state: $(grep state "$T/events")"
ok "each refusal says why in events"

# a flood of rejected writes from one uid: 10 lines a second, then a summary
sleep 1.2
$NOBODY bash -c 'for i in $(seq 200); do echo 5 > "$1" 2>/dev/null; done' _ "$C" 2>/dev/null
sleep 1.2
timeout 2 cat "$M/events" > "$T/events2" 2>/dev/null
n=$(grep -c 'write-rejected path=sched/cooldown uid=65534 reason=' "$T/events2")
[ "$n" -ge 10 ] && [ "$n" -le 30 ] || fail "flood: $n write-rejected lines for uid 65534"
grep -qE 'write-rejected uid=65534 suppressed=[0-9]+$' "$T/events2" || fail "flood: no summary line: $(tail -3 "$T/events2")"
ok "a flood of rejected writes is limited and summarized ($n lines shown)"
exit 0
