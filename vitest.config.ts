import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // the store suites share one PostgreSQL server; each file uses its own schema, so files may run in parallel
    fileParallelism: true,
  },
});
