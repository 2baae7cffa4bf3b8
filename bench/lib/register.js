'use strict';
// Lets the bench require the TypeScript sources directly (no `npm run build`,
// which wipes dist/ that others may be using): .ts files are transpiled with
// @swc/core (a dev dependency) and `@lib/<name>` resolves to libs/<name>/src.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '../..');
const swcOptions = {
  jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022',
    transform: { legacyDecorator: true, decoratorMetadata: true } },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = /^@lib\/([^/]+)(\/.*)?$/.exec(request);
  if (m) request = path.join(root, 'libs', m[1], 'src', m[2] ?? '');
  return resolve.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = function (module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swcOptions, filename });
  module._compile(code, filename);
};
