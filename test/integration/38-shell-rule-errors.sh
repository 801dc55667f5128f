#!/bin/sh
# 38-shell-rule-errors.sh — bash's builtin echo into rules/ and policy: an
# error no later line can repair (a bad value for a key, an unknown key, a
# bad operator, a duplicate key) fails the write(2) that carries it, so
# bash prints it and returns 1, and nothing is created or changed; an
# incomplete text (a record still missing keys, an expression continued on
# the next line) is not refused early, and is refused at close.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
FS=$ROOT/bin/reschedfs
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mounts)"; exit 77; }
[ -e /dev/fuse ] || { echo "needs /dev/fuse"; exit 77; }
[ -x "$FS" ] || { echo "bin/reschedfs not built"; exit 77; }
command -v bash >/dev/null || { echo "needs bash"; exit 77; }

T=$(mktemp -d "/tmp/resched-shellerr-$$-XXXXXX")
M=$T/mnt
mkdir -p "$M"
FSPID=""
cleanup() {
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    fusermount3 -uz "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; tail -20 "$T/fs.log"; exit 1; }
ok() { echo "ok - $*"; }
"$FS" "$M" -f --listen "127.0.0.1:$((10000 + ($$ + 13) % 22000))" >"$T/fs.log" 2>&1 &
FSPID=$!
i=0
while [ $i -lt 50 ] && [ ! -f "$M/README" ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$M/README" ] || fail "reschedfs did not mount"

# becho TEXT FILE: bash's builtin echo (one write(2) per line); prints
# bash's message, returns bash's status
becho() { bash -c 'echo "$1" > "$2"' _ "$1" "$2" 2>&1; }
# refused_now TEXT FILE: echo fails with EINVAL and FILE does not exist
refused_now() {
    out=$(becho "$1" "$M/rules/$2") && fail "echo '$1' > $2 returned 0"
    echo "$out" | grep -q "Invalid argument" || fail "'$1': $out"
    [ -e "$M/rules/$2" ] && fail "$2 exists after '$1'"
    return 0
}
HEAD='rl_number: 51
rl_name: sh_a
rl_type: simple
rl_script: @load1'
refused_now 'rl_number: one' x1.rule
refused_now 'rl_number: 0' x2.rule
refused_now 'rl_numbr: 5' x3.rule
refused_now "$HEAD
rl_operator: =<" x4.rule
refused_now "$HEAD
rl_operator: >
rl_busy: lots" x5.rule
refused_now 'rl_number: 5
rl_number: 6' x6.rule
refused_now 'rl_number: 5
rl_name: sh x' x7.rule
refused_now 'rl_type: medium' x8.rule
refused_now 'rl_number: one' x1.rule      # the same name again at once
ok "unrepairable errors fail the write bash's echo makes"

# repairable: incomplete texts are not refused at write; close refuses them
becho 'rl_number: 52' "$M/rules/y.rule" >/dev/null || fail "an incomplete record was refused at write"
[ -e "$M/rules/y.rule" ] && fail "an incomplete rule was applied"
becho 'rl_number:' "$M/rules/y2.rule" >/dev/null || fail "an empty last value was refused at write"
printf 'rl_number: 53\nrl_name: sh_c\nrl_type: complex\nrl_ruleNo: 51\nrl_script: (r51 |\n  r51)\n' > "$T/c.rule"
becho "$HEAD
rl_operator: >
rl_busy: 2
rl_overLd: 3" "$M/rules/a.rule" || fail "a valid rule was refused"
bash -c 'while IFS= read -r l; do echo "$l"; done < "$1" > "$2"' _ "$T/c.rule" "$M/rules/c.rule" || fail "an expression continued on the next line was refused"
grep -q 'r51)' "$M/rules/c.rule" || fail "c.rule: $(cat "$M/rules/c.rule")"
ok "incomplete texts and continued expressions wait for close"

out=$(becho 'selekt: oldest' "$M/policy") && fail "policy with an unknown key returned 0"
echo "$out" | grep -q "Invalid argument" || fail "policy: $out"
out=$(becho 'select: sideways' "$M/policy") && fail "policy with a bad select returned 0"
[ -z "$(cat "$M/policy")" ] || fail "policy changed: $(cat "$M/policy")"
becho 'migrate_when: load1 > 2 &' "$M/policy" >/dev/null || fail "an open expression was refused at write"
ok "policy: unknown key and bad value fail at write"
timeout 2 cat "$M/events" > "$T/events"
grep -q 'rule-rejected file=x1.rule uid=0 reason=' "$T/events" || fail "no rule-rejected event"
ok "refusals say why in events"
exit 0
