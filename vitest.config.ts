import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.timing.test.ts', 'test/system/**', '**/node_modules/**'],
          // Integration tests spawn real CLI processes: two files at once on a 2-core CI machine.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          // Tests that measure timing (pacing, reaction times) run after everything else, one file
          // at a time, so other test files' CPU load is not part of what they measure.
          name: 'timing',
          include: ['test/**/*.timing.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          ...shared,
          // Tests of the host-level artefacts (the .deb installed with dpkg, the Puppet module applied
          // by puppet): they change the machine (a package, a system user), so one file at a time,
          // after the main suite and before the timing suite.
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
