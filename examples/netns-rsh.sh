#!/bin/sh
# netns-rsh.sh — Open MPI's "remote shell" for hosts that are network
# namespaces on this machine (DESIGN §7).  mpirun runs it as
#     netns-rsh.sh [ssh-style options] HOST COMMAND...
# HOST is a host's address (or name) from $RESCHED_CLUSTER_MAP, whose lines
# are "ADDR NAMESPACE CGROUP NAME" (written by test/lib/cluster.sh).  The
# command joins the host's cgroups, then its network namespace, and runs
# COMMAND with sh -c, as ssh would.  With RESCHED_RUN_PATTERN set (e.g.
# /tmp/x/run-%s), RESCHED_RUN is that pattern with %s replaced by the
# host's NAME: each namespaced host's agent has its own run directory, as
# /run/resched is per machine on a real cluster, and Open MPI's daemon on
# the host (and every rank it starts) finds that host's agent.
#     mpirun --mca plm_rsh_agent examples/netns-rsh.sh --hostfile HF ...
set -eu
while [ $# -gt 0 ]; do
    case "$1" in
        -x|-T|-t|-q|-n) shift ;;
        -o|-l|-p|-i) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
host=$1; shift
map=${RESCHED_CLUSTER_MAP:?netns-rsh.sh: RESCHED_CLUSTER_MAP is not set}
line=$(awk -v h="$host" '$1 == h || $4 == h { print; exit }' "$map")
[ -n "$line" ] || { echo "netns-rsh.sh: unknown host $host" >&2; exit 255; }
set -- "$@"
ns=$(echo "$line" | awk '{print $2}')
cg=$(echo "$line" | awk '{print $3}')
if [ -n "${RESCHED_RUN_PATTERN:-}" ]; then
    name=$(echo "$line" | awk '{print $4}')
    RESCHED_RUN=$(printf '%s' "$RESCHED_RUN_PATTERN" | sed "s|%s|$name|")
    export RESCHED_RUN
fi
for d in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpuacct /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do
    [ -d "$d/$cg" ] && echo $$ > "$d/$cg/cgroup.procs"
done
exec nsenter --net="/run/netns/$ns" sh -c "$*"
