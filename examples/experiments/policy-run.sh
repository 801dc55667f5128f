#!/bin/sh
# policy-run.sh N OUTDIR — one run of the policies experiment (§5.3) under
# examples/policies/policyN.policy, on a fresh five-host cluster; called by
# policies.sh (each run is its own process, hence its own cluster).
#
#   h1 source: the job, then EXP_POL_LOAD busy loops (default 4 per job
#      process: the job gets a fifth of h1's share once they run)
#   h2 busy communicating with h5 at EXP_POL_MBPS MB/s (default 7); the
#      sender packs its data (comm.py, WORK=EXP_POL_COMM_WORK, default 5,
#      about 20 % of a core) and so takes part of h2's CPU share
#   h3 EXP_POL_H3_LOAD busy loops (default 3: load about 3, paper 2.52)
#   h4 free;  h5 the receiver
# Quotas: EXP_POL_QUOTA % of a core for h1-h4 (default 40), h5 20.
#
# The job (EXP_POL_APP):
#   mpi (default)  bin/test_tree_mpi, EXP_POL_RANKS ranks (default 2), all
#                  started on h1 by mpirun (run on h1) with a hostfile of
#                  h1-h4 (h1 first, --map-by slot); the scheduler moves
#                  ranks, each with MPI_Comm_spawn (docs/MIGRATION.md, MPI)
#   plain          bin/test_tree, one process (the first version of Table 2)
# EXP_POL_ARGS overrides the job's arguments (defaults below, per app).
#
# Writes OUTDIR/policyN.{result,events,why,history,decisions,hosts,moves,joblog};
# the result line is
#   "policy N total S source S dest S migration S to HOST moves K"
# source = job start -> first migration-requested; migration = first
# requested -> last migration-finished (all K moves of the job's processes);
# dest = last finished -> end; HOST = the destination(s), comma-separated
# when they differ.  policyN.moves has one line per move.
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
. "$EXP_DIR/lib.sh"
N=$1 OUT=$2
Q=${EXP_POL_QUOTA:-40}
APP=${EXP_POL_APP:-mpi}
case "$APP" in
    plain) NPROC=1
           DEF_ARGS="--levels 14 --trees 6 --iterations 2000 --seed 11" ;;
    mpi)   NPROC=${EXP_POL_RANKS:-2}
           DEF_ARGS="--levels 14 --trees 6 --iterations 2000 --seed 11" ;;
    *) echo "policy-run.sh: EXP_POL_APP must be mpi or plain" >&2; exit 1 ;;
esac
ARGS=${EXP_POL_ARGS:-$DEF_ARGS}
LOAD=${EXP_POL_LOAD:-$((4 * NPROC))}
LOAD_AT=${EXP_POL_LOAD_AT:-20}
PY=$(command -v python3) || exp_die "python3 is needed for comm.py"
POLICY=$EXP_ROOT/examples/policies/policy$N.policy
[ -f "$POLICY" ] || exp_die "$POLICY: no such policy"
if [ "$APP" = mpi ]; then
    command -v mpirun >/dev/null || exp_die "EXP_POL_APP=mpi needs Open MPI (mpirun)"
    [ -x "${EXP_POL_MPI_PROG:-$EXP_ROOT/bin/test_tree_mpi}" ] || exp_die "bin/test_tree_mpi missing: run make first"
fi

exp_init "policy$N"
# The MPI job runs from a copy: a rebuild of bin/ during the run (make,
# tests) must not delete the program a move spawns (Open MPI starts the
# successor from the rank's /proc/self/exe, "bin/test_tree_mpi (deleted)").
# The plain job's successor is the schema's <binary>, bin/test_tree.
# policies.sh takes one copy for its three runs (EXP_POL_MPI_PROG), so they
# run the same build even when bin/ is rebuilt between them.
PROG=$EXP_ROOT/bin/test_tree
if [ "$APP" = mpi ]; then
    mkdir -p "$T/bin" && PROG=$T/bin/test_tree_mpi &&
        cp "${EXP_POL_MPI_PROG:-$EXP_ROOT/bin/test_tree_mpi}" "$PROG" ||
        exp_die "cannot copy ${EXP_POL_MPI_PROG:-bin/test_tree_mpi}"
