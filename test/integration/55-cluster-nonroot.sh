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
echo "note: procs/<id>/migrate is not covered here: the agent's commander (jobs) is not built yet"
echo "PASS"
