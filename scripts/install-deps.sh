#!/bin/sh
# Installs node modules when they are missing or older than the lock file, so
# `npm start` and `npm test` work on a fresh clone. `npm ci` installs exactly
# the lock file and never rewrites it, so a fresh clone stays clean. The lock
# file was generated from scratch, so it records every platform's optional
# packages (npm/cli#4828: an incremental `npm install` on one platform drops
# the others', and `npm ci` then refuses the lock as out of sync).
cd "$(dirname "$0")/.." || exit 1
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "vmpool: installing dependencies (npm ci; first run, about a minute)" >&2
  npm ci --no-audit --no-fund --loglevel=error || exit 1
fi
