#!/bin/sh
# mpi-migrate.sh [N] — MPI rank moves through /resched (issue 11): a real
# reschedfs and an agent on each of four namespaced hosts, a 4-rank
# test_tree_mpi (one rank per host, small state, a poll point every ~5 ms,
# launched as docs/MIGRATION.md says: --mca pml ob1), and N moves (default
# 20) of rank 2 alternating between two hosts of its hostfile by
# `echo H > procs/ID/migrate`, each write timed until it returns (python3,
# one process: no fork between the two clock readings).
# Baseline, the same moves: libmigrate's own time, trigger signal -> split,
# from the moving rank's line "rank 2 migrated to ADDR in T s: agree ..."
# (the same phases are in each history line).  Prints p50/p90 of the write,
# of libmigrate's own time, of "other" = write - own (registry and agent
# hops, the trigger signal, the result's way back) and of each MPI phase;
# the ratio of the p50s (target <= 1.15) and the write's p50 (target
# <= 0.30 s).  RESCHED_MPI_SPAWN=collective in the environment is passed
# to the job (docs/MIGRATION.md).  Then a second job with --state-mb 32:
# one move, the retired process's RSS before and 0.5 s after (it stays
# alive until the job ends).
# Needs root, Open MPI and python3; make all first.
set -u
N=${1:-20}
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
. test/lib/cluster.sh
cluster_need_root
for b in bin/reschedfs bin/resched-agent bin/resched-key bin/test_tree_mpi; do
    [ -x $b ] || { echo "$b not built (make all)"; exit 77; }
done
command -v mpirun >/dev/null || { echo "mpi-migrate.sh: needs Open MPI (mpirun)"; exit 77; }
command -v python3 >/dev/null || { echo "mpi-migrate.sh: needs python3 (timing)"; exit 77; }
[ -e /dev/fuse ] || { echo "mpi-migrate.sh: needs /dev/fuse"; exit 77; }
T=$(mktemp -d "/tmp/resched-bench-mpimig-$$-XXXXXX")
chmod 755 "$T"
# a private copy: a rebuild of bin/ during the run would leave the ranks'
# executable "(deleted)", and every spawn of a successor would fail
TTM=$T/test_tree_mpi
cp "$ROOT/bin/test_tree_mpi" "$TTM" || exit 1
M=$T/mnt
mkdir -p "$M"
KEY=$T/key
head -c 32 /dev/urandom > "$KEY"; chmod 600 "$KEY"
CL_EXTRA_CLEANUP='fusermount3 -uz "$M" 2>/dev/null; rm -rf "$T"'
cluster_init
PORT=$((10000 + $$ % 22000)) # below the ephemeral range (32768-): never a TIME_WAIT client port
REG=$CL_REG_ADDR:$PORT

