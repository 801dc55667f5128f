#!/bin/sh
# 65-preauth-bounds.sh — before a peer proves its key it gets little: a
# slow greeting is closed after the handshake timeout, an oversized one at
# once, and a flood of 3,000 connections that never authenticate (as
# nobody, each holding a 512-byte frame short of its end) costs the registry a bounded amount of
# memory while a real agent still joins.
TNAME=preauth-bounds
. "$(dirname "$0")/../lib/trusttest.sh"
command -v bash >/dev/null || { echo "needs bash"; exit 77; }
LG=$ROOT/build/tools/loadgen
[ -x "$LG" ] || { echo "build/tools/loadgen not built"; exit 77; }

start_fs --key "$KEY"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$FSPID/status"; }

# slow: half a greeting, then nothing — closed by the handshake timer (5 s)
t0=$(date +%s)
as_nobody bash -c "exec 3<>/dev/tcp/${REG%:*}/${REG#*:}; printf 'RESCHED/1 ag' >&3; timeout 12 cat <&3 >/dev/null" ||
    fail "the slow connection was not closed within 12 s"
secs=$(( $(date +%s) - t0 ))
[ $secs -ge 4 ] && [ $secs -le 8 ] || fail "slow connection closed after ${secs}s (want ~5)"
grep -q "handshake timed out" "$T/fs.log" || fail "no 'handshake timed out' in the log"
ok "a slow greeting is closed after ${secs}s"

# oversized: 8 KiB without a newline
out=$(as_nobody bash -c "exec 3<>/dev/tcp/${REG%:*}/${REG#*:}; head -c 8192 /dev/zero | tr '\\0' a >&3; timeout 5 cat <&3" 2>&1)
echo "$out" | grep -q "ERROR .*greeting\|ERROR not a resched peer" || fail "no ERROR line for an oversized greeting: $out"
ok "an oversized greeting is refused at once: $(echo "$out" | grep ERROR | head -1)"

# the flood
before=$(rss)
as_nobody "$LG" --attack hold --registry "$REG" -n 3000 --big --duration 10 > "$T/hold.out" 2>&1 &
HOLD=$!
TT_PIDS="$TT_PIDS $HOLD"
sleep 4
peak=$(rss)
out=$(printf 'hello name=real interval=1\n@wait welcome\n' | "$FA" --registry "$REG" --key "$(hkey real)" --wait 10 2>&1) ||
    fail "a real agent could not join during the flood: $(echo "$out" | tail -2)"
ok "a real agent joined during the flood"
for i in 1 2 3; do sleep 1; r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; done
wait "$HOLD" || fail "loadgen --attack hold failed: $(cat "$T/hold.out")"
grep -q "dropped: 1024 were awaiting authentication" "$T/fs.log" ||
    fail "the pending cap never dropped anyone"
grow=$(( (peak - before) / 1024 ))
echo "registry RSS: ${before} kB before, ${peak} kB at the peak (+${grow} MiB); loadgen: $(cat "$T/hold.out")"
[ $grow -le 64 ] || fail "the flood cost the registry ${grow} MiB (at most 64)"
ok "3,000 unauthenticated connections cost ${grow} MiB"
[ ! -e "$M/hosts/attack" ] && [ "$(ls "$M/hosts" | wc -l)" -eq 1 ] || fail "hosts: $(ls "$M/hosts")"
echo PASS
