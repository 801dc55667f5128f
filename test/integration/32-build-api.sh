#!/bin/sh
# 32-build-api: building against libmigrate from C and C++, with MPI, in
# any include order, and through the installed pkg-config files.
#  1. One small program, built as C (gcc, mpicc) and as C++ (g++, mpicxx)
#     with <mpi.h> before, after or not around migrate.h, with and without
#     RESCHED_MPI, compiles with -Wall -Wextra -Werror -pedantic and links
#     against lib/.  migrate.h must be in MPI mode (mig_poll, mig_poll_label
#     and mig_restored are macros) exactly when RESCHED_MPI is defined or
#     <mpi.h> came first: the program #errors otherwise.  The gcc and g++
#     builds run without an agent (they say they cannot migrate and print
#     the right total), the mpicxx build with RESCHED_MPI and <mpi.h> after
#     migrate.h (which failed to compile: <mpi.h> inside extern "C") on 2
#     ranks.
#  2. make install DESTDIR=... PREFIX=/usr/local; then, with only the
#     installed pkg-config files (PKG_CONFIG_SYSROOT_DIR=DESTDIR), the
#     program as C and C++ against resched-migrate (libmigrate.so; and
#     libmigrate.a with --static), as C with mpicc and C++ with mpicxx
#     against resched-migrate-mpi, each MPI one run on 2 ranks.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
for f in lib/libmigrate.a lib/libmigrate.so lib/libmigrate_mpi.a; do
    [ -e "$f" ] || { echo "skip: needs $f (make all)"; exit 77; }
done
for c in gcc g++ mpicc mpicxx mpirun pkg-config; do
    command -v $c >/dev/null || { echo "skip: needs $c (make deps)"; exit 77; }
done
T=$(mktemp -d "/tmp/resched-it32-$$-XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; for l in "$T"/*.log "$T"/*.err; do [ -s "$l" ] && { echo "--- $l"; tail -15 "$l"; }; done; exit 1; }
ok() { echo "ok - $*"; }

cat >"$T/prog.c" <<'EOF'
/* Built as C and C++: <mpi.h> before (MPI_FIRST), after (MPI_AFTER) or
 * not around migrate.h; EXPECT_MPI: migrate.h must be in MPI mode. */
#ifdef MPI_FIRST
#include <mpi.h>
#endif
#include <resched/migrate.h>
#ifdef MPI_AFTER
#include <mpi.h>
#endif
#include <stdint.h>
#include <stdio.h>

#ifdef EXPECT_MPI
#if !defined(mig_poll) || !defined(mig_poll_label) || !defined(mig_restored)
#error "migrate.h is not in MPI mode"
#endif
#elif defined(mig_poll) || defined(mig_poll_label) || defined(mig_restored)
#error "migrate.h is in MPI mode"
#endif

int main(int argc, char **argv)
{
	int64_t i = 0, total = 0;
	int rank = 0, size = 1;

#ifdef EXPECT_MPI
	MPI_Init(&argc, &argv);
#endif
	if (mig_init(&argc, &argv) < 0) {
		fprintf(stderr, "mig_init: %s\n", mig_strerror());
		return 1;
	}
#ifdef EXPECT_MPI
	MPI_Comm_rank(mig_comm(), &rank);
	MPI_Comm_size(mig_comm(), &size);
#endif
	if (mig_protect("i", &i, 1, MIG_INT64) < 0 ||
	    mig_protect("total", &total, 1, MIG_INT64) < 0) {
		fprintf(stderr, "mig_protect: %s\n", mig_strerror());
		return 1;
	}
	if (!mig_restored())
		i = rank;
	for (; i < 2000; i += size) {
		total += i * i;
		if (i % 100 == 0)
			mig_poll_label("sum");
		else
			mig_poll();
	}
#ifdef EXPECT_MPI
	{
		long long mine = (long long)total, all = 0;
		MPI_Allreduce(&mine, &all, 1, MPI_LONG_LONG, MPI_SUM, mig_comm());
		total = (int64_t)all;
	}
#endif
	if (rank == 0)
		printf("total %lld\n", (long long)total);
	mig_finalize();
#ifdef EXPECT_MPI
	MPI_Finalize();
#endif
	return 0;
}
EOF
cp "$T/prog.c" "$T/prog.cc"
mkdir -p "$T/inc/resched"
ln -s "$ROOT/migrate/migrate.h" "$T/inc/resched/migrate.h"

W="-Wall -Wextra -Werror -pedantic"
# Open MPI's C++ bindings warn themselves under -Wextra (op_inln.h casts).
WXX="$W -Wno-cast-function-type"
want="total $(awk 'BEGIN { s = 0; for (i = 0; i < 2000; i++) s += i * i; printf "%.0f", s }')"
export RESCHED_RUN="$T/none" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# build NAME COMMAND...: run the compile-and-link COMMAND -o $T/NAME
build() {
    _n=$1; shift
    "$@" -o "$T/$_n" >"$T/$_n.log" 2>&1 || fail "$_n: $*"
}
# run_plain NAME: runs normally without an agent
run_plain() {
    out=$("$T/$1" 2>"$T/$1.err") || fail "$1 exited non-zero"
    [ "$out" = "$want" ] || fail "$1 printed '$out', want '$want'"
    grep -q "cannot migrate" "$T/$1.err" || fail "$1: no 'cannot migrate' note without an agent"
}
# run_mpi NAME: on 2 ranks, each without an agent
run_mpi() {
    out=$(timeout 60 mpirun --oversubscribe -np 2 "$T/$1" 2>"$T/$1.err") || fail "$1 on 2 ranks"
    [ "$out" = "$want" ] || fail "$1 printed '$out', want '$want'"
    [ "$(grep -c "cannot migrate" "$T/$1.err")" = 2 ] || fail "$1: not 2 'cannot migrate' notes"
}

# ---- 1. the header in every order, linked against lib/ ---------------------
LIBS="$ROOT/lib/libmigrate.a -lxml2 -lpthread -lm"
n=0
for cc in gcc g++ mpicc mpicxx; do
    case $cc in
    *cc) src=$T/prog.c std=-std=c11 w=$W ;;
    *)   src=$T/prog.cc std=-std=c++11 w=$WXX ;;
    esac
    for order in none MPI_FIRST MPI_AFTER; do
        for def in "" RESCHED_MPI; do
            # gcc and g++ do not find <mpi.h>: only the plain build
            case $cc in mpi*) ;; *) if [ $order != none ] || [ -n "$def" ]; then continue; fi ;; esac
            flags="$std $w -I$T/inc"
            [ $order = none ] || flags="$flags -D$order"
            [ -n "$def" ] && flags="$flags -D$def"
            if [ -n "$def" ] || [ $order = MPI_FIRST ]; then
                flags="$flags -DEXPECT_MPI" libs="$ROOT/lib/libmigrate_mpi.a $LIBS"
            else
                libs=$LIBS
            fi
            # shellcheck disable=SC2086
            build "$cc-$order${def:+-$def}" $cc $flags "$src" $libs
            n=$((n + 1))
        done
    done
