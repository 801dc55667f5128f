#!/bin/sh
# 70-mpi-migrate: a 4-rank test_tree_mpi across four namespaced hosts
# (test/lib/cluster.sh, one rank per host); rank 2 moves from h3 to h4 in
# the middle of the run (RESCHED_MPI_TEST_MIGRATE, the MPI layer's test
# hook).  Checks: the sum equals the unmigrated run's; ranks 0, 1, 3 kept
# their pid and ran every iteration themselves (never restarted); rank 2's
# successor is a new process on h4's address, restored; the retired
# process stays until the job ends, asleep (CPU over 10 s from
# /proc/PID/stat, printed), with its protected array given back (RSS); with
# RESCHED_MPI_RETIRE=exit it ends at once while the job goes on (Open MPI's
# finalize fence skipped, docs/MIGRATION.md).  Then the
# failures: a destination outside the job (refused before spawning) and a
# corrupted stream (checksum mismatch: the successor leaves) both leave
# rank 2 running on h3 with its state, reported, and the sum unchanged; so
# does a destination with no free slot (the spawn fails).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
TT=$ROOT/bin/test_tree_mpi
[ -x "$TT" ] || { echo "skip: needs bin/test_tree_mpi (make all)"; exit 77; }
command -v mpirun >/dev/null || { echo "skip: needs Open MPI (mpirun)"; exit 77; }
. "$ROOT/test/lib/cluster.sh"
cluster_need_root
T=$(mktemp -d "/tmp/resched-it70-$$-XXXXXX")
CL_EXTRA_CLEANUP='rm -rf "$T"'
cluster_init
for h in h1 h2 h3 h4; do cluster_add_host $h; done
A3=$(cluster_addr h3) A4=$(cluster_addr h4)
for h in h1 h2 h3 h4; do echo "$(cluster_addr $h) slots=2"; done > "$T/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export RESCHED_RUN="$T/run" RESCHED_MPI_HOSTFILE="$T/hosts"
ARGS="--levels 11 --trees 8 --iterations 80 --seed 5 --sleep-ms 20"

