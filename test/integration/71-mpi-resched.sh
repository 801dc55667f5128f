#!/bin/sh
# 71-mpi-resched.sh — MPI ranks through /resched, with agents and a real
# registry: a 4-rank test_tree_mpi on four namespaced hosts (one rank per
# host, each host's agent with its own run directory, found by the ranks
# through examples/netns-rsh.sh's RESCHED_RUN_PATTERN).  Checks: every rank
# is a job with procs/ID/mpi = "NAMESPACE RANK SIZE" (one namespace for
# all four); rank 2 moves h3 -> h4 -> h3 -> h4 by `echo H > migrate`, each
# write returning 0 with the job on H, the same id, status running, the pid
# the successor's, one history line per move with the MPI phases; no agent
# starts anything (no RUN/jobs log); the other ranks' pids never change; the
# retired process stays asleep with its 48 MiB array given back (RSS); the
# successor has its predecessor's environment (but for Open MPI's own
# per-process variables and RESCHED_RUN, its host's), working directory,
# umask, credentials, groups and resource limits;
# the sum equals the unmigrated run's.  And the failures of issue 11 item 7
# that need no load: a destination outside the job's hostfile (EINVAL,
# refused before anything is sent); a destination whose agent stops
# answering during the move (SIGSTOP: the successor cannot register, EIO);
# a corrupted stream (EIO).  Each leaves rank 2 running where it was.
TNAME=mpi-resched
. "$(dirname "$0")/../lib/migtest.sh"
TTM=$ROOT/bin/test_tree_mpi
[ -x "$TTM" ] || { echo "skip: needs bin/test_tree_mpi"; exit 77; }
command -v mpirun >/dev/null || { echo "skip: needs Open MPI (mpirun)"; exit 77; }
command -v bash >/dev/null || { echo "skip: needs bash (its echo names the errno)"; exit 77; }

start_fs
echo manual > "$M/sched/mode" || fail "sched/mode"
echo 1 > "$M/sched/allow_root" || fail "sched/allow_root"   # the ranks run as root here
for h in h1 h2 h3 h4; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 4 ]" || fail "hosts did not appear"
for h in h1 h3 h4; do echo "$(cluster_addr $h) slots=2"; done > "$T/hosts"
# h2 is not in the job's hostfile: a rank may not be moved there
ok "registry and four agents up"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export RESCHED_RUN_PATTERN="$T/run-%s" RESCHED_MPI_HOSTFILE="$T/hosts"
# one rank per host: ranks 0..3 on h1 h3 h4 h1 with --map-by node over the
# hostfile's three hosts; rank 2 therefore starts on h4
run_job() { # LOG EXTRA-ENV... -- ARGS
    _log=$1; shift
    _env=""
    while [ "$1" != "--" ]; do _env="$_env $1"; shift; done
    shift
    cluster_bg h1 "$_log" env RESCHED_RUN="$T/run-h1" $_env timeout 150 mpirun \
        --hostfile "$T/hosts" --map-by node -np 4 --oversubscribe \
        --mca plm_rsh_agent "$ROOT/examples/netns-rsh.sh" --mca btl tcp,self --mca pml ob1 \
        --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca routed direct \
        -x RESCHED_MPI_HOSTFILE "$TTM" "$@"
}
field_of() { awk -v r="$2" -v w="$3" '$1 == "rank" && $2 == r && / ran / {
    for (i = 1; i < NF; i++) if ($i == w) print $(i + 1) }' "$1"; }
sum_of() { awk '$1 == "sum" { print $2 }' "$1"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# env_of PID: its environment, one variable a line, sorted, without what
# Open MPI sets per process and without RESCHED_RUN (each host's own)
env_of() { tr '\0' '\n' < "/proc/$1/environ" |
    grep -Ev '^(OMPI_|PMIX_|OPAL_|ORTE_|RESCHED_RUN=)' | sort; }
# ctx_of PID: its umask, uid, gid, supplementary groups and resource limits
ctx_of() { grep -E '^(Umask|Uid|Gid|Groups):' "/proc/$1/status"; cat "/proc/$1/limits"; }
# rank_job R: the id of the job whose mpi file says rank R
rank_job() { for d in "$M"/procs/*/; do
    [ -f "$d/mpi" ] && [ "$(awk '{print $2}' "$d/mpi")" = "$1" ] &&
        [ "$(cat "$d/status")" = running ] && basename "$d" && return 0; done; return 1; }

ARGS="--levels 10 --trees 8 --iterations 400 --seed 7 --sleep-ms 40 --state-mb 48"
RESCHED_RUN=$T/none mpirun --oversubscribe -np 4 --mca btl tcp,self --mca pml ob1 \
    "$TTM" --levels 10 --trees 8 --iterations 400 --seed 7 --state-mb 1 >"$T/ref.log" 2>&1 ||
    fail "reference run"
S0=$(sum_of "$T/ref.log")
[ -n "$S0" ] || fail "no reference sum"
ok "reference sum $S0"

run_job "$T/job.log" -- $ARGS
JOB=$CL_LAST_PID
wait_until 30 sh -c "[ \$(ls '$M'/procs/*/mpi 2>/dev/null | wc -l) -eq 4 ]" ||
    fail "four ranks did not register"
