#!/bin/sh
# Makes sure Debian's `docker-registry` (the Distribution registry) is on this
# machine: the agent verify test starts its own on a loopback port. Installs
# the package when run as root; otherwise says exactly what to run.
if command -v docker-registry >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "vmpool: docker-registry not found; installing Debian's docker-registry package" >&2
  # The package's own service is not used (systemd is usually absent here); the tests start their own.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null || exit 1
  command -v docker-registry >/dev/null 2>&1 && exit 0
fi
cat >&2 <<'MSG'
vmpool: docker-registry is not installed (the agent verify test needs it). Install it with:
    sudo apt-get update && sudo apt-get install -y docker-registry
MSG
exit 1
