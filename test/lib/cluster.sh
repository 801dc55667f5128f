# cluster.sh — a cluster of hosts on one machine, for tests and the demo.
# Source it from a POSIX sh script (needs root):
#
#   . test/lib/cluster.sh
#   cluster_init                 # bridge + registry address, trap cleanup
#   cluster_add_host h1 [QUOTA]  # namespace h1 at 10.R.S.11, optional CPU
#                                # share in percent of one core (cgroup v1)
#   cluster_exec h1 CMD...       # run CMD inside h1 (namespace + cgroup)
#   cluster_bg h1 LOG CMD...     # same, in the background; PID recorded
#   cluster_addr h1              # print h1's address
#   cluster_host_key KEY h1      # print the path of host h1's key, derived
#                                # (once) from cluster key file KEY
#
# Every name carries this shell's PID ($CL_ID), so concurrent runs never
# collide; cluster_cleanup (installed as an EXIT trap by cluster_init)
# kills the processes this script started (by PID, and any still in its
# cgroups), removes namespaces, veths, the bridge and the cgroups.
# CL_REG_ADDR is the root namespace's address on the bridge: a registry
# there is reachable from every host.

CL_ID=${CL_ID:-$$}
CL_PIDS=""
CL_HOSTS=""
CL_NEXT=11
# a /24 private to this run: 10.(200+ID/250%50).(ID%250).0/24
CL_NET="10.$((200 + (CL_ID / 250) % 50)).$((CL_ID % 250))"
CL_BR="rsbr$CL_ID"
CL_REG_ADDR="$CL_NET.1"
CL_CG_CPU=/sys/fs/cgroup/cpu
CL_CG_CPUACCT=/sys/fs/cgroup/cpuacct
CL_CG_MEM=/sys/fs/cgroup/memory
CL_CG_V2=/sys/fs/cgroup/unified
# "ADDR NAMESPACE CGROUP" per host, read by examples/netns-rsh.sh so that
# mpirun can start ranks on the namespaced hosts.
CL_MAP=/tmp/resched-cluster-$CL_ID.map
export RESCHED_CLUSTER_MAP=$CL_MAP

cluster_need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "needs root (network namespaces, cgroups)"; exit 77
    fi
    command -v ip >/dev/null || { echo "needs iproute2"; exit 77; }
}

cluster_init() {
    cluster_need_root
    trap cluster_cleanup EXIT
    trap 'exit 130' INT TERM
    ip link add "$CL_BR" type bridge || { echo "cannot create a bridge"; exit 77; }
    ip addr add "$CL_REG_ADDR/24" dev "$CL_BR"
    ip link set "$CL_BR" up
    : > "$CL_MAP"
}

cluster_ns() { echo "rs$CL_ID-$1"; }
cluster_cg() { echo "resched-$CL_ID-$1"; }

cluster_addr() {
    _i=1
    for _h in $CL_HOSTS; do
        _i=$((_i + 1))
        [ "$_h" = "$1" ] && { echo "$CL_NET.$((_i + 9))"; return 0; }
    done
    return 1
}

cluster_add_host() {
    _name=$1 _quota=${2:-}
    _ns=$(cluster_ns "$_name")
    _addr="$CL_NET.$CL_NEXT"
    _veth="rv$CL_ID$CL_NEXT"
    CL_NEXT=$((CL_NEXT + 1))
    CL_HOSTS="$CL_HOSTS $_name"
    ip netns add "$_ns"
    ip link add "$_veth" type veth peer name "${_veth}p"
    ip link set "${_veth}p" netns "$_ns"
    ip link set "$_veth" master "$CL_BR" up
    ip -n "$_ns" link set "${_veth}p" name eth0
    ip -n "$_ns" addr add "$_addr/24" dev eth0
    ip -n "$_ns" link set eth0 up
    ip -n "$_ns" link set lo up
    ip -n "$_ns" route add default via "$CL_REG_ADDR"
    _cg=$(cluster_cg "$_name")
    for _d in "$CL_CG_CPU" "$CL_CG_CPUACCT" "$CL_CG_MEM" "$CL_CG_V2"; do
        [ -d "$_d" ] && mkdir -p "$_d/$_cg" 2>/dev/null
    done
    echo "$_addr $_ns $_cg $_name" >> "$CL_MAP"
    if [ -n "$_quota" ] && [ -d "$CL_CG_CPU/$_cg" ]; then
        echo 100000 > "$CL_CG_CPU/$_cg/cpu.cfs_period_us"
        echo $((_quota * 1000)) > "$CL_CG_CPU/$_cg/cpu.cfs_quota_us"
    fi
}

