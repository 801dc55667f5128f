#!/bin/sh
# 50-cluster-hosts.sh — three namespaced hosts with agents appear in hosts/ with plausible values; shell tools behave.
TNAME=cluster-hosts
. "$(dirname "$0")/../lib/regtest.sh"

start_fs
inotifywait -m -e create "$M/hosts" >"$T/inotify.log" 2>&1 &
cluster_track $!
wait_until 5 grep -q "Watches established" "$T/inotify.log" || fail "inotifywait did not start"
for h in h1 h2 h3; do cluster_add_host $h; start_agent $h; done
wait_until 10 sh -c "[ \$(ls '$M/hosts' | wc -l) -eq 3 ]" || fail "hosts/ has $(ls "$M/hosts" | wc -l) entries, not 3"
ok "three hosts in hosts/: $(ls "$M/hosts" | tr '\n' ' ')"
for h in h1 h2 h3; do
    wait_until 5 grep -q "CREATE,ISDIR $h\$" "$T/inotify.log" || fail "no CREATE for $h: $(cat "$T/inotify.log")"
done
ok "inotifywait -m saw CREATE for each host"
for h in h1 h2 h3; do
    wait_until 5 test -s "$M/hosts/$h/metrics/load1" || fail "$h: no metrics"
    wait_until 5 sh -c "ls '$M/hosts/$h/rules' | grep -q ." || fail "$h: no rule verdicts"
    I=$M/hosts/$h/info
    grep -qx "arch $(uname -m)" "$I" || fail "$h info arch: $(cat "$I")"
    grep -qx "os Linux" "$I" || fail "$h info os"
    grep -qx "addr $(cluster_addr $h)" "$I" || fail "$h info addr is not $(cluster_addr $h): $(cat "$I")"
    grep -Eqx "cpus [0-9.]+" "$I" || fail "$h info cpus"
    grep -Eqx "mem_total [0-9]+" "$I" || fail "$h info mem_total"
    grep -Eqx "byte_order (little|big)" "$I" || fail "$h info byte_order"
    grep -q "^agent_version " "$I" || fail "$h info agent_version"
    grep -Eqx "free|busy|overloaded" "$M/hosts/$h/state" || fail "$h state: $(cat "$M/hosts/$h/state")"
    grep -Eqx "[0-9]+(\.[0-9]+)?" "$M/hosts/$h/metrics/load1" || fail "$h load1: $(cat "$M/hosts/$h/metrics/load1")"
    cpu=$(cat "$M/hosts/$h/metrics/cpu_util")
    awk -v v="$cpu" 'BEGIN { exit !(v >= 0 && v <= 100) }' || fail "$h cpu_util $cpu"
    for r in "$M/hosts/$h/rules/"*; do
        grep -Eqx "(free|busy|overloaded|error) [-0-9.e+naif]+" "$r" || fail "$r: $(cat "$r")"
    done
    seen=$(cat "$M/hosts/$h/seen"); lease=$(cat "$M/hosts/$h/lease")
    awk -v s="$seen" -v l="$lease" 'BEGIN { exit !(s >= 0 && s < 2.5 && l > 0 && l <= 3) }' \
        || fail "$h seen=$seen lease=$lease"
done
ok "info, state, metrics, rules, seen, lease plausible"
[ "$(cat "$M"/hosts/*/state | wc -l)" -eq 3 ] || fail "cat hosts/*/state"
n=$(grep -r . "$M/hosts/h2/metrics" | wc -l)
[ "$n" -ge 10 ] || fail "grep -r found $n metric lines"
[ "$(find "$M/hosts" -name state | wc -l)" -eq 3 ] || fail "find -name state"
[ "$(grep -l . "$M"/hosts/*/info | wc -l)" -eq 3 ] || fail "grep -l info"
sz=$(ls -l "$M/hosts/h1/info" | awk '{print $5}')
[ "$sz" -eq "$(cat "$M/hosts/h1/info" | wc -c)" ] || fail "ls -l size $sz is not the content size"
ls -l "$M/hosts/h1" | grep -q " metrics$" || fail "ls -l hosts/h1"
ok "cat, grep -r, find and ls -l behave"
echo "PASS"