die() {
    echo "mpi-migrate.sh: $*" >&2
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -8 "$f" >&2; }; done
    [ -n "${ID:-}" ] && [ -f "$M/procs/$ID/history" ] && { echo "--- history" >&2; cat "$M/procs/$ID/history" >&2; }
    exit 1
}
wait_until() {
    _n=$(($1 * 10)); shift
    while [ $_n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; _n=$((_n - 1)); done
    return 1
}
"$ROOT/bin/reschedfs" "$M" -f --listen "$REG" --key "$KEY" >"$T/fs.log" 2>&1 &
cluster_track $!
wait_until 5 test -f "$M/README" || die "reschedfs did not mount"
echo manual > "$M/sched/mode"
echo 1 > "$M/sched/allow_root"   # the ranks run as root here
for h in h1 h2 h3 h4; do
    cluster_add_host $h
    cluster_bg $h "$T/agent-$h.log" "$ROOT/bin/resched-agent" --registry "$REG" \
        --name $h --interval 1 --key "$(cluster_host_key "$KEY" $h)" --run "$T/run-$h"
done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 4 ]" || die "hosts did not appear"
# every host in the hostfile, spare slots (a retired rank keeps its slot)
for h in h1 h2 h3 h4; do echo "$(cluster_addr $h) slots=2"; done > "$T/hosts"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export RESCHED_RUN_PATTERN="$T/run-%s" RESCHED_MPI_HOSTFILE="$T/hosts"
# start_job LOG ARGS...: 4 ranks, --map-by node: rank R on h(R+1); runs
# until killed (by PID: JOB, and by the cluster cleanup)
start_job() {
    _log=$1; shift
    cluster_bg h1 "$_log" env RESCHED_RUN="$T/run-h1" timeout $((120 + N * 10)) mpirun \
        --hostfile "$T/hosts" --map-by node -np 4 --oversubscribe \
        --mca plm_rsh_agent "$ROOT/examples/netns-rsh.sh" --mca btl tcp,self --mca pml ob1 \
        --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca routed direct \
        -x RESCHED_MPI_HOSTFILE ${RESCHED_MPI_SPAWN:+-x RESCHED_MPI_SPAWN} "$TTM" "$@"
    JOB=$CL_LAST_PID
}
# job_ns OLD: the namespace of a job other than OLD with four ranks registered
job_ns() {
    cat "$M"/procs/*/mpi 2>/dev/null | awk -v old="$1" '$1 != old { n[$1]++ }
        END { for (k in n) if (n[k] == 4) { print k; exit } }' | grep .
}
# rank_job NS R: the id of the running job of rank R in namespace NS
rank_job() { for d in "$M"/procs/*/; do
    [ -f "$d/mpi" ] && [ "$(awk '{print $1, $2}' "$d/mpi")" = "$1 $2" ] &&
        [ "$(cat "$d/status")" = running ] && basename "$d" && return 0; done; return 1; }

# The moves, timed in one process.  Per move: "write_us to oldpid newpid
# rss0_kB rss1_kB" (rss1: the retired process SETTLE s after the write
# returned, -1 if it is gone).
cat > "$T/moves.py" <<'PY'
import sys, time
d, n, a, b, settle = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
def rd(f):
    with open(d + "/" + f) as fp:
        return fp.read().strip()
def rss(pid):
    try:
        with open("/proc/%s/status" % pid) as fp:
            for l in fp:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
    except OSError:
        pass
    return -1
for i in range(n):
    to = a if i % 2 == 0 else b
    old = rd("pid")
    r0 = rss(old)
    t0 = time.perf_counter()
    try:
        with open(d + "/migrate", "w") as f:
            f.write(to + "\n")
    except OSError as e:
        print("move %d to %s failed: %s" % (i + 1, to, e), file=sys.stderr)
        sys.exit(1)
    t1 = time.perf_counter()
    for _ in range(100):
        if rd("status") == "running":
            break
        time.sleep(0.1)
    time.sleep(settle)
    print("%.0f %s %s %s %d %d" % ((t1 - t0) * 1e6, to, old, rd("pid"), r0, rss(old)))
    sys.stdout.flush()
PY
# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE
pct() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i] }'; }
# own_lines LOG: "total agree spawn merge transfer restore split bytes" per
# move of rank 2, from its own lines
own_lines() {
    sed -n 's/.*rank 2 migrated to [^ ]* in \([0-9.]*\) s: agree \([0-9.]*\) spawn \([0-9.]*\) merge \([0-9.]*\) transfer \([0-9.]*\) restore \([0-9.]*\) split \([0-9.]*\) bytes \([0-9]*\).*/\1 \2 \3 \4 \5 \6 \7 \8/p' "$1"
}

# ---- N moves of a small-state rank ---------------------------------------
start_job "$T/job.log" --levels 8 --trees 8 --iterations 100000000 --seed 7 --sleep-ms 5
wait_until 60 job_ns none || die "four ranks did not register"
NS=$(job_ns none)
ID=$(rank_job "$NS" 2) || die "no job for rank 2"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
H0=$(cat "$M/procs/$ID/host")
case $H0 in h4) H1=h3 ;; *) H1=h4 ;; esac
sleep 1
python3 "$T/moves.py" "$M/procs/$ID" "$N" "$H1" "$H0" 0.5 > "$T/moves" ||
    die "a move failed: $(cat "$M/procs/$ID/migrate")"
