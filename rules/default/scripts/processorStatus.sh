#!/bin/sh
# processorStatus.sh — print the CPU idle percent measured over about one
# second (the paper's Rule 1 used vmstat's idle column).
#
# Without RESCHED_CGROUP: from /proc/stat (idle + iowait over all jobs).
# With RESCHED_CGROUP (a cgroup path, absolute or relative to the cpu /
# cpuacct or unified hierarchy): 100 - the cgroup's CPU use in percent of
# what it may use (its quota, else every CPU).  Last line: the number.
set -u
interval=${RESCHED_IDLE_INTERVAL:-1}

cg_dir() {
    for d in "$1" /sys/fs/cgroup/cpu,cpuacct/"$1" /sys/fs/cgroup/cpuacct/"$1" \
             /sys/fs/cgroup/cpu/"$1" /sys/fs/cgroup/unified/"$1" /sys/fs/cgroup/"$1"; do
        if [ -r "$d/cpuacct.usage" ] || grep -q usage_usec "$d/cpu.stat" 2>/dev/null; then
            echo "$d"; return 0
        fi
    done
    for d in "$1" /sys/fs/cgroup/cpu/"$1" /sys/fs/cgroup/unified/"$1" /sys/fs/cgroup/"$1"; do
        [ -r "$d/cgroup.procs" ] && { echo "$d"; return 0; }
    done
    return 1
}

# CPU time used by the cgroup so far, in microseconds: cpuacct (v1) or
# cpu.stat usage_usec (v2); else the sum over its member processes'
# utime + stime (processes that exit during the window are not counted).
cg_usage_us() {
    if [ -r "$1/cpuacct.usage" ]; then
        awk '{ printf "%.0f\n", $1 / 1000 }' "$1/cpuacct.usage"
    elif grep -q usage_usec "$1/cpu.stat" 2>/dev/null; then
        awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"
    else
        for p in $(cat "$1/cgroup.procs"); do cat "/proc/$p/stat" 2>/dev/null; done |
            awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); u += $12 + $13 }
                END { printf "%.0f\n", u * 1000000 / hz }'
    fi
}

# How many CPUs the cgroup may use: its quota, else all of them.
cg_cpus() {
    ncpu=$(getconf _NPROCESSORS_ONLN)
    q=""
    if [ -r "$1/cpu.cfs_quota_us" ]; then
        q=$(awk -v p="$(cat "$1/cpu.cfs_period_us")" '$1 > 0 { print $1 / p }' "$1/cpu.cfs_quota_us")
    elif [ -r "$1/cpu.max" ]; then
        q=$(awk '$1 != "max" { print $1 / $2 }' "$1/cpu.max")
    fi
    # a cgroup v1 quota may sit under a sibling hierarchy path
    [ -z "$q" ] && [ -r "/sys/fs/cgroup/cpu/${RESCHED_CGROUP#/sys/fs/cgroup/*/}/cpu.cfs_quota_us" ] &&
        q=$(awk '$1 > 0 { print $1 / 100000 }' "/sys/fs/cgroup/cpu/${RESCHED_CGROUP#/sys/fs/cgroup/*/}/cpu.cfs_quota_us")
    echo "${q:-$ncpu}"
}

cgroup_idle() {
    d=$(cg_dir "$1") || { echo "processorStatus.sh: no cpu accounting for cgroup $1" >&2; exit 1; }
    u0=$(cg_usage_us "$d"); t0=$(date +%s%N)
    sleep "$interval"
    u1=$(cg_usage_us "$d"); t1=$(date +%s%N)
    awk -v du=$((u1 - u0)) -v dt=$(( (t1 - t0) / 1000 )) -v c="$(cg_cpus "$d")" \
        'BEGIN { i = 100 - 100 * du / (dt * c); if (i < 0) i = 0; printf "%.1f\n", i }'
}

host_idle() {
    s0=$(awk '$1 == "cpu" { print $5 + $6, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    sleep "$interval"
    s1=$(awk '$1 == "cpu" { print $5 + $6, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    echo "$s0 $s1" | awk '{ dt = $4 - $2; if (dt <= 0) { print 100; exit }
                            printf "%.1f\n", 100 * ($3 - $1) / dt }'
}

if [ -n "${RESCHED_CGROUP:-}" ]; then
    cgroup_idle "$RESCHED_CGROUP"
else
    host_idle
fi
