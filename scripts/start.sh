#!/bin/sh
# `npm start`: the whole system on the embedded simulated cloud, in one process.
set -e
# The SDK warns that its 2027 releases will need Node 22; the locked version supports Node 20.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh
[ -n "$REDIS_URL" ] || sh scripts/ensure-redis.sh
exec node dist/workers/start.js
