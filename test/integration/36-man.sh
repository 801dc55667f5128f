#!/bin/sh
# 36-man: the installed man pages.  Every page renders with `man -l` and
# `groff -ww -z` without a warning; every installed program (whatever
# PREFIX/bin holds: resched-key too once it is built) has a page in
# section 1 or 8, its --help exits 0, and every option --help prints
# (--long or -x) is in that page.
set -u
cd "$(dirname "$0")/../.." || exit 1
command -v groff >/dev/null || { echo "needs groff (groff-base)"; exit 77; }
command -v man >/dev/null || { echo "needs man (man-db)"; exit 77; }
T=$(mktemp -d "/tmp/resched-it36-$$-XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
I=$T/prefix
make -s install PREFIX="$I" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }

pages=$(ls "$I"/share/man/man[1-8]/* 2>/dev/null)
[ -n "$pages" ] || fail "no man pages installed"
n=0
for p in $pages; do
    groff -ww -z -man "$p" >"$T/groff.err" 2>&1 || fail "$p: groff failed: $(cat "$T/groff.err")"
    [ -s "$T/groff.err" ] && fail "$p: groff -ww warns: $(cat "$T/groff.err")"
    LC_ALL=C MANWIDTH=80 man --warnings -l "$p" >"$T/page.txt" 2>"$T/man.err" || fail "$p: man -l failed"
    [ -s "$T/man.err" ] && fail "$p: man -l warns: $(cat "$T/man.err")"
    grep -q '^NAME' "$T/page.txt" || fail "$p: no NAME section"
    n=$((n + 1))
done
for s in "man7/resched.7" "man5/resched.rules.5" "man3/libmigrate.3"; do
    [ -f "$I/share/man/$s" ] || fail "not installed: $s"
done
echo "ok - $n pages render without warnings"

progs=0
for exe in "$I"/bin/*; do
    prog=${exe##*/}
    page=""
    for c in "$I/share/man/man1/$prog.1" "$I/share/man/man8/$prog.8"; do
        [ -f "$c" ] && page=$c
    done
    [ -n "$page" ] || fail "$prog: no man page in section 1 or 8"
    "$exe" --help >"$T/help.txt" 2>&1 || fail "$prog --help exits non-zero"
    # the page's text with font changes dropped and \- made plain
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' "$page" >"$T/src.txt"
    opts=$(grep -oE '(^|[][ ,(|])--?[A-Za-z][A-Za-z0-9-]*' "$T/help.txt" |
           sed 's/^[][ ,(|]//' | sort -u)
    [ -n "$opts" ] || fail "$prog --help shows no option"
    for o in $opts; do
        grep -qE -- "(^|[^A-Za-z0-9-])$o([^A-Za-z0-9-]|\$)" "$T/src.txt" ||
            fail "$prog: option $o (in --help) is not in ${page##*/}"
    done
    echo "ok - $prog: $(echo "$opts" | wc -l) options of --help all in ${page##*/}"
    progs=$((progs + 1))
done
[ $progs -ge 3 ] || fail "only $progs programs installed"
