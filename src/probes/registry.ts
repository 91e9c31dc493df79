import type { ProbeType } from './probe.js';
import { loadScenarioModule, scenarioModulePath, type ScenarioModule, type ScenarioModuleOptions } from './scenario/load-module.js';

const PROBE_TYPE_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * The probe types one parse or run knows, by the `test_type` word that names them. Options are
 * opaque here: each type's parse() output is only ever handed back to its own create().
 */
export interface ProbeRegistry {
  /**
   * The probe type a config line's `test_type` names, or undefined when there is none — or when it is
   * one whose module is imported on demand (a lazy built-in, a scenario module) and load() has not
   * been given its word yet.
   */
  get(name: string): ProbeType | undefined;
  /** Every type name (built-ins and the scenario modules loaded so far), sorted, e.g. for "unknown test type; known types: …". */
  names(): string[];
  /**
   * Optional: imports the module of each word that names a lazy built-in, and looks for the scenario
   * module of each word that is not built in (`<types_dir>/<word>.mjs`), all at once, and imports it,
   * so that get() knows them. Never rejects. A word looked up before is not looked up again, except
   * one whose module was missing (it may have been added since).
   */
  load?(words: Iterable<string>): Promise<void>;
  /**
   * Optional: why `name` names no type, when load() looked for its module: the module's path, and the
   * reason it was refused or failed to import (no reason: there is no such file). Undefined for a
   * type, a word that can name no module (`X`, `../x`) or one never looked up.
   */
  whyUnknown?(name: string): { module: string; reason?: string } | undefined;
}

/**
 * A registry of `types` (the built-ins, or a test's fakes) and, given `modules`, of the operator's
 * scenario modules that load() imports. A built-in is never looked for in types_dir, so a file there
 * cannot override it. Throws on a malformed or repeated name: that is a bug.
 */
export function createProbeRegistry(types: readonly (ProbeType | LazyProbeType)[], modules?: ScenarioModuleOptions): ProbeRegistry {
  /** Each built-in by name: the type, or (lazy) how to import it and, once imported, the type. */
  const builtIn = new Map<string, { type?: ProbeType; load?: () => Promise<ProbeType>; loading?: Promise<void>; failed?: string }>();
  for (const type of types) {
    if (!PROBE_TYPE_NAME.test(type.name)) {
      throw new TypeError(`Expected probe type name to match ${PROBE_TYPE_NAME}, got "${type.name}"`);
    }
    if (builtIn.has(type.name)) throw new TypeError(`Probe type "${type.name}" is already registered`);
    builtIn.set(type.name, 'load' in type ? { load: () => type.load() } : { type });
  }
  const builtInNames = [...builtIn.keys()].sort();
  const getBuiltIn = (name: string) => builtIn.get(name)?.type;
  /** Imports the lazy built-ins among `words`; a failed import (a broken install) leaves the type unknown. */
  const loadBuiltIns = (words: readonly string[]) =>
    Promise.all(
      words.flatMap((word) => {
        const entry = builtIn.get(word);
        if (!entry?.load || entry.type) return [];
        entry.loading ??= entry.load().then(
          (type) => {
            entry.type = type;
            entry.failed = undefined;
          },
          (err: unknown) => {
            entry.loading = undefined;
            entry.failed = `could not be loaded (a bug): ${(err as Error)?.message ?? String(err)}`;
          },
        );
        return [entry.loading];
      }),
    );
  const whyBuiltInUnknown = (name: string) => {
    const failed = builtIn.get(name)?.failed;
    return failed === undefined ? undefined : { module: name, reason: failed };
  };
  if (!modules) {
    // Types given as they are (a test's fakes): nothing to load, nothing to explain.
    if (![...builtIn.values()].some((e) => e.load)) return { get: getBuiltIn, names: () => [...builtInNames] };
    return {
      get: getBuiltIn,
      names: () => [...builtInNames],
      load: async (words) => void (await loadBuiltIns([...new Set(words)])),
      whyUnknown: whyBuiltInUnknown,
    };
  }

  /** Each word looked up, by word: what was found, or the lookup under way (shared by concurrent loads). */
  const found = new Map<string, ScenarioModule | Promise<ScenarioModule | undefined>>();
  const settled = (name: string): ScenarioModule | undefined => {
    const entry = found.get(name);
    return entry && !(entry instanceof Promise) ? entry : undefined;
  };
  return {
    get: (name) => {
      if (builtIn.has(name)) return getBuiltIn(name);
      const entry = settled(name);
      return entry?.status === 'ok' ? entry.type : undefined;
    },
    names: () =>
      [...builtInNames, ...[...found].flatMap(([name, entry]) => (!(entry instanceof Promise) && entry.status === 'ok' ? [name] : []))].sort(),
    async load(words) {
      const unique = [...new Set(words)];
      const builtIns = loadBuiltIns(unique);
      const wanted = unique.filter((w) => !builtIn.has(w) && scenarioModulePath(modules.typesDir, w) !== undefined);
      const pending = wanted.flatMap((word) => {
        const entry = found.get(word);
        if (entry instanceof Promise) return [entry];
        if (entry && entry.status !== 'missing') return [];
        const lookup = loadScenarioModule(word, modules).then(
          (result) => {
            if (result) found.set(word, result);
            else found.delete(word);
            return result;
          },
          (err: unknown) => {
            // loadScenarioModule never throws; if it did (a bug), the word's lines say so.
            const file = scenarioModulePath(modules.typesDir, word) ?? word;
            const result: ScenarioModule = { status: 'failed', file, reason: `could not be loaded (a bug): ${(err as Error)?.message ?? String(err)}` };
            found.set(word, result);
            return result;
          },
        );
        found.set(word, lookup);
        return [lookup];
      });
      await Promise.all([builtIns, ...pending]);
    },
    whyUnknown(name) {
      if (builtIn.has(name)) return whyBuiltInUnknown(name);
      const entry = settled(name);
      if (!entry || entry.status === 'ok') return undefined;
      return entry.status === 'failed' ? { module: entry.file, reason: entry.reason } : { module: entry.file };
    },
  };
}

/** A built-in probe type whose module is imported only when a config line names it (see `load`). */
export interface LazyProbeType {
  readonly name: string;
  load(): Promise<ProbeType>;
}

/**
 * The probe types canihaz ships with, each imported when a line first names it (a copy with one http
 * test never loads the dns, tcp, tls or websocket code); given `modules`, also the operator's scenario
 * modules it finds there. get() knows a type once load() has been given its word (loadTests does).
 */
export function builtinProbeRegistry(modules?: ScenarioModuleOptions): ProbeRegistry {
  return createProbeRegistry(BUILT_IN_TYPES, modules);
}

/** The built-ins, by name, and where each is. */
export const BUILT_IN_TYPES: readonly LazyProbeType[] = [
  { name: 'http', load: async () => (await import('./http.js')).httpProbeType },
  { name: 'dns', load: async () => (await import('./dns.js')).dnsProbeType },
  { name: 'tcp', load: async () => (await import('./tcp.js')).tcpProbeType },
  { name: 'tls', load: async () => (await import('./tls.js')).tlsProbeType },
  { name: 'websocket', load: async () => (await import('./websocket.js')).websocketProbeType },
];
