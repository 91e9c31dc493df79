/**
 * The compile cache: V8's code cache of the bundled program (dist/chunks/main.cjs) kept on disk, so a
 * copy that cron starts every minute does not parse and compile again what the copy before it
 * compiled. Node 22's `module.enableCompileCache()` caches a script as compiled before it runs (a
 * bundle's functions are compiled lazily, when first called, so that cache holds little); this one
 * is taken when the process exits, with every function the run compiled.
 *
 * A code cache is code: only one this user wrote is read. The directory is `<state_dir>/compile-cache`
 * or, when that cannot be had, a per-user directory under the temp dir; either must be a directory
 * (not a link) owned by this user that no one else can write, and each cache file must be a regular
 * file owned by this user that no one else can write. A cache V8 refuses (another build, runtime or
 * V8 flags; a corrupt file) is ignored and written anew; files are written whole (temp file + rename),
 * as three copies may start at once. Nothing here ever fails a run: at worst it compiles as without.
 */
// Node's modules through process.getBuiltinModule, not import: the entry is an ES module, and each
// built-in it imports costs Node an ES module facade before the entry's first line runs.
const { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } =
  process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { tmpdir } = process.getBuiltinModule('node:os');
const nodePath = process.getBuiltinModule('node:path');
const { Script } = process.getBuiltinModule('node:vm');

/** Turns the compile cache off when set to 1. */
export const NO_COMPILE_CACHE_ENV = 'CANIHAZ_NO_COMPILE_CACHE';
/** The cache's directory under `state_dir`. */
export const STATE_SUBDIR = 'compile-cache';

/** The defaults of `settings` and `state_dir` (src/config/settings-table.ts; a unit test keeps them equal). */
export const DEFAULT_SETTINGS_FILE = '/etc/canihaz/canihaz.conf';
export const DEFAULT_STATE_DIR = '/var/lib/canihaz';
/** A settings file larger than this is not looked into for `state_dir` (the program reads it anyway). */
const MAX_SETTINGS_BYTES = 1 << 20;

