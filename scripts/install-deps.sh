#!/bin/sh
# Installs node modules when they are missing or older than the lock file, so
# `npm start` and `npm test` work on a fresh clone. `npm install` rather than
# `npm ci`: npm 11 leaves other platforms' optional packages out of the lock
# file it writes (npm/cli#4828), which `npm ci` then rejects as out of sync;
# `npm install` installs the same locked versions. It also builds (prepare).
cd "$(dirname "$0")/.." || exit 1
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "vmpool: installing dependencies (npm install)" >&2
  npm install --no-audit --no-fund || exit 1
fi
