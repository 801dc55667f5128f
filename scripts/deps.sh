#!/bin/sh
# make deps: install every Debian package resched needs to build, test,
# benchmark and demo.  Idempotent; silent when everything is present;
# runs `apt-get update` only when something is missing.
set -eu
PKGS="gcc make pkg-config clang libclang-rt-14-dev
      libfuse3-dev fuse3 libevent-dev libsodium-dev libxml2-dev
      openmpi-bin libopenmpi-dev
      inotify-tools iproute2 procps util-linux
      groff-base man-db systemd
      gnuplot-nox iperf3 hyperfine
      libxxhash-dev qemu-user gcc-s390x-linux-gnu libc6-dev-s390x-cross"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
