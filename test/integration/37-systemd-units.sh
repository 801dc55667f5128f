#!/bin/sh
# 37-systemd-units: the installed units pass `systemd-analyze verify` with
# no message at all (their Documentation= pages found among the installed
# ones), name the installed programs and configuration, and
# have the ordering and restart policy of DESIGN/INSTALL: reschedfs mounts
# /resched and stops by unmounting; the agent reads agent.conf, starts
# after the network and the registry, and a stop leaves its jobs running.
# The example configurations are accepted by the daemons' reader as they
# are installed (the agent's --once with it, reschedfs up to the mount).
set -u
cd "$(dirname "$0")/../.." || exit 1
command -v systemd-analyze >/dev/null || { echo "needs systemd-analyze (systemd)"; exit 77; }
T=$(mktemp -d "/tmp/resched-it37-$$-XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
I=$T/prefix
make -s install PREFIX="$I" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
U=$I/lib/systemd/system
FS=$U/reschedfs.service AG=$U/resched-agent.service
for u in "$FS" "$AG"; do
    [ -f "$u" ] || fail "not installed: $u"
    MANPATH="$I/share/man:" systemd-analyze verify "$u" >"$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "verify ${u##*/}"; }
    [ -s "$T/verify.out" ] && { cat "$T/verify.out"; fail "verify ${u##*/} printed warnings"; }
    grep -q '@[A-Z]*@' "$u" && fail "${u##*/}: unsubstituted @VAR@"
    grep -q '^Restart=on-failure$' "$u" || fail "${u##*/}: Restart=on-failure"
    grep -q '^RestartPreventExitStatus=2$' "$u" || fail "${u##*/}: a configuration error must not restart"
    grep -q '^After=.*network-online.target' "$u" || fail "${u##*/}: not after network-online.target"
    grep -q '^WantedBy=multi-user.target$' "$u" || fail "${u##*/}: WantedBy"
done
echo "ok - systemd-analyze verify: both units, no warnings"
grep -q "^ExecStart=$I/bin/reschedfs --config $I/etc/resched/reschedfs.conf -f /resched\$" "$FS" ||
    fail "reschedfs.service ExecStart"
grep -q '^ExecStop=-fusermount3 -u /resched$' "$FS" || fail "reschedfs.service stops by unmounting"
grep -q "^ExecStart=$I/bin/resched-agent --config $I/etc/resched/agent.conf\$" "$AG" ||
    fail "resched-agent.service ExecStart"
grep -q '^After=.*reschedfs.service' "$AG" || fail "agent not ordered after reschedfs"
grep -q '^KillMode=process$' "$AG" || fail "agent stop would kill the jobs it started"
echo "ok - units: installed paths, /resched, ordering, restart policy"

# The example configurations parse as installed.  The agent's needs a
# registry only for the daemon: --once reads every other key.
"$I/bin/resched-agent" --config "$I/etc/resched/agent.conf" --once --interval 0.1 \
    >"$T/once.out" 2>"$T/once.err" || { cat "$T/once.err"; fail "agent.conf as installed"; }
# reschedfs with its example: the configuration is read before the mount
# point is checked, so a missing mount point is the first complaint.
"$I/bin/reschedfs" --config "$I/etc/resched/reschedfs.conf" -f "$T/no-such-dir" \
    >"$T/fs.out" 2>&1 && fail "reschedfs mounted a missing directory"
grep -q "no-such-dir" "$T/fs.out" || { cat "$T/fs.out"; fail "reschedfs.conf as installed"; }
printf 'listen 127.0.0.1:1\nbogus 1\n' >"$T/bad.conf"
"$I/bin/reschedfs" --config "$T/bad.conf" "$T" >"$T/bad.out" 2>&1; rc=$?
[ $rc = 2 ] || fail "a bad reschedfs config exits $rc, want 2"
grep -q "bad.conf:2: unknown key 'bogus'" "$T/bad.out" || { cat "$T/bad.out"; fail "bad config message"; }
printf 'interval 0\n' >"$T/bad-agent.conf"
"$I/bin/resched-agent" --config "$T/bad-agent.conf" --once >"$T/bad.out" 2>&1; rc=$?
[ $rc = 2 ] || fail "a bad agent config exits $rc, want 2"
grep -q "bad-agent.conf:1: interval: '0' is not" "$T/bad.out" || { cat "$T/bad.out"; fail "bad agent config message"; }
# Options on the command line win over the file: --once sleeps one
# interval, an hour by the file, a tenth of a second by the flag.
printf 'interval 3600\n' >"$T/win.conf"
timeout 20 "$I/bin/resched-agent" --config "$T/win.conf" --once --interval 0.1 >"$T/win.out" 2>&1 ||
    fail "the command line's --interval did not win over the file's"
echo "ok - example configurations accepted; bad ones fail with FILE:LINE and exit 2; flags win"
