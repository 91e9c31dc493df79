import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn real CLI processes and measure timing: on a 2-core CI machine,
    // two files at once is the honest limit.
    maxWorkers: 2,
  },
});