NS=$(awk '{print $1}' "$(ls "$M"/procs/*/mpi | head -1)")
[ "$(grep -l "^$NS " "$M"/procs/*/mpi | wc -l)" -eq 4 ] || fail "ranks in more than one namespace"
for r in 0 1 2 3; do
    id=$(rank_job $r) || fail "no job for rank $r"
    [ "$(cat "$M/procs/$id/mpi")" = "$NS $r 4" ] || fail "rank $r mpi: $(cat "$M/procs/$id/mpi")"
done
ID=$(rank_job 2)
PIDS0=""
for r in 0 1 3; do PIDS0="$PIDS0 $(field "$(rank_job $r)" pid)"; done
ok "ranks registered in namespace $NS; rank 2 is job $ID on $(field "$ID" host)"
ls "$M/procs/$ID" | grep -qx mpi || fail "mpi not listed in procs/$ID"

# ---- failures first, while rank 2 is on h4 ------------------------------
out=$(bash -c "echo h2 > '$M/procs/$ID/migrate'" 2>&1) && fail "a move to h2 (outside the hostfile) succeeded"
echo "$out" | grep -q "Invalid argument" || fail "move to h2: $out"
grep -q "not in the hostfile" "$M/procs/$ID/migrate" || fail "migrate reads: $(field "$ID" migrate)"
ok "h2 refused: $(cat "$M/procs/$ID/migrate")"
timeout 1 cat "$M/events" 2>/dev/null | grep -q "write-rejected path=procs/$ID/migrate.*hostfile" ||
    fail "no event for the refused move"

# h3's agent stops answering (SIGSTOP) during the move: the successor
# cannot register there, so it refuses the state and rank 2 stays on h4
kill -STOP "$AGENT_h3"
out=$(bash -c "echo h3 > '$M/procs/$ID/migrate'" 2>&1) && fail "a move to h3 with its agent stopped succeeded"
kill -CONT "$AGENT_h3"
ok "h3's agent stopped: $out; $(field "$ID" migrate)"
[ "$(field "$ID" host)" = h4 ] || fail "rank 2 left h4"
wait_until 20 sh -c "[ \"\$(cat '$M/procs/$ID/status')\" = running ]" || fail "rank 2 status $(field "$ID" status)"
wait_until 20 sh -c "[ \$(grep -l running '$M'/procs/*/status | wc -l) -eq 4 ]" ||
    fail "not every rank running again after h3's agent came back"
# a move slower than sched/migrate_timeout: ETIMEDOUT, the successor's late
# claim is refused (the token of a failed move), it leaves, the rank stays
echo 0.2 > "$M/sched/migrate_timeout" || fail "cannot set sched/migrate_timeout"
out=$(bash -c "echo h3 > '$M/procs/$ID/migrate'" 2>&1) && fail "a move over the timeout succeeded"
echo "$out" | grep -q "timed out" || fail "move over the timeout: $out"
echo 120 > "$M/sched/migrate_timeout"
ok "over sched/migrate_timeout: $out; $(field "$ID" migrate)"
sleep 3        # the MPI side of that move ends on its own
[ "$(field "$ID" host)" = h4 ] && [ "$(field "$ID" status)" = running ] ||
    fail "rank 2 after the timed-out move: $(field "$ID" host) $(field "$ID" status)"
ranks_running() { [ "$(grep -l running "$M"/procs/*/status | wc -l)" -eq 4 ]; }
wait_until 30 ranks_running || fail "running jobs after the timed-out move: $(grep . "$M"/procs/*/status)"

