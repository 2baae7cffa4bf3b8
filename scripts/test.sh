#!/usr/bin/env bash
# `npm test`: the whole suite, as CI runs it. Type-checks (jest does not),
# builds the app (cluster tests run the built node), then runs the unit
# tests in parallel and every suite that starts processes one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing: the tests start their own. Install it with:" >&2
  echo "  apt-get install -y --no-install-recommends redis-server" >&2
  exit 1
fi

echo "== typecheck"
npx tsc --noEmit -p tsconfig.json
echo "== build"
npm run --silent build
echo "== unit"
npx jest --selectProjects unit --ci "$@"
echo "== integration, e2e, cluster (real redis-server processes, one suite at a time)"
npx jest --selectProjects integration e2e cluster --runInBand --ci "$@"
