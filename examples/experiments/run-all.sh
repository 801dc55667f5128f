#!/bin/sh
# run-all.sh — `make experiments`: the paper's three experiments in turn
# (docs/EVALUATION.md).  Root.  Results in build/experiments/, plots in
# docs/*.png.  Takes about 2 x EXP_OVERHEAD_SECONDS (default 600) + 25 min.
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
OUT=$EXP_DIR/../../build/experiments
mkdir -p "$OUT"
START=$(date +%s)
"$EXP_DIR/efficiency.sh" "$OUT" || exit 1
"$EXP_DIR/policies.sh" "$OUT" || exit 1
"$EXP_DIR/overhead.sh" "$OUT" || exit 1
echo "run-all: the three experiments took $(( $(date +%s) - START )) s; results in $OUT"
