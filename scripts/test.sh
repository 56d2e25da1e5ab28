#!/bin/sh
# `npm test`: build (the end-to-end tests run the compiled workers as real
# processes), then every test against a throwaway redis-server.
set -e
# The SDK warns that its 2027 releases will need Node 22; the locked version supports Node 20.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/ensure-redis.sh
sh scripts/ensure-registry.sh
sh scripts/ensure-chromium.sh
sh scripts/build.sh
exec npx vitest run "$@"
