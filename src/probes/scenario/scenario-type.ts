/**
 * A scenario module as a probe type: its exports checked (a default function; optional `params`,
 * `setup`, `teardown`), its `params` turned into the type's `key=value` parser, and `create()`
 * building a ScenarioProbe (scenario-probe.ts). The loader (load-module.ts) imports the module and
 * calls `scenarioProbeType`; nothing here touches the file system.
 */
import { z } from 'zod';
import type { ParamSpec, ScenarioFunction, SetupFunction, TeardownFunction } from '../../../types/scenario.js';
import { warmUpUndici } from '../http-warm-up.js';
import { COMMON_KEYS, field, paramsParser, timeoutField } from '../params.js';
import type { ProbeType } from '../probe.js';
import type { ScenarioModule, ScenarioOptions } from './scenario-module.js';
import { createScenarioProbe } from './scenario-probe.js';

export type { ScenarioModule, ScenarioOptions };

/** Default execution timeout of a scenario test: it bounds the whole execution, and setup and teardown each. */
export const DEFAULT_SCENARIO_TIMEOUT_MS = 10_000;
/** Longest timeout a scenario test may set. */
export const MAX_SCENARIO_TIMEOUT_MS = 5 * 60_000;
/** Default cap on executions of one scenario test in flight at once. */
export const DEFAULT_SCENARIO_CONCURRENCY = 100;

/** What a module's own keys may be called. */
const PARAM_KEY = /^[a-z][a-z0-9_]{0,63}$/;
const PARAM_SPEC_KEYS = ['required', 'default', 'doc'] as const;

export type ScenarioTypeResult = { ok: true; type: ProbeType<ScenarioOptions> } | { ok: false; reason: string };

/**
 * Validates a module's exports (default function, optional params/setup/teardown) and builds its
 * probe type. `namespace` is what `import()` gave; `reason` is one operator-facing line about the
 * module (the caller names the file), e.g. "has no default export function".
 */
export function scenarioProbeType(name: string, file: string, namespace: Record<string, unknown>): ScenarioTypeResult {
  const checked = checkModule(name, file, namespace);
  if ('reason' in checked) return { ok: false, reason: checked.reason };
  const module = checked.module;
  const parse = optionsParser(module);
  const type: ProbeType<ScenarioOptions> = {
    name,
    defaultConcurrency: DEFAULT_SCENARIO_CONCURRENCY,
    parse,
    create: (options, context) => createScenarioProbe(module, options, context),
    // ctx.http is undici (as the http probe's https is): its one-time warm-up (its parser compiled
    // against a throwaway local server) keeps the first ticks on time.
    prepare: () => warmUpUndici(),
  };
  return { ok: true, type };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function checkModule(name: string, file: string, ns: Record<string, unknown>): { module: ScenarioModule } | { reason: string } {
  const run = ns.default;
  if (typeof run !== 'function') {
    const got = run === undefined ? '' : ` (the default export is ${describe(run)})`;
    return { reason: `has no default export function${got}; write \`export default async function (ctx) { … }\`` };
  }
  for (const hook of ['setup', 'teardown'] as const) {
    if (ns[hook] !== undefined && typeof ns[hook] !== 'function') {
      return { reason: `export \`${hook}\` must be a function, got ${describe(ns[hook])}` };
    }
  }
  const params = checkParams(ns.params);
  if ('reason' in params) return params;
  return {
    module: {
      name,
      file,
      run: run as ScenarioFunction,
      params: params.params,
      setup: ns.setup as SetupFunction | undefined,
      teardown: ns.teardown as TeardownFunction | undefined,
    },
  };
}

function checkParams(raw: unknown): { params: Record<string, ParamSpec> } | { reason: string } {
  if (raw === undefined) return { params: {} };
  if (!isPlainObject(raw)) return { reason: `export \`params\` must be an object such as { host: { required: true } }, got ${describe(raw)}` };
  const params: Record<string, ParamSpec> = Object.create(null) as Record<string, ParamSpec>;
  for (const [key, spec] of Object.entries(raw)) {
    const where = `params key \`${key.length > 40 ? key.slice(0, 40) + '…' : key}\``;
    if (!PARAM_KEY.test(key)) return { reason: `${where}: expected a name matching [a-z][a-z0-9_]* (at most 64 characters)` };
    if ((COMMON_KEYS as readonly string[]).includes(key)) {
      return { reason: `${where}: \`${key}\` is a key every test accepts (${COMMON_KEYS.join(', ')}); choose another name` };
    }
    if (!isPlainObject(spec)) return { reason: `${where}: expected an object such as { required: true, doc: '…' }, got ${describe(spec)}` };
    for (const prop of Object.keys(spec)) {
      if (!(PARAM_SPEC_KEYS as readonly string[]).includes(prop)) {
        return { reason: `${where}: unknown property \`${prop.slice(0, 40)}\`; expected ${PARAM_SPEC_KEYS.join(', ')}` };
      }
    }
    if (spec.required !== undefined && typeof spec.required !== 'boolean') return { reason: `${where}: \`required\` must be true or false, got ${describe(spec.required)}` };
    if (spec.default !== undefined && typeof spec.default !== 'string') {
      return { reason: `${where}: \`default\` must be a string (values on a line are text), got ${describe(spec.default)}` };
    }
    if (spec.doc !== undefined && typeof spec.doc !== 'string') return { reason: `${where}: \`doc\` must be a string, got ${describe(spec.doc)}` };
    if (spec.required === true && spec.default !== undefined) return { reason: `${where}: a required key takes no \`default\`; drop one of them` };
    params[key] = {
      ...(spec.required === true ? { required: true } : {}),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
      ...(spec.doc !== undefined ? { doc: spec.doc } : {}),
    };
  }
  return { params };
}

/** The module's `key=value` parser: its own keys (as declared), then the common `timeout`. */
function optionsParser(module: ScenarioModule): ProbeType<ScenarioOptions>['parse'] {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, spec] of Object.entries(module.params)) {
    const text = field((raw) => ({ value: raw }), spec.required ? `is required${spec.doc ? ` (${oneLine(spec.doc)})` : ''}` : undefined);
    shape[key] = spec.required ? text : spec.default !== undefined ? text.default(spec.default) : text.optional();
  }
  const parseFields = paramsParser({
    type: module.name,
    shape: { ...shape, timeout: timeoutField({ defaultMs: DEFAULT_SCENARIO_TIMEOUT_MS, maxMs: MAX_SCENARIO_TIMEOUT_MS }) },
  });
  return (lineParams) => {
    const result = parseFields(lineParams);
    if (!result.ok) return result;
    const { timeout, ...values } = result.data as Record<string, unknown> & { timeout: number };
    const params: Record<string, string> = {};
    for (const key of Object.keys(module.params)) {
      const value = values[key];
      if (typeof value === 'string') params[key] = value;
    }
    return { ok: true, options: { params, timeoutMs: timeout }, timeoutMs: timeout };
  };
}

function oneLine(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  return first.length > 120 ? `${first.slice(0, 120)}…` : first;
}
