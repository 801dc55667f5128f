#!/bin/sh
# 20-agent-once: bin/resched-agent --once on the default rules prints well
# formed lines; a broken script gives its rule the `error` verdict; under a
# cgroup with a busy loop and a 30% quota the metrics are scoped to it.
set -u
cd "$(dirname "$0")/../.." || exit 1
AGENT=bin/resched-agent
[ -x "$AGENT" ] || { echo "20-agent-once: $AGENT not built"; exit 1; }

T=$(mktemp -d "/tmp/resched-20-agent-once-$$-XXXXXX")
CG="resched-it20-$$"
SPIN=""
cleanup() {
    [ -n "$SPIN" ] && kill -9 "$SPIN" 2>/dev/null && wait "$SPIN" 2>/dev/null
    for d in /sys/fs/cgroup/cpu/$CG /sys/fs/cgroup/cpuacct/$CG \
             /sys/fs/cgroup/memory/$CG /sys/fs/cgroup/unified/$CG; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# Every line: metrics/NAME NUMBER | rules/NAME STATE VALUE | state STATE.
check_format() {
    awk '
    /^metrics\/[A-Za-z0-9_.-]+ -?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$/ { m++; next }
    /^rules\/[A-Za-z0-9_.-]+ (free|busy|overloaded) -?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$/ { r++; next }
    /^rules\/[A-Za-z0-9_.-]+ error nan$/ { r++; next }
    /^state (free|busy|overloaded)$/ { s++; next }
    { print "bad line: " $0; bad++ }
    END { if (bad || s != 1 || m < 10) { print "metrics " m " rules " r " state " s; exit 1 } }
    ' "$1"
}

# 1. default rules
"$AGENT" --once --interval 0.5 >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "--once exited $?"; }
check_format "$T/out" || fail "format of the default --once output"
grep -q '^metrics/cpu_idle ' "$T/out" || fail "no cpu_idle"
grep -q '^metrics/mem_total ' "$T/out" || fail "no mem_total"
grep -q '^rules/' "$T/out" || fail "no rule verdicts on the default rules"
grep '^metrics/' "$T/out" > "$T/out.m"
LC_ALL=C sort -c "$T/out.m" || fail "metrics are not sorted"
echo "default rules: $(grep -c '^metrics/' "$T/out") metrics, $(grep '^state' "$T/out")"

# 2. a broken script gives an error verdict, a good one a value
mkdir -p "$T/rules" "$T/scripts"
cat > "$T/rules/t.rule" <<'EOF'
rl_number: 1
rl_name: good
rl_type: simple
rl_script: good.sh
rl_param: 2 3
rl_operator: >
rl_busy: 10
rl_overLd: 20

rl_number: 2
rl_name: garbage
rl_type: simple
rl_script: garbage.sh
rl_operator: >
rl_busy: 1
rl_overLd: 2

rl_number: 3
rl_name: missing
rl_type: simple
rl_script: no-such-script.sh
rl_operator: >
rl_busy: 1
rl_overLd: 2
EOF
printf '#!/bin/sh\necho "$RESCHED_HOST"\necho $(( $1 * $2 ))\n' > "$T/scripts/good.sh"
printf '#!/bin/sh\necho not-a-number\n' > "$T/scripts/garbage.sh"
chmod +x "$T/scripts/good.sh" "$T/scripts/garbage.sh"
"$AGENT" --once --interval 0.2 --rules "$T/rules" --scripts "$T/scripts" \
    --name it20 >"$T/out2" 2>"$T/err2" || { cat "$T/err2"; fail "--once with scripts"; }
check_format "$T/out2" || fail "format with scripts"
grep -qx 'rules/good free 6' "$T/out2" || fail "good script: $(grep good "$T/out2")"
grep -qx 'rules/garbage error nan' "$T/out2" || fail "garbage script not an error"
grep -qx 'rules/missing error nan' "$T/out2" || fail "missing script not an error"
grep -q 'garbage' "$T/err2" || fail "no log line for the garbage script"
grep -qx 'state free' "$T/out2" || fail "errored rules changed the state"

# 3. bad usage
"$AGENT" >/dev/null 2>"$T/err3"; rc=$?
[ $rc -eq 2 ] || fail "no --registry/--once: exit $rc, want 2"
grep -q 'resched-agent: --registry ADDR:PORT is required (or --once)' "$T/err3" || fail "usage message"
"$AGENT" --once --cgroup "resched-none-$$" >/dev/null 2>&1 && fail "unknown cgroup accepted"

# 4. scoped to a cgroup with a busy loop under a 30% quota
if [ "$(id -u)" != 0 ] || ! mkdir /sys/fs/cgroup/cpu/$CG 2>/dev/null; then
    echo "skipped: cgroups are not writable here (need root and v1 cpu at /sys/fs/cgroup/cpu)"
    exit 77
fi
mkdir /sys/fs/cgroup/cpuacct/$CG 2>/dev/null
echo 100000 > /sys/fs/cgroup/cpu/$CG/cpu.cfs_period_us
echo 30000 > /sys/fs/cgroup/cpu/$CG/cpu.cfs_quota_us
sh -c 'while :; do :; done' &
SPIN=$!
echo $SPIN > /sys/fs/cgroup/cpu/$CG/cgroup.procs || fail "cannot join cpu cgroup"
[ -d /sys/fs/cgroup/cpuacct/$CG ] && echo $SPIN > /sys/fs/cgroup/cpuacct/$CG/cgroup.procs
# What the kernel charged the cgroup over the same window is the reference:
# on a busy shared machine the loop may get less than its quota.
acct=/sys/fs/cgroup/cpuacct/$CG/cpuacct.usage
u0=$(cat "$acct"); t0=$(date +%s%N)
"$AGENT" --once --cgroup "$CG" >"$T/out4" 2>"$T/err4" || { cat "$T/err4"; fail "--once --cgroup"; }
u1=$(cat "$acct"); t1=$(date +%s%N)
kernel=$(awk -v du=$((u1 - u0)) -v dt=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * du / dt / 0.3 }')
check_format "$T/out4" || fail "format under a cgroup"
grep -qx 'metrics/cpus 0.3' "$T/out4" || fail "cpus is not the quota: $(grep cpus "$T/out4")"
grep -qx 'metrics/procs 1' "$T/out4" || fail "procs: $(grep 'procs ' "$T/out4")"
util=$(awk '$1 == "metrics/cpu_util" { print $2 }' "$T/out4")
# the agent measures (most of) our window: its figure must agree with the
# kernel's within 15 points, and never exceed the quota
awk -v u="$util" -v k="$kernel" 'BEGIN { d = u - k; if (d < 0) d = -d; exit !(d <= 15 && u <= 100.5) }' ||
    fail "cpu_util $util% of the quota, but the kernel charged $kernel% over the same window"
echo "cgroup $CG: cpu_util $util% of a 0.3-CPU quota (kernel: $kernel% over the run), $(grep '^state' "$T/out4")"
echo "20-agent-once: ok"
