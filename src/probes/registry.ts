import { dnsProbeType } from './dns.js';
import { httpProbeType } from './http.js';
import type { ProbeType } from './probe.js';
import { loadScenarioModule, scenarioModulePath, type ScenarioModule, type ScenarioModuleOptions } from './scenario/load-module.js';
import { tcpProbeType } from './tcp.js';
import { tlsProbeType } from './tls.js';
import { websocketProbeType } from './websocket.js';

const PROBE_TYPE_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * The probe types one parse or run knows, by the `test_type` word that names them. Options are
 * opaque here: each type's parse() output is only ever handed back to its own create().
 */
export interface ProbeRegistry {
  /** The probe type a config line's `test_type` names, or undefined when there is none. */
  get(name: string): ProbeType | undefined;
  /** Every type name (built-ins and the scenario modules loaded so far), sorted, e.g. for "unknown test type; known types: …". */
  names(): string[];
  /**
   * Optional: looks for the scenario module of each word that is not built in (`<types_dir>/<word>.mjs`),
   * all at once, and imports it, so that get() knows it. Never rejects. A word looked up before is not
   * looked up again, except one whose module was missing (it may have been added since).
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
export function createProbeRegistry(types: readonly ProbeType[], modules?: ScenarioModuleOptions): ProbeRegistry {
  const builtIn = new Map<string, ProbeType>();
  for (const type of types) {
    if (!PROBE_TYPE_NAME.test(type.name)) {
      throw new TypeError(`Expected probe type name to match ${PROBE_TYPE_NAME}, got "${type.name}"`);
    }
    if (builtIn.has(type.name)) throw new TypeError(`Probe type "${type.name}" is already registered`);
    builtIn.set(type.name, type);
  }
  const builtInNames = [...builtIn.keys()].sort();
  if (!modules) return { get: (name) => builtIn.get(name), names: () => [...builtInNames] };

  /** Each word looked up, by word: what was found, or the lookup under way (shared by concurrent loads). */
  const found = new Map<string, ScenarioModule | Promise<ScenarioModule | undefined>>();
  const settled = (name: string): ScenarioModule | undefined => {
    const entry = found.get(name);
    return entry && !(entry instanceof Promise) ? entry : undefined;
  };
  return {
    get: (name) => {
      const builtInType = builtIn.get(name);
      if (builtInType) return builtInType;
      const entry = settled(name);
      return entry?.status === 'ok' ? entry.type : undefined;
    },
    names: () =>
      [...builtInNames, ...[...found].flatMap(([name, entry]) => (!(entry instanceof Promise) && entry.status === 'ok' ? [name] : []))].sort(),
    async load(words) {
      const wanted = [...new Set(words)].filter((w) => !builtIn.has(w) && scenarioModulePath(modules.typesDir, w) !== undefined);
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
      await Promise.all(pending);
    },
    whyUnknown(name) {
      if (builtIn.has(name)) return undefined;
      const entry = settled(name);
      if (!entry || entry.status === 'ok') return undefined;
      return entry.status === 'failed' ? { module: entry.file, reason: entry.reason } : { module: entry.file };
    },
  };
}

/** The probe types canihaz ships with; given `modules`, also the operator's scenario modules it finds there. */
export function builtinProbeRegistry(modules?: ScenarioModuleOptions): ProbeRegistry {
  return createProbeRegistry([httpProbeType, dnsProbeType, tcpProbeType, tlsProbeType, websocketProbeType], modules);
}
