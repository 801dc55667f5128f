#!/bin/sh
# 56-durable-writes.sh — with --state on a small tmpfs that is full, writes
# to sched/cooldown, policy, a new rule and a changed rule fail with ENOSPC
# at the write(2) bash's echo checks, the old values stay in force, and
# after a restart the old values are what is on disk; mv a.rule b.rule
# onto an existing rule replaces it (rename(2) needs no space) and a
# restart shows the replacement; leftover temporary files are removed at
# start.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
FS=$ROOT/bin/reschedfs
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mounts, tmpfs)"; exit 77; }
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
[ -x "$FS" ] || { echo "bin/reschedfs not built"; exit 77; }
command -v bash >/dev/null || { echo "needs bash"; exit 77; }

T=$(mktemp -d "/tmp/resched-durable-$$-XXXXXX")
M=$T/mnt
S=$T/state
mkdir -p "$M" "$S"
FSPID=""
mount -t tmpfs -o size=256k "resched-durable-$$" "$S" || { echo "cannot mount tmpfs"; exit 77; }

cleanup() {
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    fusermount3 -uz "$M" 2>/dev/null
    cp "$T/fs.log" /tmp/durable-last.log 2>/dev/null; umount "$S" 2>/dev/null || umount -l "$S" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; tail -20 "$T/fs.log"; exit 1; }
ok() { echo "ok - $*"; }
start_fs() {
    "$FS" "$M" -f --listen "127.0.0.1:$((10000 + ($$ + 11) % 22000))" --state "$S" >>"$T/fs.log" 2>&1 &
    FSPID=$!
    i=0
    while [ $i -lt 50 ]; do [ -f "$M/README" ] && return 0; sleep 0.1; i=$((i + 1)); done
    fail "reschedfs did not mount"
}
stop_fs() {
    kill "$FSPID"
    i=0
    while kill -0 "$FSPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    wait "$FSPID" 2>/dev/null
    FSPID=""
}
rule() { # rule NUMBER NAME BUSY
    printf 'rl_number: %s\nrl_name: %s\nrl_type: simple\nrl_script: @load1\nrl_operator: >\nrl_busy: %s\nrl_overLd: 100\n' "$1" "$2" "$3"
}
# bash's builtin echo, as a user types it: prints bash's error
becho() { bash -c 'echo "$1" > "$2"' _ "$1" "$2" 2>&1; }

# leftover temporary files of a crashed write, old and new style
mkdir -p "$S/rules"
echo junk > "$S/.sched.tmp.AbC123"
echo junk > "$S/policy.tmp.4242"
echo junk > "$S/rules/.a.rule.tmp.xYz789"
echo junk > "$S/rules/b.rule.tmp.77"
start_fs
left=$(ls -A "$S" "$S/rules" | grep -c '\.tmp\.')
[ "$left" = 0 ] || fail "temporary files left at start: $(ls -A "$S" "$S/rules")"
ok "leftover temporary files are removed at start"

echo 30 > "$M/sched/cooldown" || fail "cooldown 30"
printf 'select: oldest\n' > "$M/policy" || fail "policy"
rule 71 dur_a 5 > "$M/rules/a.rule" || fail "a.rule"
rule 72 dur_b 6 > "$M/rules/b.rule" || fail "b.rule"
A0=$(cat "$M/rules/a.rule"); B0=$(cat "$M/rules/b.rule")

dd if=/dev/zero of="$S/fill" bs=4k 2>/dev/null
[ "$(df -k "$S" | awk 'NR==2 {print $4}')" = 0 ] || fail "tmpfs not full: $(df -k "$S")"

out=$(becho 99 "$M/sched/cooldown") && fail "cooldown write on a full disk succeeded"
echo "$out" | grep -q "No space left" || fail "cooldown: wanted ENOSPC, got: $out"
[ "$(cat "$M/sched/cooldown")" = 30 ] || fail "cooldown now $(cat "$M/sched/cooldown")"
ok "sched/cooldown on a full disk: ENOSPC at write, old value kept"