# ---- three moves ---------------------------------------------------------
n=$(wc -l < "$M/procs/$ID/history")
for to in h3 h4 h3; do
    oldpid=$(field "$ID" pid)
    rss0=$(rss_kb "$oldpid")
    env_of "$oldpid" > "$T/env.before"
    ctx_of "$oldpid" > "$T/ctx.before"
    cwd0=$(readlink "/proc/$oldpid/cwd")
    t0=$(date +%s%N)
    echo "$to" > "$M/procs/$ID/migrate" || fail "echo $to > migrate: $(field "$ID" migrate)"
    t1=$(date +%s%N)
    n=$((n + 1))
    [ "$(field "$ID" host)" = "$to" ] || fail "host $(field "$ID" host) after the move to $to"
    [ "$(field "$ID" status)" = running ] || fail "status $(field "$ID" status) after the move to $to"
    newpid=$(field "$ID" pid)
    [ "$newpid" != "$oldpid" ] || fail "pid unchanged ($newpid)"
    grep -qx "test_tree_mpi" "/proc/$newpid/comm" 2>/dev/null || fail "pid $newpid is not the rank"
    [ "$(cat "$M/procs/$ID/mpi")" = "$NS 2 4" ] || fail "mpi after the move: $(cat "$M/procs/$ID/mpi")"
    [ "$(wc -l < "$M/procs/$ID/history")" -eq $n ] || fail "history: $(cat "$M/procs/$ID/history")"
    last=$(tail -1 "$M/procs/$ID/history")
    echo "$last" | grep -qE " (h3|h4) $to agree=[0-9.]+ spawn=[0-9.]+ merge=[0-9.]+ transfer=[0-9.]+ restore=[0-9.]+ split=[0-9.]+ total=[0-9.]+ bytes=[0-9]+ ok$" ||
        fail "history line: $last"
    env_of "$newpid" > "$T/env.after"
    cmp -s "$T/env.before" "$T/env.after" ||
        fail "the successor's environment differs: $(diff "$T/env.before" "$T/env.after" | head -5)"
    [ "$(readlink "/proc/$newpid/cwd")" = "$cwd0" ] || fail "cwd $(readlink "/proc/$newpid/cwd") != $cwd0"
    ctx_of "$newpid" > "$T/ctx.after"
    cmp -s "$T/ctx.before" "$T/ctx.after" ||
        fail "the successor's umask, groups or limits differ: $(diff "$T/ctx.before" "$T/ctx.after" | head -5)"
    sleep 0.5
    rss1=$(rss_kb "$oldpid")
    [ -n "$rss1" ] || fail "retired pid $oldpid is gone (it waits for the job's end)"
    # its 48 MiB of protected array went back to the kernel
    [ "$rss1" -lt $((rss0 - 40000)) ] || fail "retired RSS $rss0 -> $rss1 kB"
    echo "move to $to: $(( (t1 - t0) / 1000000 )) ms; retired pid $oldpid RSS $rss0 kB -> $rss1 kB"
done
ok "rank 2 moved three times; history: $(cat "$M/procs/$ID/history" | tr '\n' '|')"
ls "$T"/run-*/jobs/*.log >/dev/null 2>&1 && fail "an agent started a process: $(ls "$T"/run-*/jobs/)"

PIDS1=""
for r in 0 1 3; do PIDS1="$PIDS1 $(field "$(rank_job $r)" pid)"; done
[ "$PIDS0" = "$PIDS1" ] || fail "other ranks' pids changed: $PIDS0 -> $PIDS1"

# ---- a corrupted stream: the move fails, the rank stays -------------------
# (the hook is in the job's environment from its start, so it is armed in
# every rank; it acts only in a rank that sends a stream)
wait "$JOB" || fail "the MPI job failed"
S1=$(sum_of "$T/job.log")
[ "$S1" = "$S0" ] || fail "sum $S1 != $S0"
[ "$(field "$ID" status)" = done ] || fail "rank 2 status $(field "$ID" status) at the end"
for r in 0 1 3; do [ "$(field_of "$T/job.log" $r restored)" = 0 ] || fail "rank $r restored"; done
ok "job done, sum $S1 unchanged, other ranks never restarted"

run_job "$T/corrupt.log" RESCHED_TEST_CORRUPT_AT=300 -- $ARGS
JOB=$CL_LAST_PID
wait_until 30 rank_job 2 >/dev/null || fail "corrupt run: rank 2 did not register"
ID=$(rank_job 2)
host0=$(field "$ID" host); pid0=$(field "$ID" pid)
to=h1; [ "$host0" = h1 ] && to=h3
out=$(bash -c "echo $to > '$M/procs/$ID/migrate'" 2>&1) && fail "a corrupted move succeeded"
grep -q "checksum mismatch" "$M/procs/$ID/migrate" || fail "migrate reads: $(field "$ID" migrate)"
[ "$(field "$ID" host)" = "$host0" ] && [ "$(field "$ID" pid)" = "$pid0" ] &&
    [ "$(field "$ID" status)" = running ] || fail "rank 2 moved or stopped after a failed move"
ok "corrupted stream: $out; $(field "$ID" migrate)"
wait "$JOB" || fail "the corrupt-run job failed"
[ "$(sum_of "$T/corrupt.log")" = "$S0" ] || fail "corrupt run: sum differs"

# ---- a move the registry did not order (libmigrate's test hook) -----------
# the source's agent reports it: the old id ends `migrated`, the successor
# (which no agent expected) registers as a new job of the same rank
run_job "$T/hook.log" RESCHED_MPI_TEST_MIGRATE="2:20:$(cluster_addr h1)" -- $ARGS
JOB=$CL_LAST_PID
wait_until 30 rank_job 2 >/dev/null || fail "hook run: rank 2 did not register"
OLDID=$(rank_job 2)
moved_by_hook() { [ "$(field "$OLDID" status)" = migrated ] && rank_job 2 >/dev/null &&
    [ "$(rank_job 2)" != "$OLDID" ]; }
wait_until 60 moved_by_hook || fail "hook move: job $OLDID is $(field "$OLDID" status)"
NEWID=$(rank_job 2)
[ "$(field "$NEWID" host)" = h1 ] || fail "hook move: new job $NEWID on $(field "$NEWID" host)"
ok "a move the registry did not order: job $OLDID migrated, the successor is job $NEWID on h1"
wait "$JOB" || fail "the hook-run job failed"
[ "$(sum_of "$T/hook.log")" = "$S0" ] || fail "hook run: sum differs"
echo PASS
