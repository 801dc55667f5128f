#!/bin/sh
# mig_poll with nothing pending: plain C (target <= 2 ns).  The MPI figure
# is in mpi.sh.
set -u
cd "$(dirname "$0")/../.." || exit 1
[ -x build/bench/poll_bench ] || { echo "build first (make all)"; exit 1; }
build/bench/poll_bench 2>/dev/null
