#!/bin/sh
# make demo — the whole system on one machine, as root.
#
# A registry mounted at /resched (or a temporary mount when /resched is
# taken), three hosts that are network namespaces with their own agents
# and a CPU share of half a core each, the paper's test_tree started on
# h1.  Then h1 gets extra load, the rules judge it overloaded, the
# scheduler moves the running job to a free host, and the job finishes
# there with the same sum as an unmigrated run.  Everything is removed on
# exit or Ctrl-C.
#
#   DEMO_KEEP=1 make demo    keep the cluster up at the end until Enter
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
if [ "$(id -u)" != 0 ]; then
    echo "demo: run as root (it makes network namespaces, cgroups and a FUSE mount)" >&2
    exit 1
fi
. test/lib/cluster.sh

T=$(mktemp -d /tmp/resched-demo-XXXXXX)
M=/resched
if mountpoint -q "$M" 2>/dev/null || { [ -d "$M" ] && [ -n "$(ls -A "$M" 2>/dev/null)" ]; }; then
    M=$T/mnt
fi
FS_PID="" TAIL_PID=""
demo_cleanup() {
    [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
    [ -n "$FS_PID" ] && kill "$FS_PID" 2>/dev/null && sleep 0.5
    fusermount3 -uz "$M" 2>/dev/null
    [ "$M" = /resched ] && rmdir /resched 2>/dev/null
    rm -rf "$T"
}
CL_EXTRA_CLEANUP=demo_cleanup

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*"; }
wait_until() { # SECONDS COMMAND: poll COMMAND every 0.2 s
    _n=$(( $1 * 5 )); shift
    while ! sh -c "$*" >/dev/null 2>&1; do
        _n=$((_n - 1)); [ $_n -le 0 ] && return 1; sleep 0.2
    done
}

say "A registry and three hosts"
cluster_init
mkdir -p "$M" "$T/state"
bin/resched-key new > "$T/key"
PORT=$((17000 + $$ % 1000))
bin/reschedfs "$M" -f --listen "$CL_REG_ADDR:$PORT" --key "$T/key" --state "$T/state" \
    > "$T/reschedfs.log" 2>&1 &
FS_PID=$!
wait_until 10 "test -f $M/README" || { echo "reschedfs did not start:"; cat "$T/reschedfs.log"; exit 1; }
echo "registry: $M (listening on $CL_REG_ADDR:$PORT)"
for h in h1 h2 h3; do
    cluster_add_host "$h" 50
    mkdir -p "$T/$h"
    cluster_bg "$h" "$T/$h/agent.log" "$ROOT/bin/resched-agent" --registry "$CL_REG_ADDR:$PORT" \
        --key "$(cluster_host_key "$T/key" "$h")" --name "$h" --cgroup "$(cluster_cg "$h")" --interval 1 --run "$T/$h/run"
    echo "host $h: namespace $(cluster_ns "$h"), address $(cluster_addr "$h"), half a core"
done
wait_until 15 "test -d $M/hosts/h1 && test -d $M/hosts/h2 && test -d $M/hosts/h3" ||
    { echo "hosts did not join"; cat "$T"/h*/agent.log; exit 1; }
run "ls $M $M/hosts"
run "head -4 $M/hosts/h1/info"

say "Rules: a host is overloaded when two or more tasks want its CPU"
for f in "$M"/rules/*.rule; do rm -f "$f"; done
cat > "$M/rules/demo.rule" <<'EOF'
set_interval: 1
set_stability: 2

rl_number: 1
rl_name: runnable
rl_type: simple
rl_script: @procs_running
rl_desc: Tasks running or waiting for this host's CPU share (the agent
 itself is not counted).
rl_operator: >
rl_busy: 0
rl_overLd: 1
EOF
run "cat $M/rules/demo.rule"
echo 2 > "$M/sched/stability"
echo 20 > "$M/sched/cooldown"
echo 0 > "$M/sched/min_age"
sleep 3
run "grep . $M/hosts/*/state"

say "The paper's test_tree, started on h1"
ARGS="--levels 12 --trees 6 --iterations 150 --seed 42"
RESCHED_RUN=$T/none bin/test_tree $ARGS > "$T/reference.out" 2>/dev/null &
REF_PID=$!
cluster_bg h1 "$T/job.log" env RESCHED_RUN="$T/h1/run" "$ROOT/bin/test_tree" $ARGS --sleep-ms 150 \
    --out "$T/job.sum" --mig-schema "$ROOT/examples/test_tree.schema.xml"
wait_until 10 "ls $M/procs/ | grep -q ." || { echo "the job did not register"; cat "$T/job.log"; exit 1; }
JOB=$(ls "$M/procs" | head -1)
run "grep . $M/procs/$JOB/host $M/procs/$JOB/pid $M/procs/$JOB/status"
run "find $M/hosts -path '*/procs/*'"

say "Automatic mode on; watch the events"
sed -u "s/^/  events: /" < "$M/events" &
TAIL_PID=$!
run "echo 1 > $M/sched/allow_root"   # this demo's job runs as root; root's jobs stay put by default
run "echo auto > $M/sched/mode"

say "Loading h1 with two busy loops"
cluster_bg h1 "$T/load1.log" sh -c 'while :; do :; done'; L1=$CL_LAST_PID
cluster_bg h1 "$T/load2.log" sh -c 'while :; do :; done'; L2=$CL_LAST_PID
START=$(date +%s.%N)
if wait_until 60 "test \"\$(cat $M/procs/$JOB/host)\" != h1"; then
    END=$(date +%s.%N)
    sleep 1
    kill "$TAIL_PID" 2>/dev/null; TAIL_PID=""
    say "The job moved, $(awk "BEGIN { printf \"%.1f\", $END - $START }") s after the load started"
    run "grep . $M/hosts/*/state $M/procs/$JOB/host $M/procs/$JOB/status"
    run "find $M/hosts -path '*/procs/*'"
    say "Why it moved"
    run "cat $M/procs/$JOB/why"
    run "cat $M/procs/$JOB/history"
    run "tail -3 $M/sched/decisions"
else
    kill "$TAIL_PID" 2>/dev/null; TAIL_PID=""
    echo "demo: the job did not move within 60 s"
    run "grep . $M/hosts/*/state; cat $M/procs/$JOB/why; tail -5 $M/sched/decisions; cat $M/procs/$JOB/migrate"
    for f in "$T/reschedfs.log" "$T"/h?/agent.log "$T/job.log" "$T"/h?/run/jobs/*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }
    done
    exit 1
fi
kill "$L1" "$L2" 2>/dev/null

say "Waiting for the job to finish on its new host"
wait_until 180 "test -s $T/job.sum" || { echo "the job did not finish"; exit 1; }
wait "$REF_PID"
echo "migrated run:   $(cat "$T/job.sum")"
echo "unmigrated run: $(tail -1 "$T/reference.out")"
if [ "$(cat "$T/job.sum")" = "$(tail -1 "$T/reference.out")" ]; then
    echo "same sum: the job continued where it stopped."
else
    echo "demo: the sums differ"; exit 1
fi

cat <<EOF

Explore it yourself (while the cluster is up):
  ls $M/hosts; cat $M/hosts/*/state; grep -r . $M/hosts/h2/metrics | head
  inotifywait -m -r $M/hosts          # watch states change
  cat $M/events                       # blocks, like tail -f
  echo drain > $M/hosts/h2/state      # move everything off h2
  resched-rule check $M/rules/*.rule  # check rules offline
EOF
if [ "${DEMO_KEEP:-0}" = 1 ] && [ -t 0 ]; then
    printf '\nThe cluster stays up; press Enter to remove it. '
    read -r _
fi
exit 0