done
ok "$n builds: gcc, g++, mpicc, mpicxx; <mpi.h> before, after, absent; with and without RESCHED_MPI"
run_plain gcc-none
run_plain g++-none
ok "the gcc and g++ builds run without an agent: $want"
run_mpi mpicxx-MPI_AFTER-RESCHED_MPI
ok "mpicxx build (migrate.h, then <mpi.h>, RESCHED_MPI) runs on 2 ranks: $want"

# ---- 2. installed, through pkg-config only ---------------------------------
D=$T/dest
make -s install DESTDIR="$D" PREFIX=/usr/local >"$T/install.log" 2>&1 || fail "make install DESTDIR=$D"
L=$D/usr/local/lib
export PKG_CONFIG_PATH="$L/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
plain=$(pkg-config --cflags --libs resched-migrate) || fail "pkg-config resched-migrate"
mpi=$(pkg-config --cflags --libs resched-migrate-mpi) || fail "pkg-config resched-migrate-mpi"
echo "resched-migrate: $plain"
echo "resched-migrate-mpi: $mpi"
# shellcheck disable=SC2086
build pc-c gcc -std=c11 $W "$T/prog.c" $plain -Wl,-rpath,"$L"
# shellcheck disable=SC2086
build pc-cxx g++ -std=c++11 $W "$T/prog.cc" $plain -Wl,-rpath,"$L"
# shellcheck disable=SC2046,SC2086
build pc-static gcc -std=c11 $W "$T/prog.c" $(pkg-config --cflags resched-migrate) "$L/libmigrate.a" \
    $(pkg-config --libs --static resched-migrate | sed 's/-lmigrate\b//')
readelf -d "$T/pc-c" | grep -q 'NEEDED.*libmigrate\.so' || fail "pc-c is not linked against libmigrate.so"
! readelf -d "$T/pc-static" | grep -q 'NEEDED.*libmigrate' || fail "pc-static needs a libmigrate.so"
for p in pc-c pc-cxx pc-static; do run_plain $p; done
ok "resched-migrate.pc: C and C++ against libmigrate.so, C against libmigrate.a, run: $want"
# shellcheck disable=SC2086
build pc-mpicc mpicc -std=c11 $W -DMPI_AFTER -DEXPECT_MPI "$T/prog.c" $mpi -Wl,-rpath,"$L"
# shellcheck disable=SC2086
build pc-mpicxx mpicxx -std=c++11 $WXX -DMPI_AFTER -DEXPECT_MPI "$T/prog.cc" $mpi -Wl,-rpath,"$L"
run_mpi pc-mpicc
run_mpi pc-mpicxx
ok "resched-migrate-mpi.pc: mpicc and mpicxx builds run on 2 ranks: $want"
