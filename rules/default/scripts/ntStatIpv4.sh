#!/bin/sh
# ntStatIpv4.sh [STATE] — print how many IPv4 TCP sockets are in STATE
# (default ESTABLISHED), from /proc/net/tcp (the paper used netstat).
# /proc/net/tcp belongs to the caller's network namespace, so an agent in a
# namespace counts its own host's sockets; RESCHED_CGROUP does not apply.
set -u
state=${1:-ESTABLISHED}
case $state in
    ESTABLISHED) code=01 ;; SYN_SENT) code=02 ;; SYN_RECV) code=03 ;;
    FIN_WAIT1) code=04 ;; FIN_WAIT2) code=05 ;; TIME_WAIT) code=06 ;;
    CLOSE) code=07 ;; CLOSE_WAIT) code=08 ;; LAST_ACK) code=09 ;;
    LISTEN) code=0A ;; CLOSING) code=0B ;;
    *) echo "ntStatIpv4.sh: unknown TCP state '$state'" >&2; exit 2 ;;
esac
awk -v c="$code" 'NR > 1 && $4 == c { n++ } END { print n + 0 }' /proc/net/tcp
