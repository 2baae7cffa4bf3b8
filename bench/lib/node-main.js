'use strict';
// Entry of one Baton node run by the benches, configured only by the
// environment like dist/apps/baton/main.js. With BENCH_BUILD_DIR (set by
// lib/nodes.js: the private build of lib/build.js) it runs that plain JS and
// only maps `@lib/<name>`; without it, the TypeScript sources through the swc hook.
const path = require('node:path');
const Module = require('node:module');

const build = process.env.BENCH_BUILD_DIR;
if (build) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    const m = /^@lib\/([^/]+)(\/.*)?$/.exec(request);
    if (m) request = path.join(build, 'libs', m[1], 'src', m[2] ?? '');
    return resolve.call(this, request, parent, ...rest);
  };
  require(path.join(build, 'apps/baton/src/main.js')).run();
} else {
  require('./register');
  require('../../apps/baton/src/main.ts').run();
}
