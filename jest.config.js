// Jest projects: unit (next to the source), integration, e2e and cluster (under test/).
// Nest 12 ships ESM only, so its .js files go through @swc/jest as well.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': swc, '^.+\\.mjs$': swc },
  transformIgnorePatterns: ['/node_modules/(?!@nestjs/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: {
    '^@lib/common(|/.*)$': '<rootDir>/libs/common/src$1',
    '^@lib/election(|/.*)$': '<rootDir>/libs/election/src$1',
    '^@lib/scheduling(|/.*)$': '<rootDir>/libs/scheduling/src$1',
    '^@lib/worker(|/.*)$': '<rootDir>/libs/worker/src$1',
  },
  setupFiles: ['<rootDir>/test/support/env.setup.js'],
};

module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...base, displayName: 'cluster', testMatch: ['<rootDir>/test/cluster/**/*.cluster-spec.ts'] },
  ],
};
