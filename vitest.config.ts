import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

// Every CLI the tests start inherits a state_dir of this test run's own (0700, under the temp dir):
// the default /var/lib/canihaz may be missing (a journal that cannot be written is a warning in every
// run's log) or belong to an installed package. Copies of one test run share it, so the compile cache
// stays warm; tests that look at the journal or the cache give their own --state-dir. Not for the
// system tests, which run the installed package with its own paths.
const stateEnv = { CANIHAZ_STATE_DIR: mkdtempSync(join(tmpdir(), 'canihaz-test-state-')) };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'main',
          env: stateEnv,
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
          env: stateEnv,
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
