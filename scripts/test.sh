#!/usr/bin/env bash
# `npm test`: the whole suite, as CI runs it. Type-checks (jest does not),
# builds the app (cluster tests run the built node), then runs the unit
# tests in parallel and every suite that starts processes one at a time,
# and ends with one summary line: "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing: the tests start their own. Install it with:" >&2
  echo "  apt-get install -y --no-install-recommends redis-server" >&2
  exit 1
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

echo "== typecheck"
npx tsc --noEmit -p tsconfig.json
echo "== build"
npm run --silent build
status=0
echo "== unit"
npx jest --selectProjects unit --ci --json --outputFile="$results/unit.json" "$@" || status=$?
echo "== integration, e2e, cluster (real redis-server processes, one suite at a time)"
npx jest --selectProjects integration e2e cluster --runInBand --ci --json --outputFile="$results/processes.json" "$@" || status=$?

echo "== benchmarks, smoke size (nothing is timed: they must run and end by themselves)"
npm run --silent bench -- all --smoke > "$results/bench-smoke.log" 2>&1 || { status=1; tail -40 "$results/bench-smoke.log"; echo "bench smoke run failed"; }

node -e '
  let passed = 0, failed = 0;
  for (const file of process.argv.slice(1)) {
    try {
      const r = require(file);
      passed += r.numPassedTests;
      failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
    } catch { failed += 1; console.error(`no results in ${file}`); }
  }
  console.log(`tests: ${passed} passed, ${failed} failed`);
' "$results/unit.json" "$results/processes.json"
exit "$status"
