import { httpProbeType } from './http.js';
import type { ProbeType } from './probe.js';

const PROBE_TYPE_NAME = /^[a-z][a-z0-9_-]*$/;

// Options are opaque here: each type's parse() output is only ever handed back to its own create().
const probeTypes = new Map<string, ProbeType>();

/**
 * Adds a probe type under its `name` (built-ins at load time; later tcp, dns, tls, websocket or an
 * operator's scenario module). Throws on a malformed or already-registered name: that is a bug.
 */
export function registerProbeType<Options>(type: ProbeType<Options>): void {
  if (!PROBE_TYPE_NAME.test(type.name)) {
    throw new TypeError(`Expected probe type name to match ${PROBE_TYPE_NAME}, got "${type.name}"`);
  }
  if (probeTypes.has(type.name)) throw new TypeError(`Probe type "${type.name}" is already registered`);
  probeTypes.set(type.name, type);
}

/** The probe type a config line's `test_type` names, or undefined when there is none. */
export function getProbeType(name: string): ProbeType | undefined {
  return probeTypes.get(name);
}

/** Every registered type name, sorted, e.g. for "unknown test type; expected one of …". */
export function probeTypeNames(): string[] {
  return [...probeTypes.keys()].sort();
}

registerProbeType(httpProbeType);
