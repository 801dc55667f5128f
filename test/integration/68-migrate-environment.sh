#!/bin/sh
# 68-migrate-environment.sh — a moved plain job runs as it ran
# (docs/COMMANDER.md, "Destination side"): a job of uid 65534 with a
# supplementary group, umask 027, a lowered RLIMIT_NOFILE soft limit, a
# working directory, FOO with a space and a newline, a changed
# LD_LIBRARY_PATH, stdout and stderr to regular files, moves h1 -> h2; its
# successor has the same environment (but RESCHED_RUN = h2's run dir), umask,
# groups, limits, cwd, and writes on in the same files; procs/ID/output says
# h1:FILE then h2:FILE.  A job whose stdout is a pipe goes to h2's job log,
# and output says so.  A job with an environment over 64 KiB moves with the
# agent's, and the registry says why (job-context event).
TNAME=migrate-env
. "$(dirname "$0")/../lib/migtest.sh"
command -v setpriv >/dev/null || { echo "needs setpriv"; exit 77; }

start_fs
echo manual > "$M/sched/mode" || fail "cannot set sched/mode manual"
echo 1 > "$M/sched/allow_root" || fail "cannot set sched/allow_root"   # the pipe job runs as root
for h in h1 h2; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 2 ]" || fail "hosts did not appear"
ok "registry and two agents up"

ARGS="--levels 10 --trees 2 --iterations 250 --seed 5 --sleep-ms 40"
RESCHED_RUN=$T/none "$TT" $ARGS --out "$T/ref.sum" >/dev/null 2>&1 || fail "reference run"
REF=$(cat "$T/ref.sum")

U=$T/nobody
mkdir -p "$U"; chown 65534:65534 "$U"
FOO="a b
c=d"
NOBODY="setpriv --reuid=65534 --regid=65534 --groups=4242,4343"
cluster_bg h1 "$T/job.log" env FOO="$FOO" LD_LIBRARY_PATH=/opt/env-test/lib:/usr/lib \
    $NOBODY sh -c "cd '$U' && exec >'$U/run.out' 2>'$U/run.err' && umask 027 && ulimit -Sn 200 &&
        echo before && exec env RESCHED_RUN='$T/run-h1' '$TT' $ARGS"
wait_until 10 job_on h1 || fail "the job did not register"
ID=$(job_on h1)
P=$(field "$ID" pid)
ok "job $ID registered on h1 (pid $P)"

# what the kernel says of a process; the environment without what the
# destination agent sets itself
env_of() { grep -zv '^RESCHED_\(RUN\|JOB\|RESTORE_TOKEN\)=' "/proc/$1/environ" | sort -z; }
line_of() { grep "^$2:" "/proc/$1/status"; }
env_of "$P" > "$T/env.1"; cat "/proc/$P/limits" > "$T/limits.1"
UMASK1=$(line_of "$P" Umask); GROUPS1=$(line_of "$P" Groups); UID1=$(line_of "$P" Uid)
[ "$UMASK1" = "$(printf 'Umask:\t0027')" ] || fail "job's own umask: $UMASK1"
echo "$GROUPS1" | grep -q 4343 || fail "job's own groups: $GROUPS1"
grep -q "^Max open files *200 " "$T/limits.1" || fail "job's own nofile: $(grep files "$T/limits.1")"
[ "$(field "$ID" output)" = "h1:$U/run.out" ] || fail "output before the move: '$(field "$ID" output)'"
ok "output before the move: $(field "$ID" output)"

echo h2 > "$M/procs/$ID/migrate" || fail "move: $(field "$ID" migrate)"
wait_until 5 alive_on "$ID" h2 || fail "status $(field "$ID" status) on $(field "$ID" host)"
P2=$(field "$ID" pid)
[ "$P2" != "$P" ] || fail "pid unchanged"
env_of "$P2" > "$T/env.2"
cmp -s "$T/env.1" "$T/env.2" || fail "environment differs: $(diff "$T/env.1" "$T/env.2" | tr '\0' '|' | head -5)"
printf 'FOO=%s\0' "$FOO" > "$T/foo.want"
grep -z '^FOO=' "/proc/$P2/environ" | cmp -s - "$T/foo.want" || fail "FOO in the successor"
grep -zq "^LD_LIBRARY_PATH=/opt/env-test/lib:/usr/lib\$" "/proc/$P2/environ" || fail "LD_LIBRARY_PATH"
[ "$(grep -z '^RESCHED_RUN=' "/proc/$P2/environ" | tr -d '\0')" = "RESCHED_RUN=$T/run-h2" ] ||
    fail "RESCHED_RUN: $(grep -z '^RESCHED_RUN=' "/proc/$P2/environ" | tr '\0' ' ')"
