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
# iperf3 MB/s between the same hosts, 5 s
iperf() {
    cluster_bg dst "$T/iperf.log" iperf3 -s -1 -p 5201
    sleep 0.5
    cluster_exec src iperf3 -c "$DST" -p 5201 -t 5 -J | awk -F'[:,]' '/"sum_received"/ {f=1} f && /"bits_per_second"/ {print $2 / 8e6; exit}'
    wait "$CL_LAST_PID"
}
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
med() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# REPS (default 5) runs of each size, ours and raw interleaved; medians.
# iperf3 runs before and after; the ratio is taken to the better of the two.
REPS=${TRANSFER_REPS:-5}
I1=$(iperf)
res=""
for mb in 1 16 64 256 1024; do
    ours="" raws="" r=0
    while [ $r -lt "$REPS" ]; do
        raws="$raws $(rate "$(xfer raw "$mb")")"
        ours="$ours $(rate "$(xfer "" "$mb")")"
        r=$((r + 1))
    done
    res="$res$mb $(echo "$ours" | med) $(echo "$raws" | med) $(echo "$ours" | tr -s ' ' ',')
"
done
I2=$(iperf)
IPERF=$(awk -v a="$I1" -v b="$I2" 'BEGIN { print (a > b ? a : b) }')
echo "iperf3 mb_per_s=$IPERF (before $I1, after $I2)"
printf '%s' "$res" | while read -r mb o raw all; do
    awk -v mb="$mb" -v o="$o" -v raw="$raw" -v i="$IPERF" -v all="$all" -v n="$REPS" 'BEGIN {
        printf "transfer size_mb=%s mb_per_s=%.1f of_iperf3=%.0f%% raw_tcp_same_memory_mb_per_s=%.1f of_raw=%.0f%% (median of %d:%s)\n",
            mb, o, 100 * o / i, raw, 100 * o / raw, n, all }'
done
