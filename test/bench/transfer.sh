#!/bin/sh
# Transfer throughput of libmigrate's state stream between two namespaced
# hosts, 1 MiB .. 1 GiB, against iperf3 between the same hosts in the same
# run.  Target: >= 80% of iperf3 from 256 MiB up.
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/cluster.sh
B=$PWD/build/bench/transfer_bench
[ -x "$B" ] || { echo "build first (make all)"; exit 1; }
command -v iperf3 >/dev/null || { echo "needs iperf3"; exit 77; }
cluster_init
cluster_add_host src
cluster_add_host dst
T=$(mktemp -d /tmp/resched-bench-xfer-XXXXXX)
CL_EXTRA_CLEANUP="rm -rf $T"
DST=$(cluster_addr dst)
cluster_bg dst "$T/iperf.log" iperf3 -s -1 -p 5201
sleep 0.5
IPERF=$(cluster_exec src iperf3 -c "$DST" -p 5201 -t 5 -J | awk -F'[:,]' '/"sum_received"/ {f=1} f && /"bits_per_second"/ {print $2 / 8e6; exit}')
echo "iperf3 mb_per_s=$IPERF"
for mb in 1 16 64 256 1024; do
    rm -f "$T/port"
    cluster_bg dst "$T/recv.log" "$B" recv "$T/port" "$mb"
    i=0; while [ ! -s "$T/port" ]; do i=$((i+1)); [ $i -gt 600 ] && { echo "receiver did not start"; cat "$T/recv.log"; exit 1; }; sleep 0.05; done
    out=$(cluster_exec src "$B" send "$DST:$(cat "$T/port")" "$mb") || { echo "send failed: $out"; cat "$T/recv.log"; exit 1; }
    wait "$CL_LAST_PID"
    rate=$(echo "$out" | sed 's/.*mb_per_s=//')
    echo "$out of_iperf3=$(awk -v r="$rate" -v i="$IPERF" 'BEGIN { printf "%.0f%%", 100 * r / i }')"
done
