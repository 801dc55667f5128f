#!/bin/sh
# overhead.sh — the paper's §5.1: load average and CPU of the machine
# without, then with the rescheduler running (registry + two agents, as the
# paper's registry workstation and one registered workstation).
#
#   EXP_OVERHEAD_SECONDS=600 examples/experiments/overhead.sh [OUTDIR]
#
# Each phase lasts EXP_OVERHEAD_SECONDS (default 600).  Every 1 s the
# machine's /proc/loadavg and /proc/stat "cpu" line are sampled; at the
# end the registry's and agents' own CPU time is read from /proc/PID/stat
# (utime + stime), which on a shared machine is the more precise number.
# Writes OUTDIR/overhead.{without,with,txt}, docs/overhead-load.png.
set -u
EXP_DIR=$(cd "$(dirname "$0")" && pwd)
. "$EXP_DIR/lib.sh"
OUT=${1:-$EXP_ROOT/build/experiments}
mkdir -p "$OUT"
SECS=${EXP_OVERHEAD_SECONDS:-600}
CLK=$(getconf CLK_TCK)
NCPU=$(nproc)

# sample SECS FILE: "t load1 load5 cpu_util%" once a second
sample() {
    _end=$(( $(date +%s) + $1 ))
    _prev=$(sed -n 's/^cpu  //p' /proc/stat)
    _t0=$(date +%s.%N)
    while [ "$(date +%s)" -lt $_end ]; do
        sleep 1
        _cur=$(sed -n 's/^cpu  //p' /proc/stat)
        _la=$(cut -d' ' -f1,2 /proc/loadavg)
        echo "$(date +%s.%N) $_la $_prev $_cur" | awk -v t0="$_t0" '{
            # user nice system idle iowait irq softirq steal (guest is in user)
            for (i = 4; i <= 11; i++) { a += $i; b += $(i + 10) }
            ia = $7 + $8; ib = $17 + $18
            busy = (b - a) - (ib - ia)
            printf "%.1f %s %s %.2f\n", $1 - t0, $2, $3, ((b - a) > 0 ? 100 * busy / (b - a) : 0) }'
        _prev=$_cur
    done > "$2"
}

cputime() { # PID: utime + stime in ticks (fields after the command name)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

exp_init overhead
echo "overhead: $SECS s without the rescheduler"
sample "$SECS" "$OUT/overhead.without"

echo "overhead: $SECS s with reschedfs + 2 agents (interval 1 s)"
exp_registry
exp_host o1 "" 1
exp_host o2 "" 1
exp_wait_hosts o1 o2
echo "rules: $(ls "$M/rules" | tr '\n' ' ')" > "$OUT/overhead.setup"
P_FS=$FS_PID
eval "P_A1=\$AGENT_PID_o1 P_A2=\$AGENT_PID_o2"
C0=$(( $(cputime "$P_FS") + $(cputime "$P_A1") + $(cputime "$P_A2") ))
W0=$(date +%s.%N)
sample "$SECS" "$OUT/overhead.with"
C1_FS=$(cputime "$P_FS"); C1_A1=$(cputime "$P_A1"); C1_A2=$(cputime "$P_A2")
W1=$(date +%s.%N)
C1=$((C1_FS + C1_A1 + C1_A2))

avg() { awk -v c="$2" '{ s += $c; n++ } END { printf "%.4f", n ? s / n : 0 }' "$1"; }
L1A=$(avg "$OUT/overhead.without" 2); L1B=$(avg "$OUT/overhead.with" 2)
L5A=$(avg "$OUT/overhead.without" 3); L5B=$(avg "$OUT/overhead.with" 3)
CUA=$(avg "$OUT/overhead.without" 4); CUB=$(avg "$OUT/overhead.with" 4)
awk -v secs="$SECS" -v l1a="$L1A" -v l1b="$L1B" -v l5a="$L5A" -v l5b="$L5B" \
    -v cua="$CUA" -v cub="$CUB" -v c0="$C0" -v c1="$C1" -v clk="$CLK" -v ncpu="$NCPU" \
    -v w0="$W0" -v w1="$W1" -v fs="$C1_FS" -v a1="$C1_A1" -v a2="$C1_A2" '
function rel(a, b) { return a > 0 ? 100 * (b - a) / a : 0 }
BEGIN {
    own = (c1 - c0) / clk; wall = w1 - w0
    printf "phase_seconds %d\nnproc %d\n", secs, ncpu
    printf "load1 without %.3f with %.3f overhead %+.1f%%\n", l1a, l1b, rel(l1a, l1b)
    printf "load5 without %.3f with %.3f overhead %+.1f%%\n", l5a, l5b, rel(l5a, l5b)
    printf "cpu_util without %.2f%% with %.2f%% overhead %+.1f%% (relative)\n", cua, cub, rel(cua, cub)
    printf "own_cpu_seconds %.2f over %.1f s (reschedfs %.2f s total, agents %.2f + %.2f s total)\n", own, wall, fs / clk, a1 / clk, a2 / clk
    printf "own_cpu %.3f%% of one core, %.3f%% of the machine; %.2f%% relative to the CPU in use without it\n", \
        100 * own / wall, 100 * own / wall / ncpu, (cua > 0 ? 100 * (100 * own / wall / ncpu) / cua : 0)
}' | tee "$OUT/overhead.txt"
gnuplot -e "without='$OUT/overhead.without'; with='$OUT/overhead.with'; outfile='$EXP_ROOT/docs/overhead-load.png'" \
    "$EXP_DIR/overhead.gp" || exp_die "gnuplot failed"
