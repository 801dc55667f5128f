#!/bin/sh
# 82-sched-drain.sh — `echo drain > hosts/h1/state`: three jobs on h1, two
# of them runnable anywhere, one whose schema requires an arch no host has
# (sparc64).  Manual mode (drain is an admin order and acts there too).
#   - h1's state reads `draining`; the two jobs move off one by one (the
#     second move is requested only after the first has finished), each to
#     a free host;
#   - the sparc64 job stays; its why says `stays: fits nowhere` with every
#     other host refused for its arch; sched/decisions says fits nowhere;
#   - h1 accepts nothing: `echo h1 > procs/ID/migrate` fails (EHOSTUNREACH);
#   - `echo resume` ends it: h1's state is a rule verdict again and the
#     same write now moves a job back; every job ends with its reference sum.
TNAME=sched-drain
cd "$(dirname "$0")/../.." || exit 1
. test/lib/sched-common.sh
sc_init
sc_start_fs
for h in h1 h2 h3; do sc_add_host $h 50; done
# loose thresholds: a host running one job stays free
sc_rule_procs_running 2 3
sc_wait 10 state_is h1 free || fail "h1 not free: $(state h1)"
ok "registry, three hosts, manual mode"

ARGS="--levels 10 --trees 3 --iterations 200 --seed 3 --sleep-ms 100"
sc_reference j $ARGS
cat > "$T/sparc.xml" <<XML
<?xml version="1.0"?>
<application name="test_tree">
  <requires><arch>sparc64</arch></requires>
</application>
XML
sc_start_job h1 a $ARGS --mig-schema examples/test_tree.schema.xml; A=$SC_JOB
sc_start_job h1 b $ARGS --mig-schema examples/test_tree.schema.xml; B=$SC_JOB
sc_start_job h1 c $ARGS --mig-schema "$T/sparc.xml"; C=$SC_JOB
cp "$T/j.ref" "$T/a.ref"; cp "$T/j.ref" "$T/b.ref"; cp "$T/j.ref" "$T/c.ref"
ok "jobs $A $B (any x86_64 host) and $C (requires sparc64) on h1"

echo drain > "$M/hosts/h1/state" || fail "echo drain failed"
sc_wait 3 state_is h1 draining || fail "h1 state $(state h1), not draining"
ok "h1 state: draining"
off_h1() { for _j in $A $B; do [ "$(field "$_j" host)" != h1 ] || return 1; done; }
sc_wait 20 off_h1 || fail "jobs $A $B not both off h1: $(field "$A" host) $(field "$B" host)"
for j in $A $B; do
    d=$(field "$j" host)
    case $d in h2|h3) ;; *) fail "job $j on '$d'" ;; esac
    sc_wait 5 host_is "$j" "$d" || fail "job $j status $(field "$j" status)"
    field "$j" history | grep -q "h1 $d .*ok" || fail "job $j history: $(field "$j" history)"
    # the schema stays with the job: the successor registers without one
    cmp -s examples/test_tree.schema.xml "$M/procs/$j/schema" ||
        fail "job $j schema after the move: $(head -c 200 "$M/procs/$j/schema")"
done
ok "drained: job $A -> $(field "$A" host), job $B -> $(field "$B" host), schemas kept"

# one by one: no move requested while the other was in flight
timeout 1 cat "$M/events" > "$T/events.txt" 2>/dev/null
grep -E "migration-(requested|finished|failed) job=($A|$B) " "$T/events.txt" > "$T/moves.txt"
awk '/migration-requested/ { if (open) bad = 1; open = 1 }
     /migration-(finished|failed)/ { open = 0 }
     END { exit bad || NR != 4 }' "$T/moves.txt" || fail "moves overlap or missing: $(cat "$T/moves.txt")"
grep -q "by=sched" "$T/moves.txt" || fail "moves not made by the scheduler: $(cat "$T/moves.txt")"
ok "one by one: $(grep -c requested "$T/moves.txt") moves, each requested after the previous finished"

host_is "$C" h1 || fail "job $C left h1: $(field "$C" host)"
# right after a move a destination is `reserved` until its next report;
# the drain's next pass then gives the lasting reason, the arch
arch_refused() {
    for h in h2 h3; do
        field "$C" why | grep -q "^  $h refused: missing arch: host is $(uname -m), job runs on sparc64" || return 1
    done
}
sc_wait 10 arch_refused || true
W=$(field "$C" why)
echo "$W" | head -1 | grep -q "job $C on h1 (mode manual): stays: fits nowhere" || fail "why of $C: $W"
for h in h2 h3; do
    echo "$W" | grep -q "^  $h refused: missing arch: host is $(uname -m), job runs on sparc64" ||
        fail "why of $C does not refuse $h for its arch: $W"
done
grep -q "host=h1 job=$C action=none dest=- reason=\"fits nowhere" "$M/sched/decisions" ||
    fail "no fits-nowhere decision for $C: $(tail -3 "$M/sched/decisions")"
ok "job $C stays on h1: $(echo "$W" | grep "h2 refused")"

if /bin/echo h1 2>"$T/to-h1.err" > "$M/procs/$A/migrate"; then
    fail "a move to draining h1 was accepted"
fi
grep -q "No route to host" "$T/to-h1.err" || fail "write to migrate: $(cat "$T/to-h1.err")"
host_is "$A" "$(field "$A" host)" && [ "$(field "$A" host)" != h1 ] || fail "job $A moved to h1"
ok "h1 accepts nothing: echo h1 > procs/$A/migrate: $(cat "$T/to-h1.err")"
sleep 2
host_is "$C" h1 || fail "job $C moved during drain"

echo resume > "$M/hosts/h1/state" || fail "echo resume failed"
sc_wait 5 sh -c "s=\$(cat '$M/hosts/h1/state'); [ \"\$s\" = free ] || [ \"\$s\" = busy ] || [ \"\$s\" = overloaded ]" ||
    fail "h1 state after resume: $(state h1)"
ok "resumed: h1 state $(state h1)"
echo h1 > "$M/procs/$A/migrate" || fail "move back to h1 after resume failed: $(field "$A" migrate)"
sc_wait 5 host_is "$A" h1 || fail "job $A not running on h1: $(field "$A" host) $(field "$A" status)"
ok "after resume h1 accepts job $A again"
sleep 2
host_is "$A" h1 || fail "job $A was moved off h1 again after resume: $(field "$A" history)"
for j in a b c; do sc_check_sum $j 60; done
ok "jobs finished with the unmigrated sum: $(cat "$T/a.sum")"
exit 0
