#!/usr/bin/env bash
# scripts/apt_need.sh COMMAND PACKAGE...: install the Debian PACKAGEs unless COMMAND is on PATH, as
# .ci/run does: no daemon may start on install (a policy-rc.d that refuses, removed after), the package
# lists refreshed once. Not root and no passwordless sudo: one line naming the fix, exit 1.
set -euo pipefail
cmd=$1; shift
command -v "$cmd" >/dev/null && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || { echo "$cmd not found: run sudo apt-get install $*" >&2; exit 1; }
  SUDO="sudo -n"
fi
echo "installing $* (for $cmd)" >&2
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null
command -v "$cmd" >/dev/null || { echo "$cmd still not on PATH after apt-get install $*" >&2; exit 1; }
