#!/bin/sh
# mpi.sh — MPI rank migration time and the MPI poll cost.  Two namespaced
# hosts (test/lib/cluster.sh), a 2-rank test_tree_mpi whose rank 1 moves
# h2 -> h1 -> h2 ... (RESCHED_MPI_TEST_MIGRATE), each move timed by phase
# by libmigrate itself; then --poll-bench.  Prints
#   mpi_migration_s p50=S min=S max=S n=N phases: agree=S spawn=S merge=S transfer=S restore=S split=S
#   mig_poll_mpi_ns=NS
# (phases are medians; agree counts from the trigger to the agreed poll point).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
TT=$ROOT/bin/test_tree_mpi
[ -x "$TT" ] || { echo "mpi.sh: needs bin/test_tree_mpi (make all)" >&2; exit 77; }
command -v mpirun >/dev/null || { echo "mpi.sh: needs mpirun" >&2; exit 77; }
. "$ROOT/test/lib/cluster.sh"
cluster_need_root
T=$(mktemp -d "/tmp/resched-bench-mpi-$$-XXXXXX")
CL_EXTRA_CLEANUP='rm -rf "$T"'
cluster_init
cluster_add_host h1; cluster_add_host h2
A1=$(cluster_addr h1) A2=$(cluster_addr h2)
printf '%s slots=16\n%s slots=16\n' "$A1" "$A2" > "$T/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export RESCHED_RUN="$T/run" RESCHED_MPI_HOSTFILE="$T/hosts"
N=${MPI_BENCH_MOVES:-7}
spec="" p=10 i=0
while [ $i -lt "$N" ]; do
    if [ $((i % 2)) -eq 0 ]; then h=$A1; else h=$A2; fi
    spec="$spec${spec:+,}1:$p:$h"; p=$((p + 12)); i=$((i + 1))
done
export RESCHED_MPI_TEST_MIGRATE="$spec"
run() {
    cluster_exec h1 timeout 120 mpirun --hostfile "$T/hosts" --map-by node -np 2 \
        --mca plm_rsh_agent "$ROOT/examples/netns-rsh.sh" --mca btl tcp,self --mca pml ob1 \
        --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca routed direct \
        -x RESCHED_RUN -x RESCHED_MPI_HOSTFILE -x RESCHED_MPI_TEST_MIGRATE "$TT" "$@"
}
run --levels 10 --trees 4 --iterations $((p + 5)) --sleep-ms 50 > "$T/moves.log" 2>&1 ||
    { cat "$T/moves.log" >&2; echo "mpi.sh: migration job failed" >&2; exit 1; }
grep "migrated to" "$T/moves.log" | sed 's/.* in \([0-9.]*\) s: agree \([0-9.]*\) spawn \([0-9.]*\) merge \([0-9.]*\) transfer \([0-9.]*\) restore \([0-9.]*\) split \([0-9.]*\).*/\1 \2 \3 \4 \5 \6 \7/' > "$T/t"
[ -s "$T/t" ] || { echo "mpi.sh: no migration timed" >&2; exit 1; }
med() { cut -d' ' -f"$1" "$T/t" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf 'mpi_migration_s p50=%s min=%s max=%s n=%s phases: agree=%s spawn=%s merge=%s transfer=%s restore=%s split=%s\n' \
    "$(med 1)" "$(cut -d' ' -f1 "$T/t" | sort -n | head -1)" "$(cut -d' ' -f1 "$T/t" | sort -n | tail -1)" \
    "$(wc -l < "$T/t")" "$(med 2)" "$(med 3)" "$(med 4)" "$(med 5)" "$(med 6)" "$(med 7)"
unset RESCHED_MPI_TEST_MIGRATE; export RESCHED_MPI_TEST_MIGRATE=""
run --levels 4 --trees 2 --poll-bench 50000000 2>/dev/null | grep '^mig_poll_mpi_ns='
