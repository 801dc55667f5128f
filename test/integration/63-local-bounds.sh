#!/bin/sh
# 63-local-bounds.sh — the agent's local socket against an unprivileged
# attacker (uid 65534, via setpriv), docs/LOCAL-PROTOCOL.md "Limits":
#   a. flood: nobody opens 4,200 connections; 64 are kept, the rest are
#      refused aloud (`refused reason=...`); a real job of root and a real
#      job of another uid (12345) still register, and a libmigrate process
#      of nobody itself is told why (the reason, in its stderr)
#   b. giant partial lines: 300 connections of 1 MiB - 1 byte, no newline, cost
#      the agent less than 48 MiB of VmRSS
#   c. a connection that never registers, and one that stops in the middle
#      of a line, are closed after the 10 s timeout, with a `refused` line
#   d. the prog lie: nobody sends `register prog=/bin/sh cwd=/` by hand; the
#      job is registered with its real executable (/proc/PID/exe), and a
#      move of it makes the destination start that, not /bin/sh
# Real reschedfs (--key), real agents in namespaces, build/tools/local_peer.
TNAME=local-bounds
. "$(dirname "$0")/../lib/migtest.sh"
PEER=$ROOT/build/tools/local_peer
[ -x "$PEER" ] || { echo "build/tools/local_peer not built"; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }
as_uid() { _u=$1; shift; setpriv --reuid="$_u" --regid="$_u" --clear-groups "$@"; }
# peer_bg NAME CMD...: local_peer as nobody in the background, PID in PEERPID
peer_bg() {
    _n=$1; shift
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PEER" "$@" >"$T/peer-$_n.out" 2>&1 &
    PEERPID=$!
    cluster_track $PEERPID
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
njobs() { ls "$M/procs" 2>/dev/null | wc -l; }

start_fs
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the jobs here run as root
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 2 ]" || fail "hosts did not appear"
SOCK=$T/run-h1/agent.sock
wait_until 5 test -S "$SOCK" || fail "no agent socket"
mkdir -p "$T/u12345" && chown 12345 "$T/u12345"
ok "registry and agents h1 h2 up"

part() { [ -z "${LB_ONLY:-}" ] || [ "$LB_ONLY" = "$1" ]; }  # LB_ONLY=b: run one part

if part a; then
# ---- a. flood ---------------------------------------------------------------
peer_bg flood "$SOCK" flood 4200
FLOOD=$PEERPID
wait_until 60 grep -q holding "$T/peer-flood.out" || fail "flood: $(cat "$T/peer-flood.out")"
ARGS="--levels 8 --trees 1 --iterations 400 --sleep-ms 50"
before=$(njobs)
cluster_bg h1 "$T/job-root.log" env RESCHED_RUN="$T/run-h1" "$TT" $ARGS --out "$T/root.sum"
wait_until 10 sh -c "[ \$(ls '$M/procs' | wc -l) -ge $((before + 1)) ]" || fail "root's job did not register during the flood"
cluster_bg h1 "$T/job-u12345.log" setpriv --reuid=12345 --regid=12345 --clear-groups \
    env RESCHED_RUN="$T/run-h1" "$TT" $ARGS --out "$T/u12345/sum"
wait_until 10 sh -c "[ \$(ls '$M/procs' | wc -l) -ge $((before + 2)) ]" || fail "uid 12345's job did not register during the flood"
grep -q "(uid 12345) registered" "$T/agent-h1.log" || fail "no registration of uid 12345 in the agent's log"
ok "during the flood a job of root and a job of uid 12345 registered"
grep -q '^open=64 refused=4136$' "$T/peer-flood.out" || fail "flood: $(head -2 "$T/peer-flood.out")"
grep -q '^first=refused reason=.*65534' "$T/peer-flood.out" || fail "flood refusal: $(cat "$T/peer-flood.out")"
ok "nobody's flood: $(head -1 "$T/peer-flood.out"), $(sed -n 2p "$T/peer-flood.out")"
as_uid 65534 env RESCHED_RUN="$T/run-h1" "$TT" --levels 4 --iterations 1 --out /dev/null >"$T/job-nobody.log" 2>&1
grep -q "refused.*too many connections" "$T/job-nobody.log" || fail "nobody's own job was not told why: $(cat "$T/job-nobody.log")"
ok "nobody's 65th process is told: $(grep refused "$T/job-nobody.log")"
stop_pid $FLOOD
fi

