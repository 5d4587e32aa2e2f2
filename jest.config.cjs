/**
 * Jest runs the TypeScript sources as ES modules (several dependencies ship only ESM), so `npm test`
 * starts it with --experimental-vm-modules.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', useESM: true }],
  },
  // One database server for the whole run; each test file gets its own database (tests/helpers/db.ts).
  globalSetup: '<rootDir>/tests/helpers/global-setup.mjs',
  globalTeardown: '<rootDir>/tests/helpers/global-teardown.mjs',
  testTimeout: 60_000,
  maxWorkers: process.env.JEST_MAX_WORKERS ?? (process.env.CI ? 2 : '50%'),
  errorOnDeprecated: true,
};