/** The value of `--<flag> V` or `--<flag>=V` among a command's arguments (the last one given). */
function flagValue(args: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${flag}`) value = args[++i];
    else if (a.startsWith(`--${flag}=`)) value = a.slice(flag.length + 3);
  }
  return value;
}

/** The state directory a command will use, as far as can be told without loading the settings. */
export function stateDirOf(args: readonly string[], env: NodeJS.ProcessEnv): string {
  const given = flagValue(args, 'state-dir') ?? (env.CANIHAZ_STATE_DIR || undefined);
  if (given !== undefined) return given;
  const file = flagValue(args, 'settings') ?? (env.CANIHAZ_SETTINGS || DEFAULT_SETTINGS_FILE);
  let fd: number | undefined;
  try {
    // Never blocks: a FIFO (or anything but a regular file) is left to the program, which refuses it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const s = fstatSync(fd);
    if (s.isFile() && s.size <= MAX_SETTINGS_BYTES) {
      const line = /^[ \t]*state_dir[ \t]*=[ \t]*(.*?)[ \t]*\r?$/m.exec(readFileSync(fd, 'utf8'));
      if (line?.[1]) return line[1];
    }
  } catch {
    // No settings file (or not readable): the program says so if it matters.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return DEFAULT_STATE_DIR;
}

/** One cache per command: `--version` compiles little, a run compiles its whole path. */
export function cacheNameOf(bundleId: string, command: string | undefined): string {
  const kind = command === 'run' || command === 'check' || command === 'daemon' ? command : 'other';
  return `main-${bundleId}-${process.version}-${process.arch}-${kind}.cache`;
}

/** True when `path` is a directory this user owns that no one else can write (and not a link). */
function ownDirectory(path: string): boolean {
  try {
    const s = lstatSync(path);
    return s.isDirectory() && s.uid === process.geteuid?.() && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** `path` created 0700 if missing (its parent must exist), and whether it can be trusted. */
function ensureOwnDirectory(path: string): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  }
  return ownDirectory(path);
}

/**
 * Where the cache lives: `<stateDir>/compile-cache` when `stateDir` exists and the directory can be
 * created there (or is there, this user's, 0700-like), else `<tmpdir>/canihaz-compile-cache-<uid>`
 * under the same rule, else nowhere (undefined). `stateDir` itself is never created.
 */
export function compileCacheDir(stateDir: string | undefined, tempDir: string = tmpdir()): string | undefined {
  if (process.geteuid === undefined) return undefined;
  if (stateDir) {
    const inState = nodePath.join(stateDir, STATE_SUBDIR);
    if (ensureOwnDirectory(inState)) return inState;
  }
  const inTemp = nodePath.join(tempDir, `canihaz-compile-cache-${process.geteuid()}`);
  return ensureOwnDirectory(inTemp) ? inTemp : undefined;
}

/** The bytes of cache file `file`, when it is a regular file of this user's that no one else can write. */
function readOwnFile(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const s = fstatSync(fd);
    if (!s.isFile() || s.uid !== process.geteuid?.() || (s.mode & 0o022) !== 0 || s.size === 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes `data` to `file` whole: a temp file of this process beside it, renamed over it. Never throws. */
function writeWhole(file: string, data: Buffer): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, data, { mode: 0o600, flag: 'wx' });
    renameSync(temp, file);
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // Never written.
    }
  }
}

/** Removes the cache files of other builds (names not starting with `keep`): each build leaves only its own. */
function pruneOthers(dir: string, keep: string): void {
  try {
    for (const name of readdirSync(dir)) {
      if (/^main-[0-9a-f]+-.*\.cache$/.test(name) && !name.startsWith(keep)) unlinkSync(nodePath.join(dir, name));
    }
  } catch {
    // Another copy pruned first, or the directory went: nothing to do.
  }
}

/** An ES module's import(), for the bundle's imports of computed specifiers. */
export type Importer = (specifier: string) => Promise<unknown>;

/** How a bundle was loaded, for tests and the debug log. */
export interface BundleLoad {
  /** The cache file used or to be written; undefined without a cache directory. */
  cacheFile?: string;
  /** `accepted`: V8 used the cache; `rejected`: one was there but V8 refused it; `none`: no cache file. */
  cache: 'accepted' | 'rejected' | 'none' | 'off';
}

/**
 * Runs the CommonJS bundle `file` as Node's loader would (module, exports, require, __filename,
 * __dirname), compiled with the cache file `<cacheDir>/<cacheName>` when V8 accepts it. Without one
 * it accepts, the code cache is written when the process exits, holding every function compiled by
 * then. A dynamic `import()` in the bundle (a scenario module) is `importer`, the caller's own
 * import() (scripts/bundle.mjs says why).
 */
export function runBundle(file: string, cacheDir: string | undefined, cacheName: string, importer: Importer): BundleLoad {
  const source = readFileSync(file, 'utf8');
  const cacheFile = cacheDir === undefined ? undefined : nodePath.join(cacheDir, cacheName);
  const cachedData = cacheFile === undefined ? undefined : readOwnFile(cacheFile);
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __canihazImport) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const cache = cacheFile === undefined ? 'off' : cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  if (cacheFile !== undefined && cache !== 'accepted') {
    process.once('exit', () => {
      try {
        writeWhole(cacheFile, script.createCachedData());
        pruneOthers(cacheDir!, cacheName.slice(0, cacheName.indexOf('-', 'main-'.length) + 1));
      } catch {
        // A cache that cannot be made costs the next copy its compile, nothing more.
      }
    });
  }
  type Wrapper = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string, load: Importer) => void;
  const wrapper = script.runInThisContext() as Wrapper;
  const module = { exports: {} };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, nodePath.dirname(file), importer);
  return { ...(cacheFile !== undefined ? { cacheFile } : {}), cache };
}
