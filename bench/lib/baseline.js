'use strict';
// BENCH_BASELINE=<git ref>: load libs/scheduling/src as it was at that ref (from
// `git archive`, into a temp dir under the git-ignored bench/results/ so that
// node_modules resolve) next to the working tree's, so one run
// compares before and after on the same machine load.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '../..');

/** loadBaselineScheduling: { ref, scheduling (the module), cleanup() } or null when `ref` is empty. */
function loadBaselineScheduling(ref) {
  if (!ref) return null;
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(root, 'bench/results/.baseline-'));
  const tar = execFileSync('git', ['archive', ref, 'libs/scheduling/src'], { cwd: root, maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  const scheduling = require(path.join(dir, 'libs/scheduling/src/index.ts'));
  return { ref, scheduling, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

module.exports = { loadBaselineScheduling };
