#!/bin/sh
# policies.sh — the paper's §5.3 (Table 2): the same job under Policies 1,
# 2 and 3 on five hosts (see policy-run.sh for the set-up and knobs).
#
#   examples/experiments/policies.sh [OUTDIR]     (root; default build/experiments)
#
# The job is an MPI application by default: bin/test_tree_mpi, 2 ranks
# started on h1, moved rank by rank (EXP_POL_RANKS=N for another count);
# EXP_POL_APP=plain runs the single-process bin/test_tree instead.
# With the defaults Policy 1 runs 6.5-8 min, the three runs 13-15 min.
# EXP_POL_RUNS="2 3" repeats only those runs (the table uses the last
# result of each).  Writes OUTDIR/policies.txt, the table, and each run's files;
# "migration" is first move requested -> last move finished (all the job's
# moves; policyN.moves has each), "migrate to" every destination.
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$EXP_DIR/../../build/experiments}
mkdir -p "$OUT"
# one copy of the MPI program for the three runs: the same build even when
# bin/ is rebuilt meanwhile (its checksum and the commit in policies.build)
if [ "${EXP_POL_APP:-mpi}" = mpi ] && [ -z "${EXP_POL_MPI_PROG:-}" ]; then
    cp -p "$EXP_DIR/../../bin/test_tree_mpi" "$OUT/policies-test_tree_mpi" ||
        { echo "policies: bin/test_tree_mpi missing: run make first" >&2; exit 1; }
    EXP_POL_MPI_PROG=$OUT/policies-test_tree_mpi
    export EXP_POL_MPI_PROG
fi
{ echo "app ${EXP_POL_APP:-mpi} ranks ${EXP_POL_RANKS:-2} args ${EXP_POL_ARGS:-default}"
  echo "commit $(git -C "$EXP_DIR" rev-parse --short HEAD 2>/dev/null)$(git -C "$EXP_DIR" diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)')"
  [ -n "${EXP_POL_MPI_PROG:-}" ] && echo "program $(md5sum < "$EXP_POL_MPI_PROG" | cut -c1-32) $(stat -c %y "$EXP_POL_MPI_PROG")"
  date -u +"started %Y-%m-%dT%H:%M:%SZ"; } > "$OUT/policies.build"
for n in ${EXP_POL_RUNS:-1 2 3}; do
    echo "policies: policy $n"
    "$EXP_DIR/policy-run.sh" "$n" "$OUT" || { echo "policies: the policy $n run failed" >&2; exit 1; }
done
{
    echo "| policy | total (s) | migrate to | source (s) | destination (s) | migration (s) | total vs policy 1 |"
    echo "|---|---|---|---|---|---|---|"
    awk '{ t[$2] = $4; line[$2] = $0; src[$2] = $6; dst[$2] = $8; mig[$2] = $10; to[$2] = $12 }
        END { for (n = 1; n <= 3; n++)
            printf "| %d | %.2f | %s | %.2f | %.2f | %s | %.1f %% |\n", n, t[n], to[n], src[n], dst[n], mig[n], 100 * t[n] / t[1] }' \
        "$OUT/policy1.result" "$OUT/policy2.result" "$OUT/policy3.result"
} | tee "$OUT/policies.txt"
