/** Why a `canihaz run` may start with nothing to do (run.ts). */
import type { LoadedTests } from '../config/load-tests.js';

/**
 * Why a run starts with nothing to do, when it is not a problem already logged (an unreadable
 * config, invalid lines): no tests file (or no `*.conf` in a config directory) is said at `notice`,
 * once per run, so an operator waiting for the first test sees the agent is alive and where it
 * looks; a config with no test lines on purpose (comments only) only at `info`.
 */
export function nothingToRun(loaded: LoadedTests, config: string): { level: 'notice' | 'info'; what: string } | undefined {
  if (loaded.status === 'missing') return { level: 'notice', what: `no tests file at ${config}` };
  if (loaded.status !== 'ok' || loaded.specs.length > 0 || loaded.errors.length > 0) return undefined;
  // A file config that reads ok is its one file; no file read means a directory without *.conf.
  if (loaded.files.length === 0) return { level: 'notice', what: `no *.conf files in ${config}` };
  return { level: 'info', what: `no tests in ${config}` };
}
