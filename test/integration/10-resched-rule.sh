#!/bin/sh
# 10-resched-rule.sh — bin/resched-rule check/eval on the default rule set,
# the paper's figures and policies, the bad-file corpus and usage errors;
# and the default rule scripts on this machine.
set -u
cd "$(dirname "$0")/../.." || exit 1
RR=$PWD/bin/resched-rule
[ -x "$RR" ] || { echo "bin/resched-rule not built"; exit 77; }
tmp=$(mktemp -d "/tmp/resched-it-rule-$$-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_rc RC CMD...: run CMD, keep stdout/stderr in $tmp/out, $tmp/err
expect_rc() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" = "$want" ] || { fail "exit $got (want $want): $*"; sed 's/^/    /' "$tmp/err"; }
}
expect_out() {   # expect_out FILE TEXT: FILE equals TEXT
    printf '%s\n' "$2" | cmp -s - "$1" || { fail "output differs"; diff "$1" - <<EOF2
$2
EOF2
    }
}

# -- valid sets --------------------------------------------------------------
expect_rc 0 "$RR" check rules/default/paper.rule rules/default/builtin.rule
expect_rc 0 "$RR" check rules/default/*.rule
expect_rc 0 "$RR" check test/fixtures/paper/fig3.rule test/fixtures/paper/fig4.rule
expect_rc 0 "$RR" check examples/policies/policy1.policy examples/policies/policy2.policy examples/policies/policy3.policy
# fig4 alone references rules 1 and 2 of fig3: cross-file checks see that
expect_rc 1 "$RR" check test/fixtures/paper/fig4.rule
grep -q "fig4.rule:28: unknown rule reference near 'r1'" "$tmp/err" || fail "fig4 alone: $(cat "$tmp/err")"

# -- eval: the paper's verdicts and Figure 4 ---------------------------------
expect_rc 0 "$RR" eval test/fixtures/paper/fig3.rule test/fixtures/paper/fig4.rule \
    --value 1=47 --value ntStatIpv4=950 --metric load1=3 --metric mem_avail_pct=50
expect_out "$tmp/out" "rules/processorStatus busy 47
rules/ntStatIpv4 overloaded 950
rules/memAvail free 50
rules/load busy 3
rules/cmp_rule busy 0.7
state busy 0.7"
expect_rc 0 "$RR" eval test/fixtures/paper/fig3.rule --value processorStatus=40 --value 2=60
expect_out "$tmp/out" "rules/processorStatus overloaded 40
rules/ntStatIpv4 free 60
state overloaded 2"
expect_rc 0 "$RR" eval test/fixtures/paper/fig3.rule --value processorStatus=60
expect_out "$tmp/out" "rules/processorStatus free 60
rules/ntStatIpv4 error -
state free 0"

# -- eval with a policy (the paper's Policy 3) ---------------------------------
expect_rc 0 "$RR" eval examples/policies/policy3.policy --metric load1=2.7 --metric procs=88 \
    --metric net_bps=0
expect_out "$tmp/out" "state free 0
migrate_when 1 (load1=2.7 > 2 | procs=88 > 150) & net_bps=0 <= 5M -> 1
accept_when 0 load1=2.7 < 1 & procs=88 < 100 & net_bps=0 <= 3M -> 0"
expect_rc 0 "$RR" eval examples/policies/policy1.policy rules/default/builtin.rule \
    --metric load1=5 --metric mem_avail_pct=50 --metric disk_avail_pct=50 --metric cpu_idle=2
expect_out "$tmp/out" "rules/load overloaded 5
rules/memory free 50
rules/disk free 50
rules/idle overloaded 2
rules/host overloaded 2
state overloaded 2
migrate_when 0 0 -> 0
accept_when 0 state=overloaded == free -> 0"

# -- every bad file is rejected with its expected messages --------------------
n=0
for f in test/rules-bad/*.rule test/rules-bad/*.policy; do
    base=$(basename "$f"); exp=test/rules-bad/${base%.*}.expect
    n=$((n + 1))
    (cd test/rules-bad && "$RR" check "$base") >"$tmp/out" 2>"$tmp/err"
    [ $? = 1 ] || { fail "$base: not rejected with exit 1"; continue; }
    while IFS= read -r line; do
        [ -n "$line" ] && ! grep -qF -- "$line" "$tmp/err" && fail "$base: missing '$line'"
    done <"$exp"
done
[ $n -ge 40 ] || fail "only $n bad files"
echo "bad corpus: $n files checked"

# -- size limit, usage ----------------------------------------------------------
head -c 70000 /dev/zero | tr '\0' '#' >"$tmp/big.rule"
expect_rc 1 "$RR" check "$tmp/big.rule"
grep -q "big.rule:1: file too large" "$tmp/err" || fail "big file: $(cat "$tmp/err")"
expect_rc 1 "$RR" check "$tmp/does-not-exist.rule"
grep -q "does-not-exist.rule:1: cannot read" "$tmp/err" || fail "missing file message"
expect_rc 2 "$RR"
expect_rc 2 "$RR" frobnicate x.rule
expect_rc 2 "$RR" check
expect_rc 2 "$RR" eval rules/default/paper.rule --value
expect_rc 2 "$RR" eval rules/default/paper.rule --metric nosuch=1
expect_rc 2 "$RR" eval rules/default/paper.rule --value nosuchrule=1
expect_rc 2 "$RR" check --bogus rules/default/paper.rule
grep -q "^resched-rule: " "$tmp/err" || fail "usage errors say resched-rule: ..."
expect_rc 0 "$RR" --help
grep -q "usage: resched-rule check" "$tmp/out" || fail "--help text"

# -- the default scripts on this machine ---------------------------------------
v=$(RESCHED_IDLE_INTERVAL=0.2 rules/default/scripts/processorStatus.sh | tail -1)
echo "$v" | grep -Eq '^[0-9]+(\.[0-9])?$' || fail "processorStatus.sh printed '$v'"
v=$(rules/default/scripts/ntStatIpv4.sh ESTABLISHED | tail -1)
echo "$v" | grep -Eq '^[0-9]+$' || fail "ntStatIpv4.sh printed '$v'"
rules/default/scripts/ntStatIpv4.sh NOSTATE >/dev/null 2>&1 && fail "ntStatIpv4.sh accepted a bad state"

[ $fails = 0 ] && echo "resched-rule: all checks passed"
exit $fails