sleep 0.5
own_lines "$T/job.log" > "$T/own"
[ "$(wc -l < "$T/own")" -eq "$N" ] ||
    die "$(wc -l < "$T/own") lines of libmigrate's own time for $N moves"
[ "$(grep -c ' ok' "$M/procs/$ID/history")" -eq "$N" ] || die "history has not $N moves"

awk '{ printf "%.3f\n", $1 / 1e6 }' "$T/moves" > "$T/write"
cut -d' ' -f1 "$T/own" > "$T/libmigrate"
paste -d' ' "$T/write" "$T/libmigrate" | awk '{ printf "%.3f\n", $1 - $2 }' > "$T/other"
sed -n 's/.* total=\([0-9.]*\) .*/\1/p' "$M/procs/$ID/history" > "$T/registry"
i=2
for ph in agree spawn merge transfer restore split; do
    cut -d' ' -f$i "$T/own" > "$T/$ph"; i=$((i + 1))
done
half=$((N / 2))
head -n "$half" "$T/write" > "$T/write.a"; tail -n +$((half + 1)) "$T/write" > "$T/write.b"
W50=$(pct "$T/write" 50) O50=$(pct "$T/libmigrate" 50)
echo "MPI rank moves through the registry: $N moves of rank 2 ($H0 <-> $H1), 4 ranks on 4 hosts,"
echo "spawn ${RESCHED_MPI_SPAWN:-alone} (RESCHED_MPI_SPAWN), pml ob1, small state ($(cut -d' ' -f8 "$T/own" | sort -n | tail -1) bytes), a poll every ~5 ms"
printf '%-12s %8s %8s\n' phase p50_s p90_s
for f in write libmigrate other registry agree spawn merge transfer restore split; do
    printf '%-12s %8s %8s\n' "$f" "$(pct "$T/$f" 50)" "$(pct "$T/$f" 90)"
done
printf 'write/libmigrate p50 ratio %.2f (target <= 1.15); write p50 %s s (target <= 0.30)\n' \
    "$(echo "$W50 $O50" | awk '{ print $1 / $2 }')" "$W50"
echo "load average $LOAD0 before the moves, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "write per move (s): $(tr '\n' ' ' < "$T/write")"
echo "write p50 moves 1-$half $(pct "$T/write.a" 50) s, moves $((half + 1))-$N $(pct "$T/write.b" 50) s"

# ---- the retired process's memory: a --state-mb 32 job, one move ----------
kill "$JOB" 2>/dev/null; wait "$JOB" 2>/dev/null
start_job "$T/job32.log" --levels 8 --trees 8 --iterations 100000000 --seed 7 --sleep-ms 20 --state-mb 32
wait_until 60 job_ns "$NS" || die "four ranks of the --state-mb 32 job did not register"
NS2=$(job_ns "$NS")
ID=$(rank_job "$NS2" 2) || die "no job for rank 2 (--state-mb 32)"
H0=$(cat "$M/procs/$ID/host")
case $H0 in h4) H1=h3 ;; *) H1=h4 ;; esac
sleep 2
python3 "$T/moves.py" "$M/procs/$ID" 1 "$H1" "$H0" 0.5 > "$T/moves32" ||
    die "the --state-mb 32 move failed: $(cat "$M/procs/$ID/migrate")"
sleep 0.5
own_lines "$T/job32.log" > "$T/own32"
read -r us to old new r0 r1 < "$T/moves32"
read -r tot ag sp me tr re spl by < "$T/own32" || die "no libmigrate line for the --state-mb 32 move"
[ "$r1" -ge 0 ] || die "the retired process $old is gone (it should wait for the job's end)"
awk -v us="$us" -v tot="$tot" -v tr="$tr" -v by="$by" -v r0="$r0" -v r1="$r1" -v old="$old" 'BEGIN {
    printf "--state-mb 32 move: write %.3f s, libmigrate %.3f s (transfer %.3f s, %.1f MiB)\n",
        us / 1e6, tot, tr, by / 1048576
    printf "retired rank (pid %s) RSS %.1f MiB before, %.1f MiB 0.5 s after the write: %.0f%%\n",
        old, r0 / 1024, r1 / 1024, 100 * r1 / r0 }'
exit 0
