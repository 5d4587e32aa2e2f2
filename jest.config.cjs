/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  // One database server for the whole run; each test file gets its own database (tests/helpers/db.ts).
  globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/tests/helpers/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: process.env.JEST_MAX_WORKERS ?? (process.env.CI ? 2 : '50%'),
  // Fail on tests that are skipped or focused by accident.
  errorOnDeprecated: true,
};
