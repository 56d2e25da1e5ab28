#!/bin/sh
# Makes sure a headless Chromium is on this machine: the dashboard test looks
# at the page as an operator's browser renders it (playwright-core drives it).
# Installs Debian's chromium package when run as root; otherwise says exactly
# what to run.
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "vmpool: chromium not found; installing Debian's chromium package" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null || exit 1
  command -v chromium >/dev/null 2>&1 && exit 0
fi
cat >&2 <<'MSG'
vmpool: chromium is not installed (the dashboard test needs a headless browser). Install it with:
    sudo apt-get update && sudo apt-get install -y chromium
MSG
exit 1