fail() { echo "FAIL: $*"; for f in "$T"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

# mpirun_job LOG [VAR=VALUE...] -- ARGS...: the job, from h1, in the background
mpirun_job() {
    _log=$1; shift
    _x=""
    while [ "$1" != "--" ]; do export "$1"; _x="$_x -x ${1%%=*}"; shift; done
    shift
    cluster_bg h1 "$_log" timeout 80 mpirun --hostfile "${HF:-$T/hosts}" --map-by node -np 4 \
        --mca plm_rsh_agent "$ROOT/examples/netns-rsh.sh" --mca btl tcp,self --mca pml ob1 \
        --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca routed direct \
        -x RESCHED_RUN -x RESCHED_MPI_HOSTFILE $_x "$TT" "$@"
}
# job_sync LOG [VAR=VALUE...] -- ARGS...: mpirun_job, waited for; 0 when
# it succeeded.  A job that Open MPI's runtime lost ("ORTE does not know
# how to route a message", seen about once in 25 jobs here even with
# routed=direct; it happens before or after libmigrate's part) runs once
# more, and the test says so.
job_sync() {
    mpirun_job "$@"
    wait "$CL_LAST_PID" && return 0
    grep -q "ORTE does not know how to route" "$1" || return 1
    echo "note: Open MPI lost the job ($1: ORTE does not know how to route); running it again"
    mv "$1" "$1.lost"
    mpirun_job "$@"
    wait "$CL_LAST_PID"
}
# field LOG RANK WORD: the value after WORD on the final line of RANK
field() { awk -v r="$2" -v w="$3" '$1 == "rank" && $2 == r && / ran / {
    for (i = 1; i < NF; i++) if ($i == w) print $(i + 1) }' "$1"; }
start_field() { awk -v r="$2" -v w="$3" '$1 == "rank" && $2 == r && / iter / {
    for (i = 1; i < NF; i++) if ($i == w) print $(i + 1); exit }' "$1"; }
sum_of() { awk '$1 == "sum" { print $2 }' "$1"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
# wait_moved LOG: until the job ($JOB) says rank 2 moved, 30 s at most
wait_moved() {
    _i=0
    until grep -q "rank 2 migrated to" "$1" 2>/dev/null; do
        _i=$((_i + 1)); [ $_i -gt 300 ] && fail "no migration within 30 s ($1)"
        kill -0 "$JOB" 2>/dev/null || fail "job ended without migrating ($1)"
        sleep 0.1
    done
}

# ---- unmigrated reference ---------------------------------------------------
job_sync "$T/plain.log" -- $ARGS || fail "unmigrated job failed"
S0=$(sum_of "$T/plain.log")
[ -n "$S0" ] || fail "no sum from the unmigrated job"
[ "$(field "$T/plain.log" 2 addr)" = "$A3" ] || fail "rank 2 not on h3 ($A3)"
echo "unmigrated: sum $S0"

# ---- rank 2 moves h3 -> h4 at poll 15 ----------------------------------------
mpirun_job "$T/move.log" RESCHED_MPI_TEST_MIGRATE="2:15:$A4" -- \
    --levels 11 --trees 8 --iterations 80 --seed 5 --sleep-ms 250 --state-mb 32
JOB=$CL_LAST_PID
wait_moved "$T/move.log"
OLD=$(start_field "$T/move.log" 2 pid)
t0=$(ticks "$OLD")
[ -n "$t0" ] || fail "retired rank 2 (pid $OLD) is gone already"
sleep 10
t1=$(ticks "$OLD")
[ -n "$t1" ] || fail "retired rank 2 (pid $OLD) left before the job ended"
CPU=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "%.1f", (b - a) * 100 / hz / 10 }')
RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$OLD/status")
echo "retired process $OLD: ${CPU}% of a core over 10 s, RSS $RSS kB (its 32 MiB array given back)"
awk -v c="$CPU" 'BEGIN { exit !(c < 2) }' || fail "retired process uses ${CPU}% CPU"
[ "$RSS" -lt 30000 ] || fail "retired process kept its array: RSS $RSS kB"
wait "$JOB" || fail "migrated job failed"
grep "migrated to" "$T/move.log"
S1=$(sum_of "$T/move.log")
[ "$S1" = "$S0" ] || fail "sum after migration $S1 != $S0"
for r in 0 1 3; do
    [ "$(start_field "$T/move.log" $r pid)" = "$(field "$T/move.log" $r pid)" ] ||
        fail "rank $r restarted"
    [ "$(field "$T/move.log" $r ran)" = 80 ] || fail "rank $r did not run all 80"
    [ "$(field "$T/move.log" $r restored)" = 0 ] || fail "rank $r was restored"
done
NEW=$(field "$T/move.log" 2 pid)
[ "$NEW" != "$OLD" ] || fail "rank 2 kept its pid: it did not move"
[ "$(start_field "$T/move.log" 2 addr)" = "$A3" ] || fail "rank 2 did not start on h3"
[ "$(field "$T/move.log" 2 addr)" = "$A4" ] || fail "rank 2 did not end on h4 ($A4)"
[ "$(field "$T/move.log" 2 restored)" = 1 ] || fail "rank 2 successor not restored"
ran2=$(field "$T/move.log" 2 ran)
[ "$ran2" -gt 0 ] && [ "$ran2" -lt 80 ] || fail "rank 2 successor ran $ran2 iterations"
grep '^rank' "$T/move.log" | grep ' ran '
echo "migrated: sum $S1, rank 2 pid $OLD@$A3 -> $NEW@$A4"

# ---- RESCHED_MPI_RETIRE=exit: the retired process ends at once ------------
mpirun_job "$T/exit.log" RESCHED_MPI_TEST_MIGRATE="2:15:$A4" RESCHED_MPI_RETIRE=exit -- \
    --levels 11 --trees 8 --iterations 80 --seed 5 --sleep-ms 250
JOB=$CL_LAST_PID
wait_moved "$T/exit.log"
OLD=$(start_field "$T/exit.log" 2 pid)
i=0
while kill -0 "$OLD" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "retired rank 2 (pid $OLD) still there 5 s after its move (exit)"
    sleep 0.1
done
kill -0 "$JOB" 2>/dev/null || fail "the job ended with its retired process (exit)"
echo "RESCHED_MPI_RETIRE=exit: retired process $OLD ended $((i / 10)).$((i % 10)) s after its move; the job goes on"
wait "$JOB" || fail "job with RESCHED_MPI_RETIRE=exit failed"
[ "$(sum_of "$T/exit.log")" = "$S0" ] || fail "exit: sum differs"

# ---- failures: the rank stays where it is -------------------------------------
BAD=$(echo "$A4" | sed 's/\.[0-9]*$/.250/')
job_sync "$T/badhost.log" RESCHED_MPI_TEST_MIGRATE="2:10:$BAD" -- $ARGS ||
    fail "job with a bad destination failed"
grep -q "rank 2: migration to $BAD failed: host $BAD is not in the job" "$T/badhost.log" ||
    fail "bad destination not reported"
job_sync "$T/corrupt.log" RESCHED_MPI_TEST_MIGRATE="2:10:$A4" \
    RESCHED_TEST_CORRUPT_AT=300 -- $ARGS || fail "job with a corrupted stream failed"
grep -q "rank 2: migration to $A4 failed: destination refused: checksum mismatch" \
    "$T/corrupt.log" || fail "checksum mismatch not reported"
# a destination with no free slot: the spawn fails (at the moving rank
# only: it spawns alone), the job computes on to its end.  Open MPI 4.1.4's
# mpirun then does not exit (docs/MIGRATION.md): stopped here once the sum
# is out, by PID (its `timeout`, which stops mpirun and its daemons).
for h in h1 h2 h3 h4; do echo "$(cluster_addr $h) slots=1"; done > "$T/hosts1"
HF=$T/hosts1 mpirun_job "$T/noslot.log" RESCHED_MPI_TEST_MIGRATE="2:10:$A4" -- $ARGS
NOSLOT=$CL_LAST_PID
i=0
until grep -q "^sum " "$T/noslot.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 600 ] && fail "job with a full destination did not finish"
    sleep 0.1
done
kill "$NOSLOT" 2>/dev/null; wait "$NOSLOT" 2>/dev/null
grep -q "rank 2: migration to $A4 failed: spawn on $A4: " "$T/noslot.log" ||
    fail "failed spawn not reported"
for f in badhost corrupt noslot; do
    [ "$(sum_of "$T/$f.log")" = "$S0" ] || fail "$f: sum differs"
    [ "$(start_field "$T/$f.log" 2 pid)" = "$(field "$T/$f.log" 2 pid)" ] ||
        fail "$f: rank 2 changed process"
    [ "$(field "$T/$f.log" 2 addr)" = "$A3" ] || fail "$f: rank 2 left h3"
done
grep -h "failed:" "$T/badhost.log" "$T/corrupt.log" "$T/noslot.log"
echo "PASS"
