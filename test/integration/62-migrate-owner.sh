#!/bin/sh
# 62-migrate-owner.sh — procs/<id>/ belongs to the job's uid: a job started
# by uid 65534 (nobody, in a directory of its own) can be migrated by root
# and by its owner, never by another non-root uid (EACCES); the successor
# runs as the job's uid, in the job's directory, writing its log as it.
TNAME=migrate-owner
. "$(dirname "$0")/../lib/migtest.sh"
command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }

"$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" -o allow_other >"$T/fs.log" 2>&1 &
cluster_track $!
wait_until 5 test -f "$M/README" || fail "reschedfs did not mount"
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the jobs here run as root
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 3 ]" || fail "hosts did not appear"
ok "registry (allow_other) and three agents up"

# nobody cannot write files normally: a working directory of its own
U=$T/nobody
mkdir -p "$U"; chown 65534:65534 "$U"
ARGS="--levels 10 --trees 2 --iterations 250 --seed 9 --sleep-ms 40"
RESCHED_RUN=$T/none "$TT" $ARGS --out "$T/ref.sum" >/dev/null 2>&1 || fail "reference run"
REF=$(cat "$T/ref.sum")
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
OTHER="setpriv --reuid=4242 --regid=4242 --clear-groups"
cluster_bg h1 "$T/job.log" sh -c "cd '$U' && exec $NOBODY env RESCHED_RUN='$T/run-h1' '$TT' $ARGS --out '$U/job.sum'"
wait_until 10 job_on h1 || fail "nobody's job did not register"
ID=$(job_on h1)
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
P=$(field "$ID" pid)
[ "$(uid_of "$P")" = 65534 ] || fail "job pid $P runs as uid $(uid_of "$P")"
ok "job $ID registered by uid 65534 (pid $P)"
[ "$(stat -c %u "$M/procs/$ID")" = 65534 ] || fail "procs/$ID owned by $(stat -c %u "$M/procs/$ID")"
ok "procs/$ID is owned by uid 65534"

# another non-root uid: EACCES, nothing moves
if $OTHER /bin/echo h2 2>"$T/other.err" > "$M/procs/$ID/migrate"; then
    fail "uid 4242 migrated nobody's job"
fi
grep -q "Permission denied" "$T/other.err" || fail "uid 4242 write error: $(cat "$T/other.err")"
[ "$(field "$ID" host)" = h1 ] && [ "$(field "$ID" status)" = running ] || fail "the refused write changed the job"
ok "uid 4242 gets EACCES: $(cat "$T/other.err")"
# that write went through the caller's own shell: check the redirect was
# the other uid's, not root's (setpriv runs the shell too)
if $OTHER sh -c "/bin/echo h2 > '$M/procs/$ID/migrate'" 2>"$T/other2.err"; then
    fail "uid 4242 (own shell) migrated nobody's job"
fi
grep -q "Permission denied" "$T/other2.err" || fail "uid 4242 (own shell): $(cat "$T/other2.err")"
ok "uid 4242 from its own shell: EACCES too"

# root may migrate it; the successor runs as the job's uid
echo h2 > "$M/procs/$ID/migrate" || fail "root's move failed: $(field "$ID" migrate)"
[ "$(field "$ID" host)" = h2 ] || fail "host $(field "$ID" host)"
wait_until 5 sh -c "[ \"\$(cat '$M/procs/$ID/status')\" = running ]" || fail "status $(field "$ID" status)"
P2=$(field "$ID" pid)
[ "$(uid_of "$P2")" = 65534 ] || fail "successor pid $P2 runs as uid $(uid_of "$P2")"
[ "$(readlink "/proc/$P2/cwd")" = "$U" ] || fail "successor cwd $(readlink "/proc/$P2/cwd")"
[ "$(stat -c %u "$T/run-h2/jobs/$ID.log")" = 65534 ] || fail "successor log not owned by the job's uid"
ok "root moved it to h2; successor pid $P2 runs as uid 65534 in $U"

# the owner may migrate its own job
$NOBODY sh -c "/bin/echo h3 > '$M/procs/$ID/migrate'" 2>"$T/owner.err" || fail "the owner's move failed: $(cat "$T/owner.err"); $(field "$ID" migrate)"
[ "$(field "$ID" host)" = h3 ] || fail "host $(field "$ID" host)"
ok "the owner (uid 65534) moved it to h3"

wait_until 30 grep -q '^sum ' "$U/job.sum" || fail "the job did not finish"
[ "$(cat "$U/job.sum")" = "$REF" ] || fail "sum '$(cat "$U/job.sum")' != '$REF'"
[ "$(stat -c %u "$U/job.sum")" = 65534 ] || fail "output not written by uid 65534"
ok "the job finished as uid 65534 with the reference sum"
exit 0
