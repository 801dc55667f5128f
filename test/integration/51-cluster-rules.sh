#!/bin/sh
# 51-cluster-rules.sh — a rule edited through the mount changes every agent's verdicts within two intervals; a bad rule is refused with EINVAL.
TNAME=cluster-rules
. "$(dirname "$0")/../lib/regtest.sh"

start_fs
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
for h in h1 h2 h3; do
    wait_until 10 test -s "$M/hosts/$h/rules/load" || fail "$h: no verdicts"
done
ok "three hosts report verdicts"
# 1. a first version of the rule: thresholds nothing reaches -> free
printf 'rl_number: 91\nrl_name: lowload\nrl_type: simple\nrl_script: @load1\nrl_operator: >=\nrl_busy: 1000\nrl_overLd: 2000\n' \
    > "$M/rules/lowload.rule" || fail "writing a valid rule failed"
for h in h1 h2 h3; do
    wait_until 5 grep -q "^free " "$M/hosts/$h/rules/lowload" || fail "$h: lowload not free"
done
ok "new rule file reached every agent (free)"
# 2. edit it so every host is overloaded; time the change on each host
t0=$(now_ms)
echo 'rl_number: 91
rl_name: lowload
rl_type: simple
rl_script: @load1
rl_operator: >=
rl_busy: 0
rl_overLd: 0' > "$M/rules/lowload.rule" || fail "editing the rule failed"
for h in h1 h2 h3; do
    wait_until 5 grep -q "^overloaded " "$M/hosts/$h/rules/lowload" || fail "$h: verdict did not change"
done
dt=$(( $(now_ms) - t0 ))
echo "verdict change on all hosts after ${dt} ms (interval 1 s)"
# two intervals, plus one measurement: the default paper rule's script
# (processorStatus.sh) samples the CPU for 1 s, so an update is >= 1 s of work
[ $dt -le 4000 ] || fail "verdicts changed after $dt ms, more than two intervals + one measurement + 1 s"
ok "edited rule changed every host's verdict within two intervals"
# the host state follows once the rule set's stability window has passed
for h in h1 h2 h3; do
    wait_until 15 grep -qx overloaded "$M/hosts/$h/state" || fail "$h state $(cat "$M/hosts/$h/state")"
done
ok "hosts' state is overloaded"
# 3. a bad rule: the shell sees EINVAL, the old rule stays, events says why
before=$(cat "$M/rules/lowload.rule")
# bash, as users type it (dash's echo reports every write error as "I/O
# error"; the errno is EINVAL either way).  bash writes it one line per
# write(2): the bad operator line fails as soon as the next line arrives.
out=$(bash -c "echo 'rl_number: 91
rl_name: lowload
rl_type: simple
rl_script: @load1
rl_operator: =<>
rl_busy: 0
rl_overLd: 0' > '$M/rules/lowload.rule'" 2>&1) && fail "a bad rule write succeeded"
echo "$out" | grep -q "Invalid argument" || fail "bad write error is '$out', not EINVAL"
[ "$(cat "$M/rules/lowload.rule")" = "$before" ] || fail "the old rule did not stay"
timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
grep "rule-rejected" "$T/events.txt" | grep -q "lowload.rule" || fail "no rule-rejected event: $(tail -3 "$T/events.txt")"
echo "events: $(grep rule-rejected "$T/events.txt" | tail -1)"
sleep 2
for h in h1 h2 h3; do
    grep -q "^overloaded " "$M/hosts/$h/rules/lowload" || fail "$h lost the old rule"
done
ok "bad rule refused with EINVAL, old rule in force, events says why"
echo "PASS"
