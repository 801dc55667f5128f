#!/bin/sh
# 54-cluster-auth.sh — per-host credentials: another cluster's host key, the cluster key itself (without --shared-key), another host's key, no key, replayed and oversized frames, random bytes: each rejected and logged; other agents keep being served.  Then --shared-key lets the cluster key in.
TNAME=cluster-auth
. "$(dirname "$0")/../lib/regtest.sh"

LG=$ROOT/build/tools/loadgen
[ -x "$LG" ] || { echo "build/tools/loadgen not built"; exit 77; }
start_fs
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
for h in h1 h2; do wait_until 10 host_up $h || fail "$h did not come up"; done
ok "two good agents up"
cluster_add_host bad
mkdir "$T/other"
"$ROOT/bin/resched-key" new > "$T/other/cluster.key"
# fresh(): the good hosts' seen stays below their lease (3 intervals)
fresh() {
    for h in h1 h2; do
        s=$(cat "$M/hosts/$h/seen")
        awk -v s="$s" 'BEGIN { exit !(s < 3) }' || fail "$h seen=$s (not below the 3 s lease) after $1"
    done
}
expect_log() { wait_until 5 grep -q "$1" "$T/fs.log" || fail "no log line for $2 ('$1')"; ok "$2 rejected: $(grep "$1" "$T/fs.log" | tail -1)"; fresh "$2"; }

start_agent bad --key "$(cluster_host_key "$T/other/cluster.key" bad)"
expect_log "bad proof\|bad MAC on frame 0" "another cluster's key for host bad"
kill "$AGENT_bad"
start_agent bad --key "$KEY"
expect_log "names no host" "the cluster key itself (no --shared-key)"
kill "$AGENT_bad"
# another host's key: the agent itself refuses to start
out=$(cluster_exec bad "$ROOT/bin/resched-agent" --registry "$REG" --name bad \
      --key "$(cluster_host_key "$KEY" h1)" --run "$T/run-bad2" 2>&1) && fail "an agent ran with h1's key as bad"
echo "$out" | grep -q "is host h1's key, but this agent is bad" || fail "agent with h1's key: $out"
ok "an agent named bad will not use h1's key: $out"
start_agent bad --interval 1     # options without --key: no key
expect_log "offers auth=none" "no key"
kill "$AGENT_bad"
cluster_exec bad "$LG" --attack replay --registry "$REG" --key "$(cluster_host_key "$KEY" bad)" || fail "replay not rejected"
expect_log "replayed or reordered" "replayed frame"
cluster_exec bad "$LG" --attack oversize --registry "$REG" --key "$(cluster_host_key "$KEY" bad)" || fail "oversize not rejected"
expect_log "frame length\|too large\|over" "oversized frame"
cluster_exec bad "$LG" --attack garbage --registry "$REG" || fail "garbage not rejected"
expect_log "greeting" "random bytes"
cluster_exec bad sh -c "head -c 300 /dev/urandom > /dev/tcp/${REG%:*}/${REG#*:}" 2>/dev/null || \
    cluster_exec bad bash -c "head -c 300 /dev/urandom > /dev/tcp/${REG%:*}/${REG#*:}"
sleep 1.5
fresh "random bytes over /dev/tcp"
# only the replay and oversize peers proved a key (bad's): nothing else joined
[ "$(ls "$M/hosts" | tr '\n' ' ')" = "bad h1 h2 " ] || fail "hosts after the attacks: $(ls "$M/hosts")"
ok "registry kept serving h1 and h2 throughout"
# a second agent proving h1's key (from another namespace) replaces the
# first, which is told so and stops with status 2 (no restart loop)
eval "first=\$AGENT_h1"
cluster_bg bad "$T/agent-h1b.log" "$ROOT/bin/resched-agent" --registry "$REG" --name h1 \
    --interval 1 --key "$(cluster_host_key "$KEY" h1)" --run "$T/run-h1b"
wait_until 10 sh -c "! kill -0 $first" || fail "the replaced h1 agent is still running"
wait "$first"; rc=$?
[ $rc -eq 2 ] || fail "the replaced agent exited $rc, not 2"
grep -q "ended our connection: replaced" "$T/agent-h1.log" || fail "the first h1 agent was not told: $(tail -2 "$T/agent-h1.log")"
wait_until 3 grep -q "agent-replaced host=h1" "$T/fs.log" || fail "no agent-replaced event"
wait_until 5 host_up h1 || fail "h1 not served by its new agent"
ok "a second h1 agent replaced the first: $(grep 'ended our connection' "$T/agent-h1.log")"
# --shared-key: the cluster key itself is accepted, for any name
kill "$FSPID"; wait "$FSPID" 2>/dev/null
fusermount3 -uz "$M" 2>/dev/null
start_fs --shared-key
cluster_add_host shared
start_agent shared --key "$KEY"
wait_until 10 host_up shared || fail "an agent with the cluster key did not join a --shared-key registry"
ok "with --shared-key the cluster key joins as any host"
echo "PASS"
