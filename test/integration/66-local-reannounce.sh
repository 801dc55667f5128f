#!/bin/sh
# 65-local-reannounce.sh — an agent restarted under a running libmigrate
# process (docs/LOCAL-PROTOCOL.md, "Agent restart"): the process notices
# the socket's end at its next poll point, connects again (bounded retries)
# and registers with `job=J again=1`; the new agent gives J back because
# its record ($RUN/known/PID: job, uid, start time) is the process's.  The
# registry keeps one job with the same id and pid, and the job can still be
# moved.  A stranger (nobody) who claims `job=J again=1` gets a new job.
# Real reschedfs (--key), real agents in namespaces, bin/test_tree.
TNAME=local-reannounce
. "$(dirname "$0")/../lib/migtest.sh"
PEER=$ROOT/build/tools/local_peer
[ -x "$PEER" ] || { echo "build/tools/local_peer not built"; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }

start_fs
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the jobs here run as root
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 2 ]" || fail "hosts did not appear"
ok "registry and agents h1 h2 up"

cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/run-h1" "$TT" --levels 8 --iterations 600 --sleep-ms 50 --out "$T/job.sum"
JOBPID=$CL_LAST_PID
wait_until 10 job_on h1 || fail "the job did not register from h1"
ID=$(job_on h1)
sleep 1            # the process reads its `registered job=$ID` at a poll point
ok "job $ID on h1, pid $JOBPID; the agent's record: $(cat "$T/run-h1/known/$JOBPID" 2>/dev/null || echo none)"

kill "$AGENT_h1"
wait_until 5 sh -c "! kill -0 $AGENT_h1 2>/dev/null" || fail "the agent did not stop"
sleep 2            # the process's first reconnect fails: no agent
start_agent h1
wait_until 30 grep -q "pid $JOBPID (uid 0) registered: .* again as job $ID" "$T/agent-h1.log" ||
    fail "the process did not register again as job $ID"
grep -q "registered again with the agent at .* as job $ID" "$T/job.log" || fail "job log: $(cat "$T/job.log")"
wait_until 5 grep -q "job-registered job=$ID host=h1 pid=$JOBPID again=1" "$T/fs.log" || fail "the registry did not hear job $ID again"
[ "$(ls "$M/procs" | wc -l)" -eq 1 ] || fail "jobs: $(ls "$M/procs")"
[ "$(field "$ID" pid)" = "$JOBPID" ] && [ "$(field "$ID" status)" = running ] || fail "job $ID: pid $(field "$ID" pid) status $(field "$ID" status)"
ok "after the agent's restart: $(grep "again as job $ID" "$T/agent-h1.log" | head -1 | sed 's/^resched-agent: //')"

# a stranger claiming the job gets a job of its own
setpriv --reuid=65534 --regid=65534 --clear-groups "$PEER" "$T/run-h1/agent.sock" lie /bin/true job=$ID again=1 >"$T/peer-claim.out" 2>&1 &
CLAIM=$!
cluster_track $CLAIM
wait_until 10 grep -q holding "$T/peer-claim.out" || fail "claim: $(cat "$T/peer-claim.out")"
grep -q "pid $CLAIM (uid 65534) claims job $ID again, with no record of it" "$T/agent-h1.log" || fail "the agent did not refuse the claim"
[ "$(field "$ID" pid)" = "$JOBPID" ] || fail "job $ID now has pid $(field "$ID" pid)"
wait_until 5 sh -c "[ \$(ls '$M/procs' | wc -l) -eq 2 ]" || fail "the claimer did not get a job of its own: $(ls "$M/procs")"
kill $CLAIM; wait $CLAIM 2>/dev/null
ok "nobody's claim of job $ID: a new job; job $ID keeps pid $JOBPID"

/bin/echo h2 > "$M/procs/$ID/migrate" || fail "the move failed: $(field "$ID" migrate)"
[ "$(field "$ID" host)" = h2 ] || fail "host $(field "$ID" host)"
ok "job $ID moves to h2 after the agent restart: $(field "$ID" migrate)"
echo "all local-reannounce checks passed"
