#!/bin/sh
# run-integration.sh [PATTERN]: run every test/integration/*.sh (or those
# whose name contains PATTERN).  Nothing registers a test: a script found
# here is run.  Exit 0 pass, 77 skipped (the script prints why), anything
# else fails.  Each script owns a private temp dir and cleans up in a trap.
set -u
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0 skip=0 failed=""
for t in test/integration/*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *"${1:-}"*) ;; *) continue ;; esac
    name=$(basename "$t" .sh)
    log=$(mktemp "/tmp/resched-it-$name-XXXXXX")
    start=$(date +%s)
    timeout -k 10 "${IT_TIMEOUT:-600}" sh "$t" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    case $rc in
        0)  echo "PASS $name (${secs}s)"; pass=$((pass + 1)) ;;
        77) echo "SKIP $name: $(tail -1 "$log")"; skip=$((skip + 1)) ;;
        *)  echo "FAIL $name (exit $rc, ${secs}s)"; sed 's/^/    /' "$log" | tail -60
            fail=$((fail + 1)); failed="$failed $name" ;;
    esac
    rm -f "$log"
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || { echo "failed:$failed"; exit 1; }
