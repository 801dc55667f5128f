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
# xfer MODE MB: one transfer (MODE "" = libmigrate's stream, "raw" = plain
# TCP of the same memory); prints the sender's result line.
xfer() {
    rm -f "$T/port"
    cluster_bg dst "$T/recv.log" "$B" "${1}recv" "$T/port" "$2"
    i=0; while [ ! -s "$T/port" ]; do i=$((i+1)); [ $i -gt 600 ] && { echo "receiver did not start"; cat "$T/recv.log"; exit 1; }; sleep 0.05; done
    cluster_exec src "$B" "${1}send" "$DST:$(cat "$T/port")" "$2" || { echo "send failed"; cat "$T/recv.log"; exit 1; }
    wait "$CL_LAST_PID"
}
rate() { echo "$1" | sed 's/.*mb_per_s=//'; }
for mb in 1 16 64 256 1024; do
    raw=$(xfer raw "$mb")
    out=$(xfer "" "$mb")
    echo "$out of_iperf3=$(awk -v r="$(rate "$out")" -v i="$IPERF" 'BEGIN { printf "%.0f%%", 100 * r / i }')" \
         "of_raw_tcp_same_memory=$(awk -v r="$(rate "$out")" -v i="$(rate "$raw")" 'BEGIN { printf "%.0f%%", 100 * r / i }')" \
         "($raw)"
done