fi
exp_registry
# The policies judge hosts by metrics (load1, procs, net_bps), not by rule
# states: leave the paper's rules out (EXP_POL_PAPER_RULE=1 keeps them).
# Their processorStatus.sh samples the CPU for about 1 s, so with the 1 s
# interval a loaded host's agent measured for 2-4.6 s and fell silent for 3
# intervals: the registry dropped it, moves in flight included.
[ "${EXP_POL_PAPER_RULE:-0}" = 1 ] || rm -f "$M/rules/paper.rule" || exp_die "cannot remove rules/paper.rule"
for h in h1 h2 h3 h4; do exp_host $h "$Q"; done
exp_host h5 20
exp_wait_hosts h1 h2 h3 h4 h5
cat "$POLICY" > "$M/policy" || exp_die "the registry refused $POLICY"
echo "${EXP_POL_STABILITY:-5}" > "$M/sched/stability"
echo 3600 > "$M/sched/cooldown"
echo 0 > "$M/sched/min_age"
echo auto > "$M/sched/mode"

CPORT=$((19000 + $$ % 1000))
cluster_bg h5 "$T/recv.log" "$PY" "$EXP_DIR/comm.py" recv "$(cluster_addr h5)" "$CPORT"
COMM_PIDS=$CL_LAST_PID
sleep 0.5
cluster_bg h2 "$T/send.log" "$PY" "$EXP_DIR/comm.py" send "$(cluster_addr h5)" "$CPORT" \
    "${EXP_POL_MBPS:-7}" "${EXP_POL_COMM_WORK:-5}"
COMM_PIDS="$COMM_PIDS $CL_LAST_PID"
BUSY_PIDS=""
exp_busy h3 "${EXP_POL_H3_LOAD:-3}"
# h3 must look loaded and h2 communicating before the job starts
exp_wait_until 120 "awk '{ exit !(\$1 > 1.2) }' $M/hosts/h3/metrics/load1" ||
    exp_die "h3's load did not rise"
exp_wait_until 30 "awk '{ exit !(\$1 > 3000000) }' $M/hosts/h2/metrics/net_bps" ||
    { cat "$T/send.log" "$T/recv.log"; exp_die "h2 does not communicate"; }

MPIRUN_OPTS="--oversubscribe --mca btl tcp,self --mca pml ob1"
if [ "$APP" = mpi ]; then
    # every host a rank may go to (h5, the receiver, is not one); h1 first
    # with a slot per rank, so --map-by slot starts every rank on h1
    for h in h1 h2 h3 h4; do echo "$(cluster_addr $h) slots=$NPROC"; done > "$T/mpi.hosts"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # netns-rsh.sh gives the daemon (and the ranks) of host H the run dir
    # of H's agent, $T/H/run (exp_host)
    export RESCHED_RUN_PATTERN="$T/%s/run" RESCHED_MPI_HOSTFILE="$T/mpi.hosts"
    T_JOB=$(exp_now)
    cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/h1/run" mpirun \
        --hostfile "$T/mpi.hosts" --map-by slot -np "$NPROC" $MPIRUN_OPTS \
        --mca plm_rsh_agent "$EXP_ROOT/examples/netns-rsh.sh" \
        --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca routed direct \
        -x RESCHED_MPI_HOSTFILE "$PROG" $ARGS --out "$T/job.sum"
    exp_wait_until 30 "[ \$(ls $M/procs/*/mpi 2>/dev/null | wc -l) -ge $NPROC ]" ||
        { cat "$T/job.log"; exp_die "the $NPROC ranks did not register"; }
    JOBS=$(for f in "$M"/procs/*/mpi; do d=${f%/mpi}; echo "${d##*/}"; done)
    for j in $JOBS; do
        [ "$(cat "$M/procs/$j/host")" = h1 ] || exp_die "job $j (rank $(cat "$M/procs/$j/mpi")) started on $(cat "$M/procs/$j/host")"
    done
else
    T_JOB=$(exp_now)
    cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/h1/run" "$PROG" $ARGS \
        --out "$T/job.sum" --mig-schema "$EXP_ROOT/examples/test_tree.schema.xml"
    exp_wait_until 10 "ls $M/procs/ | grep -q ." || { cat "$T/job.log"; exp_die "the job did not register"; }
    JOBS=$(ls "$M/procs" | head -1)
