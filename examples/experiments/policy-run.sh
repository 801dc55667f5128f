#!/bin/sh
# policy-run.sh N OUTDIR — one run of the policies experiment (§5.3) under
# examples/policies/policyN.policy, on a fresh five-host cluster; called by
# policies.sh (each run is its own process, hence its own cluster).
#
#   h1 source: the job, then EXP_POL_LOAD busy loops (default 4)
#   h2 busy communicating with h5 at EXP_POL_MBPS MB/s (default 7); the
#      sender packs its data (comm.py, WORK=EXP_POL_COMM_WORK, default 5,
#      about 20 % of a core) and so takes part of h2's CPU share
#   h3 EXP_POL_H3_LOAD busy loops (default 3: load about 3, paper 2.52)
#   h4 free;  h5 the receiver
# Quotas: EXP_POL_QUOTA % of a core for h1-h4 (default 40), h5 20.
# Writes OUTDIR/policyN.{result,events,why,history,decisions}; the result
# line is "policy N total S source S dest S migration S to HOST".
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
. "$EXP_DIR/lib.sh"
N=$1 OUT=$2
Q=${EXP_POL_QUOTA:-40}
ARGS=${EXP_POL_ARGS:---levels 14 --trees 6 --iterations 2000 --seed 11}
LOAD_AT=${EXP_POL_LOAD_AT:-20}
PY=$(command -v python3) || exp_die "python3 is needed for comm.py"
POLICY=$EXP_ROOT/examples/policies/policy$N.policy
[ -f "$POLICY" ] || exp_die "$POLICY: no such policy"

exp_init "policy$N"
exp_registry
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
sleep 0.5
cluster_bg h2 "$T/send.log" "$PY" "$EXP_DIR/comm.py" send "$(cluster_addr h5)" "$CPORT" \
    "${EXP_POL_MBPS:-7}" "${EXP_POL_COMM_WORK:-5}"
BUSY_PIDS=""
exp_busy h3 "${EXP_POL_H3_LOAD:-3}"
# h3 must look loaded and h2 communicating before the job starts
exp_wait_until 120 "awk '{ exit !(\$1 > 1.2) }' $M/hosts/h3/metrics/load1" ||
    exp_die "h3's load did not rise"
exp_wait_until 30 "awk '{ exit !(\$1 > 3000000) }' $M/hosts/h2/metrics/net_bps" ||
    { cat "$T/send.log" "$T/recv.log"; exp_die "h2 does not communicate"; }

T_JOB=$(exp_now)
cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/h1/run" "$EXP_ROOT/bin/test_tree" $ARGS \
    --out "$T/job.sum" --mig-schema "$EXP_ROOT/examples/test_tree.schema.xml"
exp_wait_until 10 "ls $M/procs/ | grep -q ." || { cat "$T/job.log"; exp_die "the job did not register"; }
JOB=$(ls "$M/procs" | head -1)
sleep "$LOAD_AT"
exp_busy h1 "${EXP_POL_LOAD:-4}"
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
cat "$M/procs/$JOB/why" > "$OUT/policy$N.why" 2>/dev/null
cat "$M/procs/$JOB/history" > "$OUT/policy$N.history"
grep "job=$JOB " "$M/sched/decisions" > "$OUT/policy$N.decisions"
ev_time() {
    _l=$(grep -m1 -e "$1" "$T/events.log") || { echo ""; return; }
    exp_iso2epoch "${_l%% *}"
}
T_REQ=$(ev_time "migration-requested job=$JOB ")
T_FIN=$(ev_time "migration-finished job=$JOB ")
DEST=$(sed -n 's/.*migration-finished job=[0-9]* mig=[0-9]* from=[^ ]* to=\([^ ]*\).*/\1/p' "$T/events.log" | head -1)
# the unmigrated run's sum, computed once per argument set
REFF=$OUT/policy-reference.sum
[ "$(head -1 "$REFF" 2>/dev/null)" = "$ARGS" ] ||
    printf '%s\n%s\n' "$ARGS" "$(RESCHED_RUN=$T/none "$EXP_ROOT/bin/test_tree" $ARGS 2>/dev/null | tail -1)" > "$REFF"
REF=$(sed -n 2p "$REFF")
[ "$REF" = "$(cat "$T/job.sum")" ] || exp_die "the sums differ: $REF / $(cat "$T/job.sum")"
if [ -n "$T_FIN" ]; then
    awk -v n="$N" -v j="$T_JOB" -v r="$T_REQ" -v f="$T_FIN" -v e="$T_END" -v d="$DEST" 'BEGIN {
        printf "policy %d total %.2f source %.2f dest %.2f migration %.3f to %s\n", n, e-j, r-j, e-f, f-r, d }'
else
    awk -v n="$N" -v j="$T_JOB" -v e="$T_END" 'BEGIN {
        printf "policy %d total %.2f source %.2f dest 0 migration - to -\n", n, e-j, e-j }'
fi | tee "$OUT/policy$N.result"
