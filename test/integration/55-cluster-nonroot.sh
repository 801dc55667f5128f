#!/bin/sh
# 55-cluster-nonroot.sh — a non-root user reads the tree and gets EACCES writing rules, policy or host state.
TNAME=cluster-nonroot
. "$(dirname "$0")/../lib/regtest.sh"

command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
start_fs -o allow_other
cluster_add_host h1; start_agent h1
wait_until 10 host_up h1 || fail "h1 did not come up"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NOBODY cat "$M/hosts/h1/state" >/dev/null || fail "nobody cannot read state"
$NOBODY cat "$M/hosts/h1/info" | grep -q "^arch " || fail "nobody cannot read info"
$NOBODY ls "$M/rules" >/dev/null || fail "nobody cannot list rules"
ok "a non-root user reads the tree"
r=$(ls "$M/rules" | head -1)
before=$(cat "$M/rules/$r")
out=$($NOBODY sh -c "echo junk > '$M/rules/$r'" 2>&1) && fail "nobody wrote a rule"
echo "$out" | grep -q "Permission denied" || fail "rule write error: $out"
[ "$(cat "$M/rules/$r")" = "$before" ] || fail "rule changed"
out=$($NOBODY sh -c "echo 'migrate_when: 1' > '$M/policy'" 2>&1) && fail "nobody wrote the policy"
echo "$out" | grep -q "Permission denied" || fail "policy write error: $out"
out=$($NOBODY sh -c "echo x > '$M/rules/new.rule'" 2>&1) && fail "nobody created a rule"
echo "$out" | grep -q "Permission denied" || fail "rule create error: $out"
out=$($NOBODY sh -c "echo drain > '$M/hosts/h1/state'" 2>&1) && fail "nobody drained h1"
ok "EACCES for rules, new rule, policy and host state"
# the daemon checks modes itself (no default_permissions): removing,
# renaming and forgetting are refused too, and access(2) tells the truth
$NOBODY rm -f "$M/rules/$r" 2>/dev/null && fail "nobody removed a rule"
[ -f "$M/rules/$r" ] || fail "rule gone after a refused rm"
$NOBODY mv "$M/rules/$r" "$M/rules/moved.rule" 2>/dev/null && fail "nobody renamed a rule"
$NOBODY rmdir "$M/hosts/h1" 2>/dev/null && fail "nobody forgot h1"
$NOBODY touch "$M/policy" 2>/dev/null && fail "nobody touched the policy"
$NOBODY test -w "$M/policy" && fail "test -w policy says writable for nobody"
$NOBODY test -r "$M/policy" || fail "test -r policy says unreadable for nobody"
test -w "$M/policy" || fail "test -w policy says not writable for root"
test -w "$M/README" && fail "test -w README says writable for root"
[ "$(stat -c %a "$M/rules/$r")" = 644 ] && [ "$(stat -c %U "$M/rules/$r")" = root ] ||
    fail "rule mode/owner: $(stat -c '%a %U' "$M/rules/$r")"
ok "rm, mv, rmdir, touch refused; test -w/-r match ls -l"
timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
grep -q "write-rejected path=rules/$r uid=65534 reason=.*permission denied" "$T/events.txt" ||
    fail "no write-rejected event for uid 65534: $(grep write-rejected "$T/events.txt" | head -3)"
ok "events names the refused writes with uid 65534"
echo "PASS"
