#!/bin/sh
# Compiles src/ and workers/ into dist/ when dist is older than any input, so
# `npm start` compiles once at most (npm ci no longer builds: no `prepare`).
# The stamp takes the build's start time, so a file saved during the build
# makes the next start build again: a stale dist never runs.
cd "$(dirname "$0")/.." || exit 1
stamp=dist/.build-stamp
if [ -f "$stamp" ] && [ -z "$(find src workers bench package.json package-lock.json tsconfig.json tsconfig.build.json -newer "$stamp" -print 2>/dev/null | head -n 1)" ]; then
  exit 0
fi
echo "vmpool: building (tsc, 10-40 s)" >&2
mkdir -p dist
started=$(mktemp dist/.build-started.XXXXXX) || exit 1
if ! npx tsc -p tsconfig.build.json; then
  rm -f "$started"
  exit 1
fi
mv "$started" "$stamp"