if part b; then
# ---- b. giant partial lines ---------------------------------------------------
AG=$AGENT_h1
wait_until 5 sh -c "[ \$(ls /proc/$AG/fd | wc -l) -lt 40 ]" || fail "the flood's connections are still open in the agent"
r0=$(rss_kb $AG)
peer_bg partial "$SOCK" partial 300 1048575
PART=$PEERPID
wait_until 120 grep -q holding "$T/peer-partial.out" || fail "partial: $(cat "$T/peer-partial.out")"
r1=$(rss_kb $AG)
grow=$(( (r1 - r0) / 1024 ))
[ $grow -lt 48 ] || fail "300 partial 1 MiB lines grew the agent by $grow MiB (VmRSS $r0 -> $r1 kB)"
grep -q '^open=0 ' "$T/peer-partial.out" || fail "partial: $(head -2 "$T/peer-partial.out")"
ok "300 partial 1 MiB lines: agent VmRSS $r0 -> $r1 kB (+$grow MiB), $(head -1 "$T/peer-partial.out"), $(sed -n 2p "$T/peer-partial.out")"
stop_pid $PART
fi

if part c; then

# ---- c. idle and half-line connections time out ---------------------------------
peer_bg idle "$SOCK" idle
IDLE=$PEERPID
peer_bg half "$SOCK" idle 7
HALF=$PEERPID
wait "$IDLE" "$HALF"
for n in idle half; do
    out=$(cat "$T/peer-$n.out")
    s=$(echo "$out" | sed -n 's/^closed after \([0-9]*\)\..*/\1/p')
    [ -n "$s" ] && [ "$s" -ge 9 ] && [ "$s" -le 13 ] || fail "$n connection: $out"
    echo "$out" | grep -q 'refused reason=.*timeout' || fail "$n connection closed without the reason: $out"
    ok "$n connection: $out"
done
fi

if part d; then

# ---- d. the prog lie -----------------------------------------------------------
before=$(ls "$M/procs" | sort -n | tail -1)
peer_bg lie "$SOCK" lie /bin/sh
LIE=$PEERPID
wait_until 10 grep -q holding "$T/peer-lie.out" || fail "lie: $(cat "$T/peer-lie.out")"
grep -q "^registered" "$T/peer-lie.out" || fail "the liar was not registered: $(cat "$T/peer-lie.out")"
grep -q "pid $LIE (uid 65534) registered: exe=$PEER cwd=" "$T/agent-h1.log" ||
    fail "the agent did not register pid $LIE with its real exe: $(grep "pid $LIE" "$T/agent-h1.log")"
ID=$(ls "$M/procs" | sort -n | tail -1)
[ "$ID" != "$before" ] || fail "no job for the liar"
grep -q "job-registered job=$ID host=h1 pid=$LIE uid=65534 prog=$PEER\$" "$T/fs.log" ||
    fail "the registry has job $ID as: $(grep "job-registered job=$ID " "$T/fs.log")"
/bin/echo h2 > "$M/procs/$ID/migrate" 2>/dev/null   # fails: the liar does not move
wait_until 10 grep -q "job $ID mig [0-9]*: successor pid [0-9]* started" "$T/agent-h2.log" ||
    fail "h2 did not start a successor for job $ID"
started=$(grep "job $ID mig [0-9]*: successor pid [0-9]* started" "$T/agent-h2.log" | head -1)
case "$started" in
    *"started ($PEER)"*) ;;
    *) fail "the registry believed the lie: $started" ;;
esac
ok "the liar (prog=/bin/sh) is job $ID with exe $PEER; h2 $(echo "$started" | sed 's/.*: //')"
stop_pid $LIE
fi
echo "all local-bounds checks passed"
