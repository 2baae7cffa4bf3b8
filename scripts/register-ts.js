'use strict';
// A tiny require hook so plain node can load the TypeScript test harness
// (scripts/chaos.js): each .ts file is compiled on load with the installed
// @swc/core (no type check), as jest's @swc/jest transform does.
const Module = require('node:module');
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

const options = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

Module._extensions['.ts'] = function loadTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...options, filename });
  module._compile(code, filename);
};
