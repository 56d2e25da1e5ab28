#!/bin/sh
# `npm run bench:outage` / `npm run bench:throughput`: build, then run the
# benchmark, which starts its own throwaway redis-server and every process it
# measures, and stops them all at its end (or on Ctrl-C).
set -e
# The SDK warns that its 2027 releases will need Node 22; the locked version supports Node 20.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/ensure-redis.sh
npx tsc -p tsconfig.build.json
bench="$1"
shift
exec node "dist/bench/$bench.js" "$@"