fi
sleep "$LOAD_AT"
exp_busy h1 "$LOAD"
# snapshot of every host while h1 heats up, every 2 s
( while :; do
      printf '%s' "$(date +%s.%N)"
      for h in h1 h2 h3 h4 h5; do
          printf ' %s:load1=%s,net_bps=%s' $h "$(exp_metric $h load1)" "$(exp_metric $h net_bps)"
      done; echo; sleep 2
  done ) > "$OUT/policy$N.hosts" &
SAMPLER_PID=$!
exp_wait_until "${EXP_POL_TIMEOUT:-1500}" "test -s $T/job.sum" || exp_die "the job did not finish"
T_END=$(exp_now)

cp "$T/events.log" "$OUT/policy$N.events"
cp "$T/job.log" "$OUT/policy$N.joblog"
: > "$OUT/policy$N.why"; : > "$OUT/policy$N.history"; : > "$OUT/policy$N.decisions"
: > "$OUT/policy$N.moves"
for j in $JOBS; do
    lbl="job $j"
    [ -f "$M/procs/$j/mpi" ] && lbl="$lbl (mpi: $(cat "$M/procs/$j/mpi"))"
    { echo "# $lbl"; cat "$M/procs/$j/why" 2>/dev/null; } >> "$OUT/policy$N.why"
    { echo "# $lbl"; cat "$M/procs/$j/history"; } >> "$OUT/policy$N.history"
    grep "job=$j " "$M/sched/decisions" >> "$OUT/policy$N.decisions"
done
# one line per move: "job J requested EPOCH finished EPOCH from H to H"
for j in $JOBS; do
    grep -e "migration-requested job=$j " -e "migration-finished job=$j " "$T/events.log" |
    while read -r iso ev rest; do
        echo "$(exp_iso2epoch "$iso") $ev $rest"
    done | awk -v j="$j" '
        $2 == "migration-requested" { r = $1 }
        $2 == "migration-finished" { for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            printf "job %s requested %s finished %s from %s to %s secs %.3f\n", j, r, $1, f["from"], f["to"], $1 - r }'
done | sort -k4 -n > "$OUT/policy$N.moves"
# The unmigrated run's sum, computed once per application and argument
# set: the job of a run without moves (policy 1, run first) is one;
# otherwise a run outside the cluster, after this run's loads are stopped.
REFF=$OUT/policy-reference.sum
KEY="$APP $NPROC $ARGS"
if [ "$(head -1 "$REFF" 2>/dev/null)" != "$KEY" ]; then
    if [ ! -s "$OUT/policy$N.moves" ] && ! grep -q "migration-" "$T/events.log"; then
        REFS=$(cat "$T/job.sum")
    else
        for _p in $BUSY_PIDS $COMM_PIDS; do kill "$_p" 2>/dev/null; done
        if [ "$APP" = mpi ]; then
            RESCHED_RUN=$T/none timeout 1200 mpirun -np "$NPROC" $MPIRUN_OPTS \
                "$PROG" $ARGS --out "$T/ref.sum" >/dev/null 2>&1
            REFS=$(cat "$T/ref.sum" 2>/dev/null)
        else
            REFS=$(RESCHED_RUN=$T/none "$PROG" $ARGS 2>/dev/null | tail -1)
        fi
    fi
    printf '%s\n%s\n' "$KEY" "$REFS" > "$REFF"
fi
REF=$(sed -n 2p "$REFF")
[ -n "$REF" ] && [ "$REF" = "$(cat "$T/job.sum")" ] || exp_die "the sums differ: $REF / $(cat "$T/job.sum")"
if [ -s "$OUT/policy$N.moves" ]; then
    awk -v n="$N" -v j="$T_JOB" -v e="$T_END" '
        { if (NR == 1 || $4 < r) r = $4; if (NR == 1 || $6 > f) f = $6
          if (!(($10) in seen)) { seen[$10] = 1; to = to (to == "" ? "" : ",") $10 }; k++ }
        END { printf "policy %d total %.2f source %.2f dest %.2f migration %.3f to %s moves %d\n",
              n, e-j, r-j, e-f, f-r, to, k }' "$OUT/policy$N.moves"
else
    awk -v n="$N" -v j="$T_JOB" -v e="$T_END" 'BEGIN {
        printf "policy %d total %.2f source %.2f dest 0 migration - to - moves 0\n", n, e-j, e-j }'
fi | tee "$OUT/policy$N.result"
