#!/bin/sh
# policies.sh — the paper's §5.3 (Table 2): the same job under Policies 1,
# 2 and 3 on five hosts (see policy-run.sh for the set-up and knobs).
#
#   examples/experiments/policies.sh [OUTDIR]     (root; default build/experiments)
#
# EXP_POL_RUNS="2 3" repeats only those runs (the table uses the last
# result of each).  Writes OUTDIR/policies.txt, the table, and each run's files.
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$EXP_DIR/../../build/experiments}
mkdir -p "$OUT"
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
