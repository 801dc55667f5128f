# trusttest.sh — set-up of the trust tests (58-59, 65): one reschedfs on
# loopback with a private mount, fake agents (build/tools/fake_agent) as
# root or as an unprivileged user.  Source it after setting TNAME:
#     TNAME=trust-default; . "$(dirname "$0")/../lib/trusttest.sh"
# It gives T (private temp dir, 0755), M (mount), KEY (a cluster key made
# by bin/resched-key new), REG (127.0.0.1:PORT), FA (fake_agent), and
# fail, ok, wait_until, start_fs [reschedfs options], hkey HOST (host
# HOST's key file), as_nobody CMD..., events_has TEXT.  Everything it
# started is stopped (by PID) and removed on exit.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
FA=$ROOT/build/tools/fake_agent
for b in bin/reschedfs bin/resched-key "$FA"; do
    [ -x "$b" ] || { echo "$b not built"; exit 77; }
done
id nobody >/dev/null 2>&1 || { echo "needs user nobody"; exit 77; }

T=$(mktemp -d "/tmp/resched-$TNAME-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
mkdir -p "$M"
KEY=$T/cluster.key
bin/resched-key new > "$KEY"
PORT=$((10000 + $$ % 22000))  # below the ephemeral range
REG=127.0.0.1:$PORT
FSPID=""
TT_PIDS=""
tt_cleanup() {
    for p in $TT_PIDS $FSPID; do kill "$p" 2>/dev/null; done
    [ -n "$FSPID" ] && { i=0; while kill -0 "$FSPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; }
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap tt_cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*"
    [ -f "$T/fs.log" ] && { echo "--- fs.log"; tail -20 "$T/fs.log"; }
    [ -f "$M/events" ] && { echo "--- events"; timeout 2 tail -n 20 "$M/events" 2>/dev/null; }
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
start_fs() {
    "$ROOT/bin/reschedfs" "$M" -f --listen "$REG" "$@" >>"$T/fs.log" 2>&1 &
    FSPID=$!
    wait_until 5 test -f "$M/README" || fail "reschedfs did not mount"
}
stop_fs() {
    kill "$FSPID"; wait "$FSPID" 2>/dev/null; FSPID=""
    fusermount3 -uz "$M" 2>/dev/null
}
# hkey HOST: host HOST's key (made once), readable by its owner only
hkey() {
    [ -s "$T/$1.key" ] || bin/resched-key host "$1" < "$KEY" > "$T/$1.key" || fail "resched-key host $1"
    echo "$T/$1.key"
}
# nobody's copy of a key file (a key must belong to whoever uses it)
nobody_key() {
    cp "$1" "$T/nobody-$(basename "$1")"; chown nobody "$T/nobody-$(basename "$1")"
    echo "$T/nobody-$(basename "$1")"
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
# the registry's events so far (the file is a stream: read what is there)
events() { timeout 1 cat "$M/events" 2>/dev/null; }
events_has() { events | grep -q -- "$1"; }
