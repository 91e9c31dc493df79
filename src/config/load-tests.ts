/**
 * Reading the config path: one tests file, or a directory of `*.conf` files read in name order as
 * one config, each file refused (not opened) when it is not a regular file or others could change it.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkModes } from '../file-modes.js';
import { describeError, readConfigFile } from './read-file.js';
import type { ParsedTests, ParseOptions } from './tests-file.js';

/** What reading the config path found. */
export type LoadedTests =
  | ({
      status: 'ok';
      files: string[];
      /** Files of a config directory that were refused or could not be read (each also in `errors`, line 0). */
      unreadableFiles: string[];
    } & ParsedTests)
  /** Nothing at the path: a valid state (no tests yet). */
  | { status: 'missing'; specs: []; errors: [] }
  /** Something is there but cannot be read, or is refused (not a regular file, strict_modes). */
  | { status: 'unreadable'; message: string; specs: []; errors: [] };

/** True for the files a config directory is made of: `*.conf`, not hidden. */
export function isConfigFileName(name: string): boolean {
  return name.endsWith('.conf') && !name.startsWith('.');
}

/**
 * Reads the config path: a file, or a directory meaning every `*.conf` in it in name order, with
 * names unique across files. Never throws, and never blocks on what it finds: anything but a regular
 * file is refused (see `readConfigFile`); with `strictModes` (the default) so is a file or directory
 * that others could change. In a directory, a refused `*.conf` is an error for that file only.
 * Before parsing, the registry's load() imports the scenario modules the lines name (bounded: see
 * load-module.ts), so a line naming a broken module is an error of that line only.
 */
export async function loadTests(path: string, options: ParseOptions): Promise<LoadedTests> {
  const strictModes = options.strictModes ?? true;
  const unreadable = (message: string): LoadedTests => ({ status: 'unreadable', message, specs: [], errors: [] });
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const described = describeError(path, err);
    return described.status === 'missing' ? { status: 'missing', specs: [], errors: [] } : unreadable(described.message);
  }
  // The parser (and zod with it) is loaded once there is something to parse: a run waiting for its
  // first tests file never loads it.
  const { createParseState, parseTestsText, typeWords } = await import('./tests-file.js');
  const state = createParseState();
  const out: ParsedTests & { files: string[]; unreadableFiles: string[] } = { specs: [], errors: [], files: [], unreadableFiles: [] };
  let files: string[];
  if (info.isDirectory()) {
    const refused = strictModes ? checkModes(info, 'directory') : undefined;
    if (refused) return unreadable(`${path}: ${refused}`);
    try {
      const entries = await readdir(path, { withFileTypes: true });
      // Everything but a subdirectory is read, so a FIFO or socket named *.conf is reported, not ignored.
      files = entries
        .filter((e) => !e.isDirectory() && isConfigFileName(e.name))
        .map((e) => e.name)
        .sort()
        .map((n) => join(path, n));
    } catch (err) {
      const described = describeError(path, err);
      return unreadable(described.status === 'refused' ? described.message : `${path}: vanished while being read`);
    }
  } else {
    if (strictModes) {
      const parent = dirname(path);
      try {
        const refused = checkModes(await stat(parent), 'directory');
        if (refused) return unreadable(`${parent} (the directory of ${path}): ${refused}`);
      } catch (err) {
        const described = describeError(parent, err);
        if (described.status === 'refused') return unreadable(described.message);
      }
    }
    files = [path];
  }
  // Every file is read first, then every scenario module any line names is imported (all at once,
  // each bounded), then the files are parsed in order: parsing itself is synchronous.
  const read: ({ file: string; text: string } | { file: string; refused: string })[] = [];
  for (const file of files) {
    const one = await readConfigFile(file, { strictModes });
    if (one.status === 'ok') {
      read.push({ file, text: one.text });
      continue;
    }
    // A file that vanished between stat (or readdir) and the read was being replaced: as missing.
    if (one.status === 'missing') {
      if (file === path) return { status: 'missing', specs: [], errors: [] };
      continue;
    }
    if (file === path) return unreadable(one.message);
    read.push({ file, refused: one.message.slice(file.length + 2) });
  }
  await options.probeTypes.load?.(read.flatMap((r) => ('text' in r ? typeWords(r.text) : [])));
  for (const r of read) {
    if ('refused' in r) {
      out.errors.push({ file: r.file, line: 0, field: 'file', message: r.refused });
      out.unreadableFiles.push(r.file);
      continue;
    }
    const parsed = parseTestsText(r.text, r.file, options, state);
    out.specs.push(...parsed.specs);
    out.errors.push(...parsed.errors);
    out.files.push(r.file);
  }
  return { status: 'ok', ...out };
}
