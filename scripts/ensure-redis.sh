#!/bin/sh
# Makes sure `redis-server` is on this machine: the tests and `npm start` launch
# their own throwaway server from it. Installs Debian's package when run as
# root; otherwise says exactly what to run.
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "vmpool: redis-server not found; installing Debian's redis-server package" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || exit 1
  # The package may start a system service; we do not use it, so stop it when systemd is absent.
  command -v redis-server >/dev/null 2>&1 && exit 0
fi
cat >&2 <<'MSG'
vmpool: redis-server is not installed. Install it with:
    sudo apt-get update && sudo apt-get install -y redis-server
or point REDIS_URL at a Redis 6.2+ server (npm start only).
MSG
exit 1
