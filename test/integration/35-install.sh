#!/bin/sh
# 35-install: `make install` in both forms an administrator uses.
#  1. DESTDIR=... PREFIX=/opt/resched-test: every file lands under DESTDIR
#     (programs, libraries, header, both pkg-config files, rules, man
#     pages, units, example configuration) with PREFIX written into the
#     files that name paths, and nothing is written outside DESTDIR;
#     `make uninstall` removes it all but the configuration.
#  2. PREFIX=$T/prefix, then the installed programs run from there, away
#     from the build tree: resched-agent --once judges with the installed
#     rules (a marker rule added to them shows up), resched-rule checks
#     them, reschedfs mounts with them (--config), an installed agent joins
#     it (--config) and the mount is removed by fusermount3 -u; counter.c
#     (the README's example) builds against resched-migrate.pc and runs,
#     statically and against the .so, and test_tree_mpi builds against
#     resched-migrate-mpi.pc with mpicc and runs on 2 ranks.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
T=$(mktemp -d "/tmp/resched-it35-$$-XXXXXX")
chmod 755 "$T"
FSPID="" AGPID="" M=$T/mnt
cleanup() {
    [ -n "$AGPID" ] && kill "$AGPID" 2>/dev/null
    [ -n "$FSPID" ] && kill "$FSPID" 2>/dev/null && sleep 0.5
    [ -n "$FSPID" ] && kill -9 "$FSPID" 2>/dev/null
    grep -q " $M " /proc/mounts 2>/dev/null && fusermount3 -uz "$M"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; for l in "$T"/*.log; do [ -s "$l" ] && { echo "--- $l"; tail -15 "$l"; }; done; exit 1; }
ok() { echo "ok - $*"; }

# ---- 1. staged install ----------------------------------------------------
P=/opt/resched-test
D=$T/dest
opt_existed=0; [ -e "$P" ] && opt_existed=1
make -s install DESTDIR="$D" PREFIX="$P" >"$T/install-dest.log" 2>&1 || fail "make install DESTDIR"
[ $opt_existed = 1 ] || [ ! -e "$P" ] || fail "make install DESTDIR wrote to $P itself"
for f in bin/reschedfs bin/resched-agent bin/resched-rule \
         lib/libmigrate.a lib/libmigrate.so include/resched/migrate.h \
         lib/pkgconfig/resched-migrate.pc share/resched/rules/paper.rule \
         share/resched/rules/builtin.rule share/resched/rules/scripts/processorStatus.sh \
         share/man/man8/reschedfs.8 share/man/man8/resched-agent.8 share/man/man1/resched-rule.1 \
         share/man/man5/resched.rules.5 share/man/man7/resched.7 share/man/man3/libmigrate.3 \
         lib/systemd/system/reschedfs.service lib/systemd/system/resched-agent.service \
         etc/resched/agent.conf etc/resched/reschedfs.conf; do
    [ -e "$D$P/$f" ] || fail "not under DESTDIR: $P/$f"
done
if [ -e lib/libmigrate_mpi.a ]; then
    for f in lib/libmigrate_mpi.a lib/pkgconfig/resched-migrate-mpi.pc; do
        [ -e "$D$P/$f" ] || fail "not under DESTDIR: $P/$f"
    done
fi
if [ -x bin/resched-key ]; then
    for f in bin/resched-key share/man/man1/resched-key.1; do
        [ -e "$D$P/$f" ] || fail "not under DESTDIR: $P/$f"
    done
fi
[ -x "$D$P/share/resched/rules/scripts/processorStatus.sh" ] || fail "rule scripts lost their x bit"
grep -q "^prefix=$P\$" "$D$P/lib/pkgconfig/resched-migrate.pc" || fail "resched-migrate.pc: prefix is not $P"
grep -q "^ExecStart=$P/bin/resched-agent --config $P/etc/resched/agent.conf\$" \
    "$D$P/lib/systemd/system/resched-agent.service" || fail "resched-agent.service: ExecStart"
grep -q "^ExecStart=$P/bin/reschedfs .*-f /resched\$" \
    "$D$P/lib/systemd/system/reschedfs.service" || fail "reschedfs.service: ExecStart"
! grep -rq "$D" "$D$P/lib/pkgconfig" "$D$P/lib/systemd" || fail "DESTDIR leaked into an installed file"
# The staged programs already work where they are (their files are found
# next to them, not at PREFIX).
"$D$P/bin/resched-agent" --once --interval 0.2 >"$T/dest-once.out" 2>"$T/dest-once.log" ||
    fail "staged resched-agent --once"
grep -q '^state ' "$T/dest-once.out" || fail "staged --once printed no state"
# An edited configuration survives a reinstall.
echo "# edited" >>"$D$P/etc/resched/agent.conf"
make -s install DESTDIR="$D" PREFIX="$P" >"$T/install-dest2.log" 2>&1 || fail "make install DESTDIR (again)"
grep -q "^# edited" "$D$P/etc/resched/agent.conf" || fail "reinstall overwrote an edited agent.conf"
ok "make install DESTDIR=... PREFIX=$P: every file under DESTDIR, paths say $P"
make -s uninstall DESTDIR="$D" PREFIX="$P" >"$T/uninstall.log" 2>&1 || fail "make uninstall"
left=$(cd "$D$P" && find . -type f ! -path './etc/resched/*' | sort)
[ -z "$left" ] || fail "make uninstall left: $left"
[ -f "$D$P/etc/resched/agent.conf" ] || fail "make uninstall removed the configuration"
ok "make uninstall removes everything but the configuration"

# ---- 2. plain install, programs run from the prefix -----------------------
I=$T/prefix
make -s install PREFIX="$I" >"$T/install.log" 2>&1 || fail "make install PREFIX=$I"
R=$I/share/resched/rules
cat >"$R/it35marker.rule" <<'EOF'
rl_number: 3501
rl_name: it35marker
rl_type: simple
rl_script: @load1
rl_operator: >
rl_busy: 1000
rl_overLd: 2000
EOF
# Run from elsewhere, with the build tree out of PATH and the cwd.
cd "$T" || fail "cd"
"$I/bin/resched-agent" --once --interval 0.2 >"$T/once.out" 2>"$T/once.log" || fail "installed resched-agent --once"
grep -q '^rules/it35marker free ' "$T/once.out" || fail "--once did not use the installed rules"
grep -q '^rules/processorStatus ' "$T/once.out" || fail "--once: no paper rule (scripts not found?)"
ok "installed resched-agent --once judges with $R"
"$I/bin/resched-rule" check "$R"/*.rule 2>"$T/check.log" || fail "installed resched-rule check"
ok "installed resched-rule check of the installed rules"

PORT=$((10000 + $$ % 22000))
mkdir -p "$M" "$T/run"
cat >"$T/fs.conf" <<EOF
# reschedfs for 35-install
mount $M
listen 127.0.0.1:$PORT
foreground yes
EOF
"$I/bin/reschedfs" --config "$T/fs.conf" >"$T/fs.log" 2>&1 &
FSPID=$!
i=0; while [ ! -f "$M/README" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$M/README" ] || fail "installed reschedfs did not mount"
[ -f "$M/rules/it35marker.rule" ] || fail "reschedfs did not load the installed rules"
cat >"$T/agent.conf" <<EOF
registry 127.0.0.1:$PORT
name it35-$$
interval 0.5
run $T/run
EOF
"$I/bin/resched-agent" --config "$T/agent.conf" >"$T/agent.log" 2>&1 &
AGPID=$!
i=0; while [ ! -f "$M/hosts/it35-$$/state" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
st=$(cat "$M/hosts/it35-$$/state" 2>/dev/null) || fail "the installed agent did not join"
ok "installed agent joined the installed reschedfs: hosts/it35-$$/state is $st"
kill "$AGPID"; wait "$AGPID" 2>/dev/null; AGPID=""
fusermount3 -u "$M" || fail "fusermount3 -u"
i=0; while kill -0 "$FSPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$FSPID" 2>/dev/null && fail "reschedfs still runs 10 s after its unmount"
wait "$FSPID"; rc=$?; FSPID=""
[ $rc = 0 ] || fail "reschedfs exited $rc after the unmount"
grep -q " $M " /proc/mounts && fail "still mounted"
ok "installed reschedfs mounted with --config and ended at fusermount3 -u"
cd "$ROOT" || fail "cd"

export PKG_CONFIG_PATH="$I/lib/pkgconfig"
flags=$(pkg-config --cflags --libs resched-migrate) || fail "pkg-config resched-migrate"
echo "pkg-config: $flags"
sed 's|#include "migrate/migrate.h"|#include <resched/migrate.h>|' examples/counter.c > "$T/counter.c"
# shellcheck disable=SC2086
cc -o "$T/counter" "$T/counter.c" $flags -Wl,-rpath,"$I/lib" || fail "build against the .so"
# shellcheck disable=SC2046
cc -o "$T/counter-static" "$T/counter.c" $(pkg-config --cflags resched-migrate) \
    "$I/lib/libmigrate.a" $(pkg-config --libs --static resched-migrate | sed 's/-lmigrate//') ||
    fail "build against the static library"
want="total $(awk 'BEGIN { s = 0; for (i = 0; i < 20; i++) s += i * i; print s }')"
for p in counter counter-static; do
    out=$(RESCHED_RUN="$T/none" "$T/$p" 20 2>"$T/$p.err") || fail "$p exited non-zero"
    [ "$out" = "$want" ] || fail "$p printed '$out', want '$want'"
    grep -q "cannot migrate" "$T/$p.err" || fail "$p: no 'cannot migrate' note without an agent"
done
ok "counter.c built against resched-migrate.pc runs: $want"

if [ ! -e lib/libmigrate_mpi.a ] || ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
    echo "note: no MPI build here; test_tree_mpi against resched-migrate-mpi.pc not tried"
    exit 0
fi
mflags=$(pkg-config --cflags --libs resched-migrate-mpi) || fail "pkg-config resched-migrate-mpi"
echo "pkg-config (mpi): $mflags"
mkdir -p "$T/mpi"
# examples/ include the header as the tree does; an installed user writes <resched/migrate.h>.
for f in examples/test_tree_mpi.c examples/lib/forest.c examples/lib/forest.h; do
    sed -e 's|#include "migrate/migrate.h"|#include <resched/migrate.h>|' \
        -e 's|#include "examples/lib/forest.h"|#include "forest.h"|' "$f" >"$T/mpi/${f##*/}"
