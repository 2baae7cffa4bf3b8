'use strict';
// A private build of the working tree for the node processes a bench starts:
// every apps/*/src and libs/*/src .ts file (specs aside) transpiled once with
// @swc/core to plain .js, .lua files copied, under bench/results/.build-<pid>/
// (git-ignored; inside the repository so node_modules resolve). Nodes then run
// without any transpiler loaded (a true RSS, a fast start) and no one's
// `npm run build` can pull dist/ from under them. Removed when the bench exits.
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const ROOT = path.resolve(__dirname, '../..');
let built = null;

const swcOptions = {
  jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022',
    transform: { legacyDecorator: true, decoratorMetadata: true } },
  module: { type: 'commonjs' },
};

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** buildSources: the directory of the private build (made on first call in this process). */
function buildSources() {
  if (built) return built;
  const out = path.join(ROOT, 'bench/results', `.build-${process.pid}`);
  fs.rmSync(out, { recursive: true, force: true });
  const srcDirs = ['apps', 'libs'].flatMap((top) => fs.readdirSync(path.join(ROOT, top)).map((d) => path.join(ROOT, top, d, 'src')))
    .filter((d) => fs.existsSync(d));
  for (const file of srcDirs.flatMap((d) => walk(d))) {
    const rel = path.relative(ROOT, file);
    if (file.endsWith('.spec.ts') || file.endsWith('.d.ts')) continue;
    if (file.endsWith('.ts')) {
      const target = path.join(out, rel.replace(/\.ts$/, '.js'));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, transformSync(fs.readFileSync(file, 'utf8'), { ...swcOptions, filename: file }).code);
    } else if (file.endsWith('.lua')) {
      fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
      fs.copyFileSync(file, path.join(out, rel));
    }
  }
  process.once('exit', () => fs.rmSync(out, { recursive: true, force: true }));
  built = out;
  return out;
}

module.exports = { buildSources };
