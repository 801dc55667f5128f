#!/bin/sh
# 52-cluster-softstate.sh — an agent killed with SIGKILL turns unavailable within 3 intervals + 1 s, comes back without a duplicate; inotify sees it; a stopped agent's silent connection is closed at lease expiry and it reconnects.
TNAME=cluster-softstate
. "$(dirname "$0")/../lib/regtest.sh"

start_fs
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
for h in h1 h2 h3; do wait_until 10 host_up $h || fail "$h did not come up"; done
ok "three hosts up"
inotifywait -m -e modify,close_write "$M/hosts/h2/state" >"$T/inotify.log" 2>&1 &
cluster_track $!
wait_until 5 grep -q "Watches established" "$T/inotify.log" || fail "inotifywait did not start"
eval "pid=\$AGENT_h2"
t0=$(now_ms)
kill -9 "$pid" || fail "cannot kill agent h2 ($pid)"
wait_until 8 grep -qx unavailable "$M/hosts/h2/state" || fail "h2 never became unavailable"
dt=$(( $(now_ms) - t0 ))
echo "failure detection: SIGKILL -> unavailable in ${dt} ms (interval 1 s, limit 4000 ms)"
[ $dt -le 4000 ] || fail "detection took $dt ms"
awk -v l="$(cat "$M/hosts/h2/lease")" 'BEGIN { exit !(l == 0) }' || fail "lease of an unavailable host: $(cat "$M/hosts/h2/lease")"
for h in h1 h3; do host_up $h || fail "$h went down with h2"; done
ok "killed agent unavailable within 3 intervals + 1 s; others unaffected"
start_agent h2
wait_until 10 host_up h2 || fail "h2 did not come back"
[ "$(ls "$M/hosts" | grep -c '^h2$')" -eq 1 ] || fail "duplicate h2: $(ls "$M/hosts")"
[ "$(ls "$M/hosts" | wc -l)" -eq 3 ] || fail "hosts/: $(ls "$M/hosts")"
ok "restarted agent is back, no duplicate directory"
wait_until 5 sh -c "[ \$(grep -c MODIFY '$T/inotify.log') -ge 2 ]" || fail "inotify saw: $(cat "$T/inotify.log")"
ok "inotifywait on h2/state saw the changes: $(grep -c MODIFY "$T/inotify.log") MODIFY"
# an agent that stops sending on an open connection (SIGSTOP): once its
# lease runs out the registry closes that connection, and the agent,
# running again, connects anew and is back
eval "pid=\$AGENT_h3"
kill -STOP "$pid"
wait_until 8 grep -qx unavailable "$M/hosts/h3/state" || { kill -CONT "$pid"; fail "a stopped h3 never became unavailable"; }
wait_until 3 grep -q "h3: silent for 3 intervals on an open connection: closing it" "$T/fs.log" ||
    { kill -CONT "$pid"; fail "the registry kept h3's silent connection"; }
kill -CONT "$pid"
wait_until 10 host_up h3 || fail "h3 did not come back after SIGCONT"
grep -q "lost the registry" "$T/agent-h3.log" || fail "h3's agent did not notice its connection closed"
ok "a silent connection is closed at lease expiry; the agent reconnects ($(grep 'lost the registry' "$T/agent-h3.log" | tail -1))"
echo "PASS"
