/**
 * Finding, guarding and importing an operator's scenario module: a `test_type` that is not built in
 * names `<types_dir>/<test_type>.mjs`. The module runs with the agent's rights, so it is imported
 * only when nobody but root and the running user could have changed it (sshd's StrictModes), and its
 * import is bounded in time. What the module's exports become is the runtime's (scenario-type.ts).
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withDeadline, type Clock } from '../../clock.js';
import { checkModes } from '../../file-modes.js';
import type { ProbeType } from '../probe.js';
import type { ScenarioTypeResult } from './scenario-type.js';

/**
 * The `test_type` words that may name a module, at most 64 characters; nothing else ever becomes a
 * path (no `/`, no `..`, no name too long for the file system).
 */
export const SCENARIO_TYPE_WORD = /^[a-z][a-z0-9_-]{0,63}$/;

/** How long a module may take to import (its top-level code, top-level await included). */
export const DEFAULT_IMPORT_DEADLINE_MS = 5_000;

/** Longest reason kept from an import error's message: one line of a log or of `check`. */
const MAX_REASON_CHARS = 300;

/** Validates a module's exports and builds its probe type (scenario-type.ts's `scenarioProbeType`). */
export type BuildScenarioType = (name: string, file: string, namespace: Record<string, unknown>) => ScenarioTypeResult;

/** Where scenario modules are found and how they are imported. */
export interface ScenarioModuleOptions {
  /** The directory of `<test_type>.mjs` files (the `types_dir` setting). */
  typesDir: string;
  /** Refuse a module, or its directory, that others could change (the `strict_modes` setting). */
  strictModes: boolean;
  /** Times the import deadline. */
  clock: Clock;
  /** Default DEFAULT_IMPORT_DEADLINE_MS. */
  importDeadlineMs?: number;
  /** Turns the exports into a probe type; default: the scenario runtime's `scenarioProbeType`. */
  build?: BuildScenarioType;
  /** Called before each module's import (its first code runs): where the caller starts its watchdog. */
  beforeImport?: () => void;
}

/** What looking for one module found. `file` is always the path under types_dir, as operators name it. */
export type ScenarioModule =
  | { status: 'ok'; file: string; type: ProbeType }
  /** No such file (types_dir itself may be missing): the word is simply an unknown type. */
  | { status: 'missing'; file: string }
  /** It is there, but refused or failed to import: the lines naming it are invalid, for this reason. */
  | { status: 'failed'; file: string; reason: string };

/** `<typesDir>/<word>.mjs`, or undefined for a word that may not name a module. */
export function scenarioModulePath(typesDir: string, word: string): string | undefined {
  return SCENARIO_TYPE_WORD.test(word) ? join(typesDir, `${word}.mjs`) : undefined;
}

/**
 * Looks for `word`'s module, guards it, imports it and builds its probe type. Never throws. The
 * module (after resolving symlinks) must be a regular file; with `strictModes`, it, types_dir and
 * the directory it really lives in must be owned by root or the running user and not writable by
 * group or others. The import is Node's own (`import()` of its file URL), so it happens once per
 * process: importing it again gives the same module (or the same error).
 */
export async function loadScenarioModule(word: string, options: ScenarioModuleOptions): Promise<ScenarioModule | undefined> {
  const file = scenarioModulePath(options.typesDir, word);
  if (file === undefined) return undefined;
  const failed = (reason: string): ScenarioModule => ({ status: 'failed', file, reason });

  // lstat first: a dangling symlink is there (and refused), not missing.
  try {
    await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return { status: 'missing', file };
    return failed(fsReason(err));
  }
  let real: string;
  let info;
  try {
    real = await realpath(file);
    info = await stat(real);
  } catch (err) {
    return failed((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is a symbolic link to nothing' : fsReason(err));
  }
  const target = real === file ? '' : `${real} (its target) `;
  if (!info.isFile()) return failed(`${target}is ${info.isDirectory() ? 'a directory' : 'not a regular file'}; refused`);
  if (options.strictModes) {
    const refused = checkModes(info, 'file');
    if (refused) return failed(`${target}${refused}`);
    // types_dir, and the directory the file really lives in when a symlink leads elsewhere: whoever
    // can write a directory can replace the file in it.
    const dirs = [...new Set([options.typesDir, dirname(real)])];
    for (const dir of dirs) {
      let dirInfo;
      try {
        dirInfo = await stat(dir);
      } catch (err) {
        return failed(`its directory ${dir}: ${fsReason(err)}`);
      }
      const dirRefused = checkModes(dirInfo, 'directory');
      if (dirRefused) return failed(`its directory ${dir} ${dirRefused}`);
    }
  }

  const deadlineMs = options.importDeadlineMs ?? DEFAULT_IMPORT_DEADLINE_MS;
  const url = pathToFileURL(real).href;
  options.beforeImport?.();
  // An import that settles after the deadline is ignored (its rejection handled here, never unhandled);
  // one that never settles (a top-level await on nothing) holds no timer and so never holds the process.
  const imported = import(url).then(
    (namespace: Record<string, unknown>) => ({ ok: true as const, namespace }),
    (err: unknown) => ({ ok: false as const, reason: importReason(err, url) }),
  );
  const outcome = await withDeadline(options.clock, imported, deadlineMs, { ok: false as const, reason: `did not finish importing within ${seconds(deadlineMs)}` });
  if (!outcome.ok) return failed(outcome.reason);

  let build = options.build;
  try {
    build ??= (await import('./scenario-type.js')).scenarioProbeType;
    const made = build(word, file, outcome.namespace);
    return made.ok ? { status: 'ok', file, type: made.type } : failed(oneLine(made.reason));
  } catch (err) {
    // The runtime must answer with data; a throw is its bug, still only this module's lines' problem.
    return failed(`could not be made a test type: ${oneLine((err as Error)?.message ?? String(err))}`);
  }
}

/**
 * Why an import failed, in one line: the error's name and the first line of its message (never the
 * stack, which may quote the module's source line, and a secret in it), and the module's line
 * number when the stack names it.
 */
function importReason(err: unknown, url: string): string {
  if (!(err instanceof Error)) return `failed to import: threw a ${err === null ? 'null' : typeof err}, not an Error`;
  const line = new RegExp(`${escapeRegExp(url)}:(\\d+)`).exec(err.stack ?? '')?.[1];
  // Node 20 keeps where a module fails to parse out of the error it hands import(); `node --check` shows it.
  const where = line ? ` (line ${line})` : err.name === 'SyntaxError' ? '; node --check on the file shows where' : '';
  return `failed to import: ${err.name}: ${oneLine(err.message)}${where}`;
}

/** A filesystem error as a short reason. */
function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symbolic links (a symlink loop)';
    case 'ENOENT':
      return 'no such file or directory';
    default:
      return oneLine(e.message ?? String(err));
  }
}

/** The first line of `text`, trimmed and bounded. */
function oneLine(text: string): string {
  const first = text.split(/\r\n|\r|\n/, 1)[0]?.trim() ?? '';
  return first.length > MAX_REASON_CHARS ? `${first.slice(0, MAX_REASON_CHARS)}…` : first;
}

/** `5s`, `0.25s`. */
function seconds(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