ok "environment: the job's (FOO with a space and a newline, LD_LIBRARY_PATH), RESCHED_RUN=$T/run-h2"
[ "$(line_of "$P2" Umask)" = "$UMASK1" ] || fail "umask: $(line_of "$P2" Umask)"
[ "$(line_of "$P2" Groups)" = "$GROUPS1" ] || fail "groups: $(line_of "$P2" Groups) != $GROUPS1"
[ "$(line_of "$P2" Uid)" = "$UID1" ] || fail "uid: $(line_of "$P2" Uid)"
cat "/proc/$P2/limits" > "$T/limits.2"   # cmp trusts st_size, which /proc says is 0
cmp -s "$T/limits.1" "$T/limits.2" || fail "limits differ: $(diff "$T/limits.1" "$T/limits.2")"
[ "$(readlink "/proc/$P2/cwd")" = "$U" ] || fail "cwd $(readlink "/proc/$P2/cwd")"
ok "umask, groups ($GROUPS1), uid, limits (nofile soft 200) and cwd are the job's"
[ "$(readlink "/proc/$P2/fd/1")" = "$U/run.out" ] || fail "fd/1 -> $(readlink "/proc/$P2/fd/1")"
[ "$(readlink "/proc/$P2/fd/2")" = "$U/run.err" ] || fail "fd/2 -> $(readlink "/proc/$P2/fd/2")"
[ "$(field "$ID" output)" = "h2:$U/run.out" ] || fail "output after the move: '$(field "$ID" output)'"
ok "stdout/stderr are the job's files; output: $(field "$ID" output)"

wait_until 30 sh -c "grep -q '^sum ' '$U/run.out'" || fail "the job did not finish: $(cat "$U/run.out")"
[ "$(head -1 "$U/run.out")" = before ] && [ "$(tail -1 "$U/run.out")" = "$REF" ] ||
    fail "run.out: $(cat "$U/run.out") (want before ... $REF)"
[ ! -s "$T/run-h2/jobs/$ID.log" ] || fail "h2's job log has: $(cat "$T/run-h2/jobs/$ID.log")"
ok "the successor wrote on in $U/run.out: $(tail -1 "$U/run.out")"

# stdout a pipe: the successor writes to h2's job log, and output says so
cluster_bg h1 "$T/pipe.log" sh -c "env RESCHED_RUN='$T/run-h1' '$TT' $ARGS | cat > '$T/pipe.out'"
wait_until 10 sh -c "ls '$M/procs' | grep -qvx '$ID'" || fail "the pipe job did not register"
ID2=$(ls "$M/procs" | grep -vx "$ID" | head -1)
wait_until 5 alive_on "$ID2" h1 || fail "pipe job status $(field "$ID2" status)"
P=$(field "$ID2" pid)
[ "$(field "$ID2" output)" = "h1:$(readlink "/proc/$P/fd/1")" ] || fail "pipe output: $(field "$ID2" output)"
field "$ID2" output | grep -q '^h1:pipe:\[[0-9]*\]$' || fail "pipe output: $(field "$ID2" output)"
ok "a job writing to a pipe: output $(field "$ID2" output)"
echo h2 > "$M/procs/$ID2/migrate" || fail "move: $(field "$ID2" migrate)"
wait_until 5 alive_on "$ID2" h2 || fail "status $(field "$ID2" status)"
P2=$(field "$ID2" pid)
[ "$(readlink "/proc/$P2/fd/1")" = "$T/run-h2/jobs/$ID2.log" ] || fail "fd/1 -> $(readlink "/proc/$P2/fd/1")"
[ "$(field "$ID2" output)" = "h2:$T/run-h2/jobs/$ID2.log" ] || fail "output: $(field "$ID2" output)"
ok "moved, it writes to h2's job log: output $(field "$ID2" output)"
wait_until 30 grep -q '^sum ' "$T/run-h2/jobs/$ID2.log" || fail "the pipe job did not finish"
[ "$(tail -1 "$T/run-h2/jobs/$ID2.log")" = "$REF" ] || fail "sum $(tail -1 "$T/run-h2/jobs/$ID2.log")"
ok "and finished there with the reference sum"

# an environment over 64 KiB: left out (the agent's is used), said aloud
BIG=$(head -c 70000 /dev/zero | tr '\0' x)
cluster_bg h1 "$T/big.log" env BIG="$BIG" RESCHED_RUN="$T/run-h1" "$TT" $ARGS
wait_until 10 sh -c "[ \$(ls '$M/procs' | wc -l) -eq 3 ]" || fail "the big job did not register"
ID3=$(ls "$M/procs" | grep -vx "$ID" | grep -vx "$ID2" | head -1)
timeout 2 cat "$M/events" > "$T/events" 2>/dev/null
grep "job-context job=$ID3 host=h1 dropped=" "$T/events" | grep -q "environment" ||
    fail "no job-context event: $(grep job-context "$T/events")"
grep -q "left out of its successor's context: environment" "$T/agent-h1.log" || fail "no agent log line"
echo h2 > "$M/procs/$ID3/migrate" || fail "big move: $(field "$ID3" migrate)"
wait_until 5 alive_on "$ID3" h2 || fail "status $(field "$ID3" status)"
! grep -zq '^BIG=' "/proc/$(field "$ID3" pid)/environ" || fail "BIG reached the successor"
ok "an environment over 64 KiB: $(grep "job-context job=$ID3" "$T/events" | cut -d' ' -f2-); moved with the agent's"
exit 0
