import { httpProbeType } from './http.js';
import type { ProbeType } from './probe.js';

const PROBE_TYPE_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * The probe types one parse or run knows, by the `test_type` word that names them. Options are
 * opaque here: each type's parse() output is only ever handed back to its own create().
 */
export interface ProbeRegistry {
  /** The probe type a config line's `test_type` names, or undefined when there is none. */
  get(name: string): ProbeType | undefined;
  /** Every type name, sorted, e.g. for "unknown test type; known types: …". */
  names(): string[];
}

/**
 * A registry of `types` (built-ins, later tcp, dns, tls, websocket or an operator's scenario
 * module). Throws on a malformed or repeated name: that is a bug.
 */
export function createProbeRegistry(types: readonly ProbeType[]): ProbeRegistry {
  const byName = new Map<string, ProbeType>();
  for (const type of types) {
    if (!PROBE_TYPE_NAME.test(type.name)) {
      throw new TypeError(`Expected probe type name to match ${PROBE_TYPE_NAME}, got "${type.name}"`);
    }
    if (byName.has(type.name)) throw new TypeError(`Probe type "${type.name}" is already registered`);
    byName.set(type.name, type);
  }
  const names = [...byName.keys()].sort();
  return { get: (name) => byName.get(name), names: () => [...names] };
}

/** The probe types canihaz ships with. */
export function builtinProbeRegistry(): ProbeRegistry {
  return createProbeRegistry([httpProbeType]);
}