done
# shellcheck disable=SC2086
mpicc -o "$T/test_tree_mpi" "$T/mpi/test_tree_mpi.c" "$T/mpi/forest.c" $mflags -Wl,-rpath,"$I/lib" \
    >"$T/mpicc.log" 2>&1 || fail "test_tree_mpi against resched-migrate-mpi.pc"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
args="--levels 4 --trees 4 --iterations 3 --seed 7"
# shellcheck disable=SC2086
RESCHED_RUN="$T/none" timeout 120 mpirun --oversubscribe -np 2 "$T/test_tree_mpi" $args \
    >"$T/mpi.out" 2>"$T/mpi.log" || fail "installed test_tree_mpi on 2 ranks"
# shellcheck disable=SC2086
RESCHED_RUN="$T/none" timeout 120 mpirun --oversubscribe -np 1 "$ROOT/bin/test_tree_mpi" $args \
    >"$T/mpi-ref.out" 2>>"$T/mpi.log" || fail "bin/test_tree_mpi (reference)"
got=$(grep '^sum ' "$T/mpi.out") ref=$(grep '^sum ' "$T/mpi-ref.out")
if [ -z "$got" ] || [ "$got" != "$ref" ]; then
    fail "test_tree_mpi printed '$got', the build tree's '$ref'"
fi
ok "test_tree_mpi built against resched-migrate-mpi.pc runs on 2 ranks: $got"
