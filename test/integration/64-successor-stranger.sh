#!/bin/sh
# 64-successor-stranger.sh — strangers at a successor's port do not end the
# move (docs/MIGRATION.md, "Stream format": the token comes first).  A job
# on h1 is stopped (SIGSTOP) so that its move to h2 waits with the
# successor listening; then three connections as nobody (uid 65534), in
# order: one that sends nothing, one that sends "junk", one with a wrong
# token.  The successor closes each (the silent one after its short token
# deadline, the wrong token with `err wrong token`) and keeps listening;
# the job is let go (SIGCONT), its move completes, and its final sum equals
# an unmoved run's.  Real reschedfs (--key), real agents, bin/test_tree,
# build/tools/tcp_poke.
TNAME=successor-stranger
. "$(dirname "$0")/../lib/migtest.sh"
POKE=$ROOT/build/tools/tcp_poke
[ -x "$POKE" ] || { echo "build/tools/tcp_poke not built"; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }

start_fs
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the jobs here run as root
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 2 ]" || fail "hosts did not appear"
H2=$(cluster_addr h2)
ok "registry and agents h1 h2 up"

ARGS="--levels 10 --trees 2 --iterations 60 --seed 5 --sleep-ms 50 --payload-mb 1"
RESCHED_RUN=$T/none "$TT" $ARGS --out "$T/ref.sum" >"$T/ref.out" 2>&1 || fail "reference run"
REF=$(cat "$T/ref.sum")
cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/run-h1" "$TT" $ARGS --out "$T/job.sum"
JOBPID=$CL_LAST_PID
wait_until 10 job_on h1 || fail "the job did not register from h1"
ID=$(job_on h1)
ok "job $ID on h1 (pid $JOBPID), reference $REF"

kill -STOP $JOBPID
/bin/echo h2 > "$M/procs/$ID/migrate" 2>"$T/migrate.err" &
ECHO=$!
cluster_track $ECHO
wait_until 20 grep -q "job $ID mig [0-9]*: successor pid [0-9]* ready on port" "$T/agent-h2.log" ||
    { kill -CONT $JOBPID; fail "no successor became ready on h2"; }
SPORT=$(sed -n "s/.*job $ID mig [0-9]*: successor pid [0-9]* ready on port \([0-9]*\).*/\1/p" "$T/agent-h2.log" | head -1)
SPID=$(sed -n "s/.*job $ID mig [0-9]*: successor pid \([0-9]*\) ready on port.*/\1/p" "$T/agent-h2.log" | head -1)
ok "successor pid $SPID listens on $H2:$SPORT; the source is stopped"

# the strangers, in this order (each connects after the one before)
poke() {
    _n=$1; shift
    setpriv --reuid=65534 --regid=65534 --clear-groups "$POKE" "$H2" "$SPORT" "$@" >"$T/poke-$_n.out" 2>&1 &
    eval "POKE_$_n=\$!"
    cluster_track $!
    sleep 0.3
}
poke idle idle
poke junk junk
poke wrong token 0123456789abcdef0123456789abcdef
for n in idle junk wrong; do
    eval "wait \$POKE_$n"
done
for n in idle junk wrong; do ok "stranger '$n': $(cat "$T/poke-$n.out")"; done
grep -q "^closed after" "$T/poke-idle.out" || fail "the silent stranger: $(cat "$T/poke-idle.out")"
s=$(sed -n 's/^closed after \([0-9]*\)\..*/\1/p' "$T/poke-idle.out")
[ "$s" -le 5 ] || fail "the silent stranger was held ${s} s"
grep -q "^closed after" "$T/poke-junk.out" || fail "junk: $(cat "$T/poke-junk.out")"
grep -q "^closed after .*: err wrong token" "$T/poke-wrong.out" || fail "wrong token: $(cat "$T/poke-wrong.out")"
kill -0 "$SPID" 2>/dev/null || { kill -CONT $JOBPID; fail "the successor died of the strangers"; }
ok "the successor is still listening"

kill -CONT $JOBPID
wait $ECHO
rc=$?
[ $rc -eq 0 ] || fail "the move failed ($rc): $(cat "$T/migrate.err") / $(field "$ID" migrate)"
[ "$(field "$ID" host)" = h2 ] || fail "host $(field "$ID" host), not h2"
grep -q " ok" "$M/procs/$ID/migrate" || fail "migrate reads: $(field "$ID" migrate)"
ok "the move to h2 completed: $(field "$ID" migrate)"
wait_until 60 test -s "$T/job.sum" || fail "the job did not finish on h2"
[ "$(cat "$T/job.sum")" = "$REF" ] || fail "sum after the move '$(cat "$T/job.sum")', reference '$REF'"
ok "the moved job's sum equals the reference: $REF"
echo "all successor-stranger checks passed"
