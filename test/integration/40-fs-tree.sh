#!/bin/sh
# 40-fs-tree.sh — reschedfs mounted for real: the tree, validated writes,
# events (blocking reads, poll), inotify, modes, permissions, SIGTERM,
# recovery from a stale mount after kill -9, and --state persistence.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
FS=$ROOT/bin/reschedfs
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mounts)"; exit 77; }
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
[ -x "$FS" ] || { echo "bin/reschedfs not built"; exit 77; }
command -v inotifywait >/dev/null || { echo "needs inotify-tools"; exit 77; }

T=$(mktemp -d "/tmp/resched-fs-tree-$$-XXXXXX")
chmod 755 "$T"
M=$T/mnt
S=$T/state
mkdir -p "$M"
FSPID=""
BGPIDS=""

cleanup() {
    for p in $BGPIDS; do kill "$p" 2>/dev/null; done
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; [ -f "$T/fs.log" ] && tail -20 "$T/fs.log"; exit 1; }
ok() { echo "ok - $*"; }

start_fs() {
    "$FS" "$M" -f "$@" >>"$T/fs.log" 2>&1 &
    FSPID=$!
    i=0
    while [ $i -lt 50 ]; do
        [ -f "$M/README" ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    fail "reschedfs did not mount"
}
stop_fs() {
    kill "$FSPID"
    i=0
    while kill -0 "$FSPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$FSPID" 2>/dev/null && fail "reschedfs did not end on SIGTERM"
    wait "$FSPID" 2>/dev/null
    FSPID=""
}

VALID='rl_number: 91
rl_name: t91
rl_type: simple
rl_script: @load1
rl_operator: >
rl_busy: 2
rl_overLd: 3'

# bash's echo reports the errno text ("Invalid argument"); dash's says
# "I/O error" whatever the errno, so writes that must fail go through bash.
bwrite() { bash -c 'printf "%s\n" "$2" > "$1"' _ "$1" "$2" 2>&1; }

start_fs -o allow_other

# --- the tree --------------------------------------------------------------
grep -q "hosts/<host>/state" "$M/README" || fail "README content"
ok "README readable"
want=$(cd "$ROOT/rules/default" && ls *.rule 2>/dev/null | sort | tr '\n' ' ')
have=$(ls "$M/rules" | sort | tr '\n' ' ')
[ "$want" = "$have" ] || fail "rules/ holds '$have', defaults are '$want'"
for f in $(ls "$ROOT/rules/default/"*.rule 2>/dev/null); do
    cmp -s "$f" "$M/rules/$(basename "$f")" || fail "$(basename "$f") differs"
done
ok "rules/ holds the default rules"
[ "$(stat -c %s "$M/README")" = "$(cat "$M/README" | wc -c)" ] || fail "README size"
ok "stat size is the true size"

# --- rules: valid, invalid, multi-record, rm, rename -----------------------
printf '%s\n' "$VALID" > "$M/rules/t.rule" || fail "valid rule rejected"
grep -q "rl_name: t91" "$M/rules/t.rule" || fail "new rule not shown"
ok "echo of a valid rule"
err=$(bwrite "$M/rules/t.rule" "$(printf 'rl_number: x\nrl_bogus: 1')")
echo "$err" | grep -q "Invalid argument" || fail "bad rule: shell said '$err'"
grep -q "rl_name: t91" "$M/rules/t.rule" || fail "old rule lost after a bad write"
grep -q "rule-rejected file=t.rule uid=0" "$M/events" || fail "no rule-rejected event"
ok "bad rule: EINVAL, old rule kept, rule-rejected event"
# An incomplete text (a record missing keys) could still be completed by
# more lines, so it is refused at close(), which bash does not report:
# the file must not appear and events must say why.
bwrite "$M/rules/new-bad.rule" "rl_number: 1" >/dev/null
[ ! -e "$M/rules/new-bad.rule" ] || fail "a rejected new file stayed"
grep -q "rule-rejected file=new-bad.rule" "$M/events" || fail "no rule-rejected event for an incomplete file"
ok "incomplete new rule file does not appear; events says why"
# bash writes a multi-line echo one line per write(2): a valid text is
# applied at close, a bad line fails as soon as the next line arrives.
bash -c "echo '$(printf '%s' "$VALID" | sed 's/91/93/g')' > '$M/rules/multi.rule'" || fail "multi-line bash echo of a valid rule failed"
grep -q "rl_name: t93" "$M/rules/multi.rule" || fail "multi-line rule not applied"
err=$(bash -c "printf 'rl_number: 94\nrl_name: t94\nrl_operator: =<>\nrl_type: simple\n' > '$M/rules/multi.rule'" 2>&1)
echo "$err" | grep -q "Invalid argument" || fail "bad line in a multi-line write: shell said '$err'"
grep -q "rl_name: t93" "$M/rules/multi.rule" || fail "old multi.rule lost"
rm "$M/rules/multi.rule"
ok "multi-line bash echo/printf: valid applied, bad line refused at once"
{
    printf '%s\n\n' "$VALID" | sed 's/91/92/g'
    printf '%s\n' "$VALID" | sed 's/91/93/g'
    # pad past one page so the file arrives in more than one write path
    i=0; while [ $i -lt 120 ]; do echo "# padding line $i ........................"; i=$((i+1)); done
} > "$T/multi.rule"
cat "$T/multi.rule" > "$M/rules/multi.rule" || fail "cat > multi-record rule"
cmp -s "$T/multi.rule" "$M/rules/multi.rule" || fail "multi-record content"
ok "cat > rules/multi.rule ($(wc -c < "$T/multi.rule") bytes)"
{ cat "$T/multi.rule"; echo "rl_number: zz"; } > "$T/bad-multi.rule"
cat "$T/bad-multi.rule" > "$M/rules/multi.rule" 2>/dev/null && fail "bad big rule accepted"
cmp -s "$T/multi.rule" "$M/rules/multi.rule" || fail "bad big rule changed the file"
ok "bad multi-write rule fails at close, old content kept"
# a descriptor open across the rename reads the file under its new name
exec 7< "$M/rules/multi.rule"
mv "$M/rules/multi.rule" "$M/rules/renamed.rule" || fail "rename"
[ -e "$M/rules/renamed.rule" ] && [ ! -e "$M/rules/multi.rule" ] || fail "rename result"
cmp -s "$T/multi.rule" /dev/fd/7 || fail "descriptor opened before the rename reads other content"
exec 7<&-
rm "$M/rules/renamed.rule" || fail "rm rule"
[ ! -e "$M/rules/renamed.rule" ] || fail "rm result"
# the name again, as a new file (the old node was only detached)
printf '%s\n' "$VALID" | sed 's/91/95/g' > "$M/rules/renamed.rule" || fail "re-creating a removed name"
grep -q "rl_name: t95" "$M/rules/renamed.rule" || fail "re-created file's content"
rm "$M/rules/renamed.rule"
ok "mv and rm in rules/; an open descriptor follows the rename; a removed name comes back"
# the kernel forgets every node it holds, then walks the tree again
sync; echo 2 > /proc/sys/vm/drop_caches
grep -q "rl_name" "$M/rules/"*.rule || fail "rules unreadable after the kernel forgot its nodes"
[ "$(ls "$M" | wc -l)" -ge 7 ] || fail "root listing after the kernel forgot its nodes"
ok "tree whole after drop_caches (FORGET of every node)"
(printf 'x\n' > "$M/rules/notarule.txt") 2>/dev/null && fail "non-.rule name accepted"
ok "non-.rule name rejected"

# --- policy and sched --------------------------------------------------------
cp "$ROOT/examples/policies/policy3.policy" "$M/policy" || fail "valid policy"
cmp -s "$ROOT/examples/policies/policy3.policy" "$M/policy" || fail "policy content"
err=$(bwrite "$M/policy" "migrate_when: (load1 >> 2)
place: first_fit")
echo "$err" | grep -q "Invalid argument" || fail "bad policy: '$err'"
cmp -s "$ROOT/examples/policies/policy3.policy" "$M/policy" || fail "bad policy changed it"
grep -q "policy-rejected uid=0" "$M/events" || fail "no policy-rejected event"
ok "policy valid / invalid"
for m in manual dry-run auto; do
    echo $m > "$M/sched/mode" || fail "mode $m"
    [ "$(cat "$M/sched/mode")" = $m ] || fail "mode shows $(cat "$M/sched/mode")"
done
err=$(bwrite "$M/sched/mode" foo)
echo "$err" | grep -q "Invalid argument" || fail "mode foo: '$err'"
[ "$(cat "$M/sched/mode")" = auto ] || fail "mode changed by a bad write"
(echo -3 > "$M/sched/cooldown") 2>/dev/null && fail "negative cooldown accepted"
echo 30 > "$M/sched/cooldown" && [ "$(cat "$M/sched/cooldown")" = 30 ] || fail "cooldown"
ok "sched/mode auto|manual|dry-run, foo rejected; cooldown"

# --- modes and permissions ---------------------------------------------------
[ "$(stat -c %a "$M/README")" = 444 ] || fail "README mode"
[ "$(stat -c %a "$M/policy")" = 644 ] || fail "policy mode"
[ "$(stat -c %a "$M/rules/t.rule")" = 644 ] || fail "rule mode"
[ "$(stat -c %a "$M/sched/plan")" = 444 ] || fail "plan mode"
[ "$(stat -c %a "$M/events")" = 444 ] || fail "events mode"
ok "ls -l modes"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NOBODY cat "$M/rules/t.rule" >/dev/null || fail "nobody cannot read"
err=$($NOBODY sh -c "echo x > '$M/rules/t.rule'" 2>&1)
echo "$err" | grep -q "Permission denied" || fail "nobody writing a rule: '$err'"
err=$($NOBODY sh -c "echo 'migrate_when: 0' > '$M/policy'" 2>&1)
echo "$err" | grep -q "Permission denied" || fail "nobody writing policy: '$err'"
ok "non-root reads, gets EACCES writing"

# --- events: blocking read, poll, interrupt ---------------------------------
timeout 1 cat "$M/events" > "$T/ev1" ; rc=$?
[ $rc = 124 ] || fail "cat events did not block (rc $rc)"
ok "cat events blocks (and Ctrl-C/timeout ends it)"
cat "$M/events" > "$T/ev2" &
EVPID=$!; BGPIDS="$BGPIDS $EVPID"
sleep 0.3
echo 17 > "$M/sched/min_age"
sleep 0.5
grep -q "sched-changed name=min_age value=17" "$T/ev2" || fail "blocked reader not woken"
kill $EVPID
ok "a blocked events reader wakes on a new event"
if [ -x "$ROOT/build/tools/poll_events" ]; then
    ( sleep 0.5; echo 18 > "$M/sched/min_age" ) &
    out=$("$ROOT/build/tools/poll_events" "$M/events" 3000) || fail "poll: $out"
    echo "$out" | grep -q "min_age value=18" || fail "poll read: $out"
    ok "poll(2) on events"
fi

# --- inotify -------------------------------------------------------------------
inotifywait -q -t 5 -e close_write -e modify "$M/rules/" > "$T/inw" 2>&1 &
IW=$!; BGPIDS="$BGPIDS $IW"
sleep 0.5
printf '%s\n' "$VALID" | sed 's/91/94/g' > "$M/rules/t.rule"
wait $IW
grep -qE "MODIFY|CLOSE_WRITE" "$T/inw" || fail "inotifywait saw: $(cat "$T/inw")"
ok "inotifywait sees MODIFY/CLOSE_WRITE in rules/"

# --- hosts: drain on an unknown host, rmdir ---------------------------------
err=$(bwrite "$M/hosts/nohost/state" drain)
echo "$err" | grep -qE "No such file" || fail "drain unknown host: '$err'"
ok "unknown host: ENOENT"

# --- SIGTERM, kill -9 and a stale mount ------------------------------------
stop_fs
grep -q "$M" /proc/mounts && fail "still mounted after SIGTERM"
ok "SIGTERM unmounts"
start_fs
kill -9 "$FSPID"; wait "$FSPID" 2>/dev/null; FSPID=""
stat "$M" >/dev/null 2>&1 && fail "expected a stale mount after kill -9"
start_fs
[ -f "$M/README" ] || fail "restart on a stale mount"
ok "kill -9, restart recovers the stale mount"
"$FS" "$M" -f >/dev/null 2>"$T/second" && fail "second reschedfs mounted over a live one"
grep -q "already mounted" "$T/second" || fail "second instance said: $(cat "$T/second")"
ok "refuses a mountpoint a live reschedfs holds"
stop_fs

# --- --state persistence -------------------------------------------------------
start_fs --state "$S"
printf '%s\n' "$VALID" | sed 's/91/95/g' > "$M/rules/kept.rule" || fail "state: rule"
rm "$M/rules/paper.rule" 2>/dev/null
cp "$ROOT/examples/policies/policy2.policy" "$M/policy" || fail "state: policy"
echo dry-run > "$M/sched/mode" && echo 7 > "$M/sched/max_per_hour" || fail "state: sched"
before=$(ls "$M/rules" | tr '\n' ' ')
stop_fs
start_fs --state "$S"
[ "$(ls "$M/rules" | tr '\n' ' ')" = "$before" ] || fail "rules after restart: $(ls "$M/rules")"
grep -q "rl_name: t95" "$M/rules/kept.rule" || fail "kept.rule content"
cmp -s "$ROOT/examples/policies/policy2.policy" "$M/policy" || fail "policy after restart"
[ "$(cat "$M/sched/mode")" = dry-run ] || fail "mode after restart"
[ "$(cat "$M/sched/max_per_hour")" = 7 ] || fail "max_per_hour after restart"
ok "--state: rules, policy and sched survive a restart"
stop_fs

# --- fusermount3 -u ends the daemon ----------------------------------------------
start_fs
fusermount3 -u "$M" || fail "fusermount3 -u"
i=0
while kill -0 "$FSPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$FSPID" 2>/dev/null && fail "reschedfs still running after fusermount3 -u"
wait "$FSPID" 2>/dev/null; FSPID=""
ok "fusermount3 -u ends reschedfs"
echo "all fs-tree checks passed"
