#!/usr/bin/env node
'use strict';
// npm run chaos -- --minutes M --seed S [--nodes N] [--lease MS]
// A randomized fault run against real node processes of the built app and a
// private redis-server (see docs/RELIABILITY.md). Builds first when dist/ is
// missing or older than the sources. Exits 1 when a guarantee was violated.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function parseArgs(argv) {
  const args = { minutes: 5, seed: Date.now() % 1_000_000_000, nodes: 3, lease: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(minutes|seed|nodes|lease)(?:=(.*))?$/.exec(argv[i]);
    if (!m) {
      if (argv[i] === '--help' || argv[i] === '-h') usage(0);
      console.error(`unknown argument ${argv[i]}`);
      usage(2);
    }
    const value = Number(m[2] ?? argv[++i]);
    if (!Number.isFinite(value) || value <= 0) {
      console.error(`--${m[1]} needs a positive number`);
      usage(2);
    }
    args[m[1]] = value;
  }
  if (!Number.isInteger(args.nodes) || args.nodes < 2) usage(2, '--nodes must be an integer >= 2');
  if (args.lease < 300) usage(2, '--lease must be >= 300 ms');
  return args;
}

function usage(code, why) {
  if (why) console.error(why);
  console.error('usage: npm run chaos -- --minutes M --seed S [--nodes N (3)] [--lease MS (2000)]');
  process.exit(code);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(ts|lua)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const entry = path.join(root, 'dist/apps/baton/main.js');
  const sources = Math.max(newestMtime(path.join(root, 'apps')), newestMtime(path.join(root, 'libs')));
  if (fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= sources) return;
  console.log('dist/ is missing or older than the sources: npm run build');
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  ensureBuilt();
  require('./register-ts');
  const { runChaos, formatReport } = require('../test/chaos/chaos-run.ts');
  console.log(`chaos: seed ${args.seed}, ${args.minutes} min, ${args.nodes} nodes, lease ${args.lease} ms`);
  const report = await runChaos({
    seed: args.seed,
    durationMs: Math.round(args.minutes * 60_000),
    nodes: args.nodes,
    leaseMs: args.lease,
    progress: (line) => console.log(line),
  });
  console.log(`\n${formatReport(report)}`);
  const out = path.join(require('node:os').tmpdir(), `baton-chaos-report-${args.seed}.json`);
  fs.writeFileSync(out, JSON.stringify(report, null, 2));
  console.log(`full report (every fault, JSON): ${out}`);
  process.exit(report.problems.length ? 1 : 0);
}

main().catch((err) => {
  console.error(`chaos run failed: ${err.stack || err.message}`);
  process.exit(1);
});
