#!/bin/sh
# 58-trust-default.sh — without --key only root of this machine gets in: a
# fake agent of nobody on loopback is refused (the kernel says whose socket
# it is), root's is served; with --key nobody holding no key is refused too.
TNAME=trust-default
. "$(dirname "$0")/../lib/trusttest.sh"

HELLO='hello name=evil interval=1 arch=x86_64 addr=127.0.0.1'
start_fs
# nobody: the registry closes at accept, nothing reaches the tree
out=$(printf '%s\n@wait welcome\n' "$HELLO" | as_nobody "$FA" --registry "$REG" --wait 2 2>&1)
rc=$?
[ $rc -ne 0 ] || fail "nobody's fake agent was served: $out"
[ ! -e "$M/hosts/evil" ] || fail "nobody created hosts/evil"
wait_until 5 grep -q "refused: uid 65534 is not root and there is no --key" "$T/fs.log" ||
    fail "no refusal naming uid 65534 in the log"
ok "uid 65534 refused without a key: $(grep 'uid 65534' "$T/fs.log" | tail -1 | sed 's/^.*: refused/refused/')"
# the attack of the issue: an overloaded host and a root job, as nobody
printf '%s\nupdate state=overloaded\njob_register local=1 pid=1 uid=0 prog=/bin/sh argc=3 arg0=sh arg1=-c arg2=id\n@sleep 0.5\n' "$HELLO" |
    as_nobody "$FA" --registry "$REG" --wait 1 >/dev/null 2>&1
[ -z "$(ls "$M/procs")" ] || fail "nobody registered a job: $(ls "$M/procs")"
ok "nobody's job_register never reaches the registry"
# root on this machine: served
out=$(printf 'hello name=good interval=1\n@wait welcome\n' | "$FA" --registry "$REG" 2>&1) ||
    fail "root's agent was not served: $out"
echo "$out" | grep -q "^welcome .*host=good" || fail "no welcome for root: $out"
[ -d "$M/hosts/good" ] || fail "hosts/good missing"
ok "root's agent welcomed"
stop_fs

# with a key: nobody without it is refused at the handshake
start_fs --key "$KEY"
out=$(printf '%s\n@wait welcome\n' "$HELLO" | as_nobody "$FA" --registry "$REG" --wait 2 2>&1)
[ $? -ne 0 ] || fail "a peer without a key was served: $out"
echo "$out" | grep -q "closed:" || fail "no close for a peer without a key: $out"
[ ! -e "$M/hosts/evil" ] || fail "hosts/evil created without a key"
ok "with --key, no key means no entry ($(echo "$out" | tail -1))"
echo PASS
