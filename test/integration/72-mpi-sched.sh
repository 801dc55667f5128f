#!/bin/sh
# 72-mpi-sched.sh — the scheduler handles MPI ranks like any job.  A 4-rank
# test_tree_mpi whose hostfile lists h1 h2 h3 (h4 is a host of the cluster
# but not of the job), ranks 0 and 3 on h1, 1 on h2, 2 on h3:
#   - drain: `echo drain > hosts/h1/state` moves both ranks of h1 (two ranks
#     of one job on one host), one after the other, to h2/h3, never to h4,
#     and their why says h4 is not in the job's hostfile;
#   - dry-run: with h3 overloaded by busy loops, sched/plan holds a move of a
#     rank off h3 (nothing moves);
#   - auto: the rank then moves off h3 by itself, to a host of the job;
#   - the job ends with the unmigrated sum, every rank `done`.
TNAME=mpi-sched
cd "$(dirname "$0")/../.." || exit 1
. test/lib/sched-common.sh
sc_init
TTM=$SC_ROOT/bin/test_tree_mpi
[ -x "$TTM" ] || skip "needs bin/test_tree_mpi"
command -v mpirun >/dev/null || skip "needs Open MPI (mpirun)"
sc_start_fs
# h4 registers second: first fit examines it (and refuses it) before h2, h3
for h in h1 h4 h2 h3; do sc_add_host $h 50; done
sc_rule_procs_running 3 5
for h in h1 h2 h3; do echo "$(cluster_addr $h) slots=4"; done > "$T/hosts"
ok "registry, four hosts (h4 outside the job's hostfile), manual mode"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export RESCHED_RUN_PATTERN="$T/run-%s" RESCHED_MPI_HOSTFILE="$T/hosts"
ARGS="--levels 9 --trees 8 --iterations 700 --seed 9 --sleep-ms 100"
RESCHED_RUN=$T/none mpirun --oversubscribe -np 4 --mca btl tcp,self --mca pml ob1 \
    "$TTM" --levels 9 --trees 8 --iterations 700 --seed 9 >"$T/ref.log" 2>&1 ||
    fail "reference run"
S0=$(awk '$1 == "sum" { print $2 }' "$T/ref.log")
[ -n "$S0" ] || fail "no reference sum"

cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/run-h1" timeout 300 mpirun \
    --hostfile "$T/hosts" --map-by node -np 4 --oversubscribe \
    --mca plm_rsh_agent "$SC_ROOT/examples/netns-rsh.sh" --mca btl tcp,self --mca pml ob1 \
    --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca routed direct \
    -x RESCHED_MPI_HOSTFILE "$TTM" $ARGS
JOB=$CL_LAST_PID
rank_job() { for d in "$M"/procs/*/; do
    [ -f "$d/mpi" ] && [ "$(awk '{print $2}' "$d/mpi")" = "$1" ] && basename "$d" && return 0
    done; return 1; }
four() { [ "$(ls "$M"/procs/*/mpi 2>/dev/null | wc -l)" -eq 4 ]; }
sc_wait 30 four || fail "four ranks did not register"
R0=$(rank_job 0) R1=$(rank_job 1) R2=$(rank_job 2) R3=$(rank_job 3)
[ "$(field "$R0" host)" = h1 ] && [ "$(field "$R3" host)" = h1 ] &&
    [ "$(field "$R2" host)" = h3 ] || fail "placement: $(grep . "$M"/procs/*/host)"
ok "ranks 0 $R0, 1 $R1, 2 $R2, 3 $R3 (0 and 3 on h1, 2 on h3)"

# ---- drain h1: both of its ranks leave, never to h4 ------------------------
echo drain > "$M/hosts/h1/state" || fail "echo drain"
off_h1() { for j in $R0 $R3; do h=$(field "$j" host)
    { [ "$h" = h2 ] || [ "$h" = h3 ]; } && [ "$(field "$j" status)" = running ] || return 1; done; }
sc_wait 60 off_h1 || fail "ranks 0 and 3 did not leave h1: $(field "$R0" host) $(field "$R3" host)"
for j in $R0 $R3; do
    [ "$(moves "$j")" = 1 ] || fail "job $j: $(field "$j" history)"
    field "$j" history | grep -q " h1 h[23] agree=.* ok$" || fail "job $j history: $(field "$j" history)"
done
grep -q "h4 refused: not in the MPI job's hostfile" "$M/procs/$R0/why" "$M/procs/$R3/why" ||
    fail "why does not refuse h4: $(cat "$M/procs/$R0/why")"
ok "drain: rank 0 -> $(field "$R0" host), rank 3 -> $(field "$R3" host); h4 refused: not in the hostfile"
echo resume > "$M/hosts/h1/state" || fail "echo resume"

# ---- dry-run, then auto: a rank leaves an overloaded h3 ----------------------
sc_set cooldown 0
sc_set mode dry-run
sc_load h3 6
sc_wait 20 state_is h3 overloaded || fail "h3 not overloaded: $(state h3)"
planned() { grep -q "^host=h3 job=[0-9]* action=move dest=h[12] " "$M/sched/plan"; }
sc_wait 15 planned || fail "no planned move off h3: $(cat "$M/sched/plan")"
PJ=$(grep "^host=h3 job=" "$M/sched/plan" | head -1 | sed 's/.*job=\([0-9]*\).*/\1/')
[ -f "$M/procs/$PJ/mpi" ] || fail "the planned job $PJ is not a rank"
[ "$(field "$PJ" host)" = h3 ] || fail "dry-run moved job $PJ"
ok "dry-run plan: $(grep "^host=h3 job=" "$M/sched/plan" | head -1 | cut -c1-100)"
sc_set mode auto
moved_off() { h=$(field "$PJ" host); [ "$h" != h3 ] && [ "$(field "$PJ" status)" = running ]; }
sc_wait 30 moved_off || fail "rank job $PJ did not leave h3"
case "$(field "$PJ" host)" in h1|h2) ;; *) fail "job $PJ went to $(field "$PJ" host)" ;; esac
grep -q "host=h3 job=$PJ action=move" "$M/sched/decisions" || fail "no decision line for $PJ"
ok "auto: job $PJ (rank $(awk '{print $2}' "$M/procs/$PJ/mpi")) h3 -> $(field "$PJ" host)"
sc_set mode manual
sc_unload "$SC_LOAD"

wait "$JOB" || fail "the MPI job failed"
S1=$(awk '$1 == "sum" { print $2 }' "$T/job.log")
[ "$S1" = "$S0" ] || fail "sum $S1 != $S0"
for j in $R0 $R1 $R2 $R3; do
    sc_wait 10 sh -c "[ \"\$(cat '$M/procs/$j/status')\" = done ]" || fail "job $j: $(field "$j" status)"
done
ok "sum $S1 unchanged; every rank done"
echo PASS
