#!/bin/sh
# efficiency.sh — the paper's §5.2 (Figures 7-8): one automatic migration
# on a timeline, each phase timed, and the CPU of both hosts over time.
#
#   examples/experiments/efficiency.sh [OUTDIR]     (root; default build/experiments)
#
# Two namespace hosts h1, h2 with EXP_EFF_QUOTA % of a core each (default
# 50).  test_tree starts on h1 at t=EXP_EFF_BASE s; EXP_EFF_LOAD_AT s later
# two busy loops are added on h1.  The agent's rule judges h1 overloaded
# after its stability window (EXP_EFF_STABILITY, default 10 s, the paper's
# "warm up" period, 72 s there, by choice); the scheduler moves the job to
# h2.  Every 0.5 s the cpuacct.usage of both cgroups is sampled.
# Writes OUTDIR/efficiency.{cpu,timeline,txt} and docs/efficiency-cpu.png.
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
. "$EXP_DIR/lib.sh"
OUT=${1:-$EXP_ROOT/build/experiments}
mkdir -p "$OUT"
QUOTA=${EXP_EFF_QUOTA:-50}
BASE=${EXP_EFF_BASE:-10}
LOAD_AT=${EXP_EFF_LOAD_AT:-20}
STAB=${EXP_EFF_STABILITY:-10}
ARGS=${EXP_EFF_ARGS:---levels 14 --trees 6 --iterations 3500 --seed 7}

exp_init efficiency
exp_registry
exp_host h1 "$QUOTA"
exp_host h2 "$QUOTA"
exp_wait_hosts h1 h2
for f in "$M"/rules/*.rule; do [ -e "$f" ] && rm -f "$f"; done
cat > "$M/rules/efficiency.rule" <<RULE
set_interval: 1
set_stability: $STAB

rl_number: 1
rl_name: runnable
rl_type: simple
rl_script: @procs_running
rl_desc: Tasks running or waiting for this host's CPU share.
rl_operator: >
rl_busy: 0
rl_overLd: 1
RULE
echo 0 > "$M/sched/stability"
echo 600 > "$M/sched/cooldown"
echo 0 > "$M/sched/min_age"
echo auto > "$M/sched/mode"
sleep 2

T0=$(exp_now)
exp_sampler "$T/cpu.raw" h1 h2
sleep "$BASE"
T_JOB=$(exp_now)
cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/h1/run" "$EXP_ROOT/bin/test_tree" $ARGS \
    --out "$T/job.sum" --mig-schema "$EXP_ROOT/examples/test_tree.schema.xml"
exp_wait_until 10 "ls $M/procs/ | grep -q ." || { cat "$T/job.log"; exp_die "the job did not register"; }
JOB=$(ls "$M/procs" | head -1)
sleep "$LOAD_AT"
T_LOAD=$(exp_now)
BUSY_PIDS=""
exp_busy h1 2
exp_wait_until 180 "test \"\$(cat $M/procs/$JOB/host)\" != h1" || {
    cat "$M/procs/$JOB/why" "$T/reschedfs.log"; exp_die "the job did not move within 180 s"; }
exp_wait_until 600 "test -s $T/job.sum" || exp_die "the job did not finish"
T_END=$(exp_now)
sleep 5
kill $BUSY_PIDS 2>/dev/null
sleep 5
kill "$SAMPLER_PID"; SAMPLER_PID=""
sleep 0.5

# ---- the timeline -----------------------------------------------------------
cp "$T/events.log" "$OUT/efficiency.events"
cat "$M/procs/$JOB/history" > "$OUT/efficiency.history"
cat "$M/procs/$JOB/why" > "$OUT/efficiency.why"
grep "job=$JOB action=move" "$M/sched/decisions" > "$OUT/efficiency.decisions"
ev_time() { # PATTERN: epoch of the first events line matching
    _l=$(grep -m1 -e "$1" "$T/events.log") || { echo "?"; return; }
    exp_iso2epoch "${_l%% *}"
}
T_OVER=$(ev_time "host-state host=h1 state=overloaded")
T_REQ=$(ev_time "migration-requested job=$JOB ")
T_STARTED=$(ev_time "migration-started job=$JOB ")
T_FIN=$(ev_time "migration-finished job=$JOB ")
DEC=$(head -1 "$OUT/efficiency.decisions"); T_DEC=$(exp_iso2epoch "${DEC%% *}")
HIST=$(head -1 "$OUT/efficiency.history")
hist() { echo "$HIST" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
{
    echo "# efficiency timeline, seconds since the start of the test ($(date -u -d @"${T0%.*}" +%FT%TZ))"
    awk -v t0="$T0" -v job="$T_JOB" -v load="$T_LOAD" -v over="$T_OVER" -v dec="$T_DEC" \
        -v req="$T_REQ" -v st="$T_STARTED" -v fin="$T_FIN" -v end="$T_END" 'BEGIN {
        printf "job_started %.3f\nload_added %.3f\nh1_overloaded %.3f\ndecision %.3f\n", job-t0, load-t0, over-t0, dec-t0
        printf "migration_requested %.3f\nmigration_started %.3f\nmigration_finished %.3f\njob_finished %.3f\n", req-t0, st-t0, fin-t0, end-t0 }'
    echo "# phases (procs/$JOB/history): $HIST"
    echo "poll $(hist poll)"; echo "connect $(hist connect)"; echo "transfer $(hist transfer)"
    echo "restore $(hist restore)"; echo "total $(hist total)"; echo "bytes $(hist bytes)"
} > "$OUT/efficiency.timeline"
# CPU per host: % of one core over each 0.5 s interval, t since T0
awk -v t0="$T0" '!/^#/ { if (n) printf "%.2f %.1f %.1f\n", $1 - t0, ($2 - a) / ($1 - t) / 1e7, ($3 - b) / ($1 - t) / 1e7
    t = $1; a = $2; b = $3; n = 1 }' "$T/cpu.raw" > "$OUT/efficiency.cpu"
awk -v t0="$T0" -v job="$T_JOB" -v load="$T_LOAD" -v dec="$T_DEC" -v fin="$T_FIN" -v end="$T_END" 'BEGIN {
    printf "\"job started\" %.3f\n\"load added\" %.3f\n\"overloaded, decision\" %.3f\n", job-t0, load-t0, dec-t0
    printf "\"moved\" %.3f\n\"job finished\" %.3f\n", fin-t0, end-t0 }' > "$OUT/efficiency.marks"
gnuplot -e "datafile='$OUT/efficiency.cpu'; marks='$OUT/efficiency.marks'; outfile='$EXP_ROOT/docs/efficiency-cpu.png'; quota=$QUOTA" \
    "$EXP_DIR/efficiency.gp" || exp_die "gnuplot failed"
echo "reference: $(RESCHED_RUN=$T/none "$EXP_ROOT/bin/test_tree" $ARGS 2>/dev/null | tail -1)  migrated: $(cat "$T/job.sum")" \
    > "$OUT/efficiency.sum"
cat "$OUT/efficiency.timeline" "$OUT/efficiency.sum"