# The command line that enters host $1: its cgroups, then its network
# namespace.  nsenter --net, not `ip netns exec`: the latter remounts /sys,
# which hides /sys/fs/cgroup from the host's agent.
cluster_enter_cmd() {
    _cg=$(cluster_cg "$1")
    _join=""
    for _d in "$CL_CG_CPU" "$CL_CG_CPUACCT" "$CL_CG_MEM" "$CL_CG_V2"; do
        [ -d "$_d/$_cg" ] && _join="$_join echo \$\$ > $_d/$_cg/cgroup.procs;"
    done
    echo "sh -c '$_join exec nsenter --net=/run/netns/$(cluster_ns "$1") \"\$0\" \"\$@\"'"
}

cluster_exec() {
    _h=$1; shift
    eval "$(cluster_enter_cmd "$_h")" '"$@"'
}

# CL_LAST_PID is the command's own PID: the background shell execs the
# entry command, which execs nsenter, which execs the command.
cluster_bg() {
    _h=$1 _log=$2; shift 2
    eval "exec $(cluster_enter_cmd "$_h")" '"$@"' >"$_log" 2>&1 &
    CL_LAST_PID=$!
    CL_PIDS="$CL_PIDS $CL_LAST_PID"
}

# Record a PID started some other way so cleanup stops it.
cluster_track() { CL_PIDS="$CL_PIDS $1"; }

cluster_cleanup() {
    _rc=$?
    trap - EXIT INT TERM
    for _p in $CL_PIDS; do kill "$_p" 2>/dev/null; done
    sleep 0.2
    for _p in $CL_PIDS; do kill -9 "$_p" 2>/dev/null; done
    for _h in $CL_HOSTS; do
        _cg=$(cluster_cg "$_h")
        for _d in "$CL_CG_CPU" "$CL_CG_CPUACCT" "$CL_CG_MEM" "$CL_CG_V2"; do
            [ -d "$_d/$_cg" ] || continue
            # processes left in the host's cgroup were started by this run
            for _p in $(cat "$_d/$_cg/cgroup.procs" 2>/dev/null); do
                kill -9 "$_p" 2>/dev/null
            done
        done
    done
    sleep 0.1
    for _h in $CL_HOSTS; do
        _cg=$(cluster_cg "$_h")
        for _d in "$CL_CG_CPU" "$CL_CG_CPUACCT" "$CL_CG_MEM" "$CL_CG_V2"; do
            [ -d "$_d/$_cg" ] && rmdir "$_d/$_cg" 2>/dev/null
        done
        ip netns del "$(cluster_ns "$_h")" 2>/dev/null
    done
    ip link del "$CL_BR" 2>/dev/null
    rm -f "$CL_MAP"
    [ -n "${CL_EXTRA_CLEANUP:-}" ] && eval "$CL_EXTRA_CLEANUP"
    exit $_rc
}

# cluster_host_key KEY HOST: host HOST's key (bin/resched-key host), made
# next to the cluster key file KEY the first time; prints its path.
cluster_host_key() {
    _hk="${1%/*}/host-$2.key"
    if [ ! -s "$_hk" ]; then
        "${ROOT:-${SC_ROOT:-${EXP_ROOT:-.}}}/bin/resched-key" host "$2" \
            < "$1" > "$_hk.tmp" || return 1
        mv "$_hk.tmp" "$_hk"
    fi
    echo "$_hk"
}
