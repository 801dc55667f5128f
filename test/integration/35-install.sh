#!/bin/sh
# 35-install: `make install` into a private prefix; a program built with
# `pkg-config --cflags --libs resched-migrate` (the README's ten-line
# example) compiles, links and runs, statically and against the .so.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
T=$(mktemp -d "/tmp/resched-it35-$$-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
make -s install PREFIX="$T/prefix" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
for f in bin/reschedfs bin/resched-agent bin/resched-rule lib/libmigrate.a lib/libmigrate.so \
         include/resched/migrate.h lib/pkgconfig/resched-migrate.pc share/resched/rules/paper.rule; do
    [ -e "$T/prefix/$f" ] || fail "not installed: $f"
done
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs resched-migrate) || fail "pkg-config resched-migrate"
echo "pkg-config: $flags"
sed 's|#include "migrate/migrate.h"|#include <resched/migrate.h>|' examples/counter.c > "$T/counter.c"
# shellcheck disable=SC2086
cc -o "$T/counter" "$T/counter.c" $flags -Wl,-rpath,"$T/prefix/lib" || fail "build against the .so"
# shellcheck disable=SC2086
cc -o "$T/counter-static" "$T/counter.c" $(pkg-config --cflags resched-migrate) \
    "$T/prefix/lib/libmigrate.a" $(pkg-config --libs --static resched-migrate | sed 's/-lmigrate//') ||
    fail "build against the static library"
want="total $(awk 'BEGIN { s = 0; for (i = 0; i < 20; i++) s += i * i; print s }')"
for p in counter counter-static; do
    out=$(RESCHED_RUN="$T/none" "$T/$p" 20 2>"$T/$p.err") || fail "$p exited non-zero"
    [ "$out" = "$want" ] || fail "$p printed '$out', want '$want'"
    grep -q "cannot migrate" "$T/$p.err" || fail "$p: no 'cannot migrate' note without an agent"
done
echo "installed library builds and runs: $want"
