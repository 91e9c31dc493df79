#!/usr/bin/env node
/**
 * The built CLI's entry (scripts/bundle.mjs makes it dist/cli.js): tunes V8 for a short-lived process,
 * finds the compile cache and runs the bundled program (dist/chunks/main.cjs, built from src/cli.ts)
 * with it. Kept to a few Node built-ins: everything it loads, every copy pays before its first request.
 *
 * It reads the state directory the way the settings do (flag, then `CANIHAZ_STATE_DIR`, then the
 * settings file's `state_dir` line, then the default) without loading them: the program checks every
 * setting afterwards, and a bad value here only means the cache goes to the temp directory.
 */
import { tuneV8 } from '../commands/v8-tuning.js';
import { cacheNameOf, compileCacheDir, NO_COMPILE_CACHE_ENV, runBundle, stateDirOf } from './compile-cache.js';

/** Set by scripts/bundle.mjs: a hash of the bundle, so a cache of another build is never offered to V8. */
declare const __CANIHAZ_BUNDLE_ID__: string | undefined;

tuneV8();
const args = process.argv.slice(2);
if (typeof __CANIHAZ_BUNDLE_ID__ === 'string') {
  const off = process.env[NO_COMPILE_CACHE_ENV] === '1';
  const dir = off ? undefined : compileCacheDir(stateDirOf(args, process.env));
  const { fileURLToPath } = process.getBuiltinModule('node:url');
  runBundle(fileURLToPath(new URL('./chunks/main.cjs', import.meta.url)), dir, cacheNameOf(__CANIHAZ_BUNDLE_ID__, args[0]), (specifier) => import(specifier));
} else {
  // Not bundled (dist/cli/entry.js as tsc built it): the program as separate modules. A variable, so
  // that bundling this file does not pull the program in.
  const program = '../cli.js';
  await import(program);
}