out=$(becho 'select: latest_completion' "$M/policy") && fail "policy write on a full disk succeeded"
echo "$out" | grep -q "No space left" || fail "policy: wanted ENOSPC, got: $out"
[ "$(cat "$M/policy")" = "select: oldest" ] || fail "policy now $(cat "$M/policy")"
ok "policy on a full disk: ENOSPC at write, old policy kept"

out=$(becho "$(rule 73 dur_c 7)" "$M/rules/c.rule") && fail "new rule on a full disk succeeded"
echo "$out" | grep -q "No space left" || fail "new rule: wanted ENOSPC, got: $out"
[ -e "$M/rules/c.rule" ] && fail "c.rule exists after ENOSPC"
# cat and cp see it too (close errors included)
rule 73 dur_c 7 > "$T/c.rule"
cp "$T/c.rule" "$M/rules/c.rule" 2>"$T/cp.err" && fail "cp of a new rule on a full disk succeeded"
grep -q "No space left" "$T/cp.err" || fail "cp: $(cat "$T/cp.err")"
[ -e "$M/rules/c.rule" ] && fail "c.rule exists after cp's ENOSPC"
ok "a new rule on a full disk: ENOSPC, no file"

out=$(becho "$(rule 71 dur_a 9)" "$M/rules/a.rule") && fail "changed rule on a full disk succeeded"
echo "$out" | grep -q "No space left" || fail "changed rule: wanted ENOSPC, got: $out"
[ "$(cat "$M/rules/a.rule")" = "$A0" ] || fail "a.rule changed: $(cat "$M/rules/a.rule")"
ok "a changed rule on a full disk: ENOSPC, old text kept"

# a bad a.rule is refused by mv: b.rule holds rule 72, which z.rule uses;
# replacing b.rule with a.rule would leave z.rule's reference dangling
rm -f "$S/fill"
printf 'rl_number: 79\nrl_name: dur_z\nrl_type: complex\nrl_ruleNo: 72\nrl_script: r72\n' > "$M/rules/z.rule" || fail "z.rule"
dd if=/dev/zero of="$S/fill" bs=4k 2>/dev/null
mv "$M/rules/a.rule" "$M/rules/b.rule" 2>"$T/mv.err" && fail "mv leaving a dangling reference succeeded"
# mv words EINVAL from rename(2) as "a subdirectory of itself"
grep -qE "Invalid argument|subdirectory of itself" "$T/mv.err" || fail "mv: $(cat "$T/mv.err")"
[ "$(cat "$M/rules/a.rule")" = "$A0" ] && [ "$(cat "$M/rules/b.rule")" = "$B0" ] || fail "mv refused but files changed"
rm "$M/rules/z.rule" || fail "rm z.rule on a full disk"
mv "$M/rules/a.rule" "$M/rules/b.rule" 2>"$T/mv.err" || fail "mv a.rule b.rule: $(cat "$T/mv.err")"
[ -e "$M/rules/a.rule" ] && fail "a.rule still there after mv"
[ "$(cat "$M/rules/b.rule")" = "$A0" ] || fail "b.rule after mv: $(cat "$M/rules/b.rule")"
ok "mv a.rule b.rule onto an existing rule: checked, then replaced"

stop_fs
rm -f "$S/fill"
ls -A "$S" "$S/rules" | grep -q '\.tmp\.' && fail "temporary files left behind: $(ls -A "$S" "$S/rules")"
start_fs
[ "$(cat "$M/sched/cooldown")" = 30 ] || fail "after restart cooldown is $(cat "$M/sched/cooldown")"
[ "$(cat "$M/policy")" = "select: oldest" ] || fail "after restart policy is $(cat "$M/policy")"
[ -e "$M/rules/c.rule" ] && fail "after restart c.rule exists"
[ -e "$M/rules/a.rule" ] && fail "after restart a.rule is back"
[ -e "$M/rules/z.rule" ] && fail "after restart z.rule is back"
[ "$(cat "$M/rules/b.rule")" = "$A0" ] || fail "after restart b.rule: $(cat "$M/rules/b.rule")"
ok "after a restart: the old values, the mv's result, no failed rule"
exit 0
