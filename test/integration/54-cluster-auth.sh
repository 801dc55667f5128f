#!/bin/sh
# 54-cluster-auth.sh — wrong key, no key, replayed and oversized frames, random bytes: each rejected and logged; other agents keep being served.
TNAME=cluster-auth
. "$(dirname "$0")/../lib/regtest.sh"

LG=$ROOT/build/tools/loadgen
[ -x "$LG" ] || { echo "build/tools/loadgen not built"; exit 77; }
start_fs
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
for h in h1 h2; do wait_until 10 host_up $h || fail "$h did not come up"; done
ok "two good agents up"
cluster_add_host bad
head -c 32 /dev/urandom > "$T/wrong.key"; chmod 600 "$T/wrong.key"
# fresh(): the good hosts' seen stays below their lease (3 intervals)
fresh() {
    for h in h1 h2; do
        s=$(cat "$M/hosts/$h/seen")
        awk -v s="$s" 'BEGIN { exit !(s < 3) }' || fail "$h seen=$s (not below the 3 s lease) after $1"
    done
}
expect_log() { wait_until 5 grep -q "$1" "$T/fs.log" || fail "no log line for $2 ('$1')"; ok "$2 rejected: $(grep "$1" "$T/fs.log" | tail -1)"; fresh "$2"; }

start_agent bad --key "$T/wrong.key"
expect_log "bad proof\|bad MAC on frame 0" "wrong key"
kill "$AGENT_bad"
start_agent bad --interval 1     # options without --key: no key
expect_log "offers auth=none" "no key"
kill "$AGENT_bad"
cluster_exec bad "$LG" --attack replay --registry "$REG" --key "$KEY" || fail "replay not rejected"
expect_log "replayed or reordered" "replayed frame"
cluster_exec bad "$LG" --attack oversize --registry "$REG" --key "$KEY" || fail "oversize not rejected"
expect_log "frame length\|too large\|over" "oversized frame"
cluster_exec bad "$LG" --attack garbage --registry "$REG" || fail "garbage not rejected"
expect_log "greeting" "random bytes"
cluster_exec bad sh -c "head -c 300 /dev/urandom > /dev/tcp/${REG%:*}/${REG#*:}" 2>/dev/null || \
    cluster_exec bad bash -c "head -c 300 /dev/urandom > /dev/tcp/${REG%:*}/${REG#*:}"
sleep 1.5
fresh "random bytes over /dev/tcp"
[ ! -e "$M/hosts/bad" ] || fail "a rejected peer appeared as a host"
ok "registry kept serving h1 and h2 throughout"
echo "PASS"
