import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_DESTINATIONS, parseDestinations, type Destination, type DestinationDefaults } from './destination.js';
import type { ProbeType } from '../probes/probe.js';
import { getProbeType, probeTypeNames } from '../probes/registry.js';

/** One valid config line: a test to run. */
export interface TestSpec {
  name: string;
  type: string;
  /** Executions per minute; 0 means paused. */
  frequency: number;
  destinations: Destination[];
  /** Most executions of this test in flight at once; a tick beyond it is dropped and counted. */
  concurrency: number;
  /** The probe's own per-execution timeout, ms (bounds how long a run can overrun its window). */
  timeoutMs: number;
  /** Probe-specific options, as validated by the probe type. */
  options: unknown;
  probeType: ProbeType;
  file: string;
  line: number;
  /** Changes whenever anything that affects how the test runs changes (used by live reload). */
  fingerprint: string;
}

/** One problem with one config line, reported as `FILE:LINE: field: message`. */
export interface LineError {
  file: string;
  line: number;
  field: string;
  message: string;
}

/** Formats a LineError the way operators see it. */
export function formatLineError(e: LineError): string {
  return `${e.file}:${e.line}: ${e.field}: ${e.message}`;
}

/** What parsing needs to know beyond the text. */
export interface ParseOptions {
  /** Highest allowed frequency (executions per minute). Default 60000. */
  maxFrequency?: number;
  /** host:port for the bare words `statsd` and `graphite`. */
  destinationDefaults?: DestinationDefaults;
  /** Probe type lookup; defaults to the registry. */
  lookupProbeType?: (name: string) => ProbeType | undefined;
}

/** Default cap on executions per minute for one test. */
export const DEFAULT_MAX_FREQUENCY = 60_000;

/** The result of parsing: every valid test, and every problem. */
export interface ParsedTests {
  specs: TestSpec[];
  errors: LineError[];
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const COMMON_KEYS = new Set(['concurrency']);
/** Names whose metric paths belong to the agent itself (`<prefix>.agent.skipped`). */
const RESERVED_NAMES = new Set(['agent']);

const lineSchema = (maxFrequency: number) =>
  z.object({
    name: z
      .string()
      .regex(NAME_RE, { error: (iss) => `expected 1-64 characters from A-Z a-z 0-9 _ -, got "${String(iss.input)}"` }),
    frequency: z
      .string()
      .regex(/^\d+$/, { error: (iss) => `expected a whole number of executions per minute, got "${String(iss.input)}"` })
      .transform(Number)
      .pipe(
        z
          .number()
          .max(maxFrequency, { error: (iss) => `must be at most ${maxFrequency} per minute (max_frequency), got ${String(iss.input)}` }),
      ),
    concurrency: z
      .string()
      .regex(/^\d+$/, { error: (iss) => `expected a whole number >= 1, got "${String(iss.input)}"` })
      .transform(Number)
      .pipe(z.number().int().min(1, { error: 'must be at least 1' }).max(100_000, { error: 'must be at most 100000' }))
      .optional(),
  });

/** Decodes the one escape the format has: `%7C` for a literal `|`. */
function unescapeValue(v: string): string {
  return v.replace(/%7C/gi, '|');
}

/**
 * Parses the text of one tests file. Never throws: every problem becomes a LineError and the line
 * is skipped; `seen` carries names across the files of a directory so duplicates are caught.
 */
export function parseTestsText(
  text: string,
  file: string,
  options: ParseOptions = {},
  seen: Map<string, { file: string; line: number }> = new Map(),
): ParsedTests {
  const maxFrequency = options.maxFrequency ?? DEFAULT_MAX_FREQUENCY;
  const defaults = options.destinationDefaults ?? DEFAULT_DESTINATIONS;
  const lookup = options.lookupProbeType ?? getProbeType;
  const schema = lineSchema(maxFrequency);
  const specs: TestSpec[] = [];
  const errors: LineError[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);

  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const lineErrors: LineError[] = [];
    const fail = (field: string, message: string) => lineErrors.push({ file, line, field, message });

    const fields = trimmed.split('|').map((f) => f.trim());
    if (fields.length < 4) {
      fail('line', `expected at least 4 fields test_name|test_type|test_frequency|metrics_destination, got ${fields.length}`);
      errors.push(...lineErrors);
      return;
    }
    const [name, type, frequency, destination, ...extras] = fields as [string, string, string, string, ...string[]];

    const params = new Map<string, string[]>();
    for (const extra of extras) {
      if (extra === '') continue;
      const eq = extra.indexOf('=');
      if (eq <= 0) {
        fail(eq === 0 ? 'field' : extra, `expected key=value, got "${extra}"`);
        continue;
      }
      const key = extra.slice(0, eq).trim();
      const value = unescapeValue(extra.slice(eq + 1).trim());
      params.set(key, [...(params.get(key) ?? []), value]);
    }

    const concurrencyValues = params.get('concurrency');
    if (concurrencyValues && concurrencyValues.length > 1) fail('concurrency', 'given more than once');
    const checked = schema.safeParse({ name, frequency, concurrency: concurrencyValues?.[0] });
    if (!checked.success) {
      for (const issue of checked.error.issues) fail(String(issue.path[0] ?? 'line'), issue.message);
    }

    if (checked.success || !checked.error.issues.some((i) => i.path[0] === 'name')) {
      if (RESERVED_NAMES.has(name)) fail('name', `"${name}" is reserved (its metrics would collide with <prefix>.${name}.*); choose another name`);
      const first = seen.get(name);
      if (first) fail('name', `"${name}" is already used at ${first.file}:${first.line}`);
    }

    const dests = parseDestinations(destination, defaults);
    if (!dests.ok) fail('destination', dests.message);

    const probeType = lookup(type);
    let probe: ReturnType<ProbeType['parse']> | undefined;
    if (!probeType) {
      fail('type', `unknown test type "${type}"; known types: ${probeTypeNames().join(', ')}`);
    } else {
      const probeParams = new Map([...params].filter(([k]) => !COMMON_KEYS.has(k)));
      const parsed = probeType.parse(probeParams);
      if (!parsed.ok) for (const issue of parsed.issues) fail(issue.field, issue.message);
      probe = parsed;
    }

    if (lineErrors.length > 0 || !checked.success || !dests.ok || !probeType || !probe?.ok) {
      errors.push(...lineErrors);
      return;
    }
    seen.set(name, { file, line });
    specs.push({
      name,
      type,
      frequency: checked.data.frequency,
      destinations: dests.destinations,
      concurrency: checked.data.concurrency ?? probeType.defaultConcurrency,
      timeoutMs: probe.timeoutMs,
      options: probe.options,
      probeType,
      file,
      line,
      fingerprint: JSON.stringify([type, checked.data.frequency, dests.destinations, [...params].sort()]),
    });
  });
  return { specs, errors };
}

/** What reading the config path found. */
export type LoadedTests =
  | ({ status: 'ok'; files: string[] } & ParsedTests)
  /** Nothing at the path: a valid state (no tests yet). */
  | { status: 'missing'; specs: []; errors: [] }
  /** Something is there but cannot be read. */
  | { status: 'unreadable'; message: string; specs: []; errors: [] };

/** True for the files a config directory is made of: `*.conf`, not hidden. */
export function isConfigFileName(name: string): boolean {
  return name.endsWith('.conf') && !name.startsWith('.');
}

/**
 * Reads the config path: a file, or a directory meaning every `*.conf` in it in name order, with
 * names unique across files. Never throws.
 */
export async function loadTests(path: string, options: ParseOptions = {}): Promise<LoadedTests> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', specs: [], errors: [] };
    return { status: 'unreadable', message: describeFsError(path, err), specs: [], errors: [] };
  }
  const seen = new Map<string, { file: string; line: number }>();
  const out: ParsedTests & { files: string[] } = { specs: [], errors: [], files: [] };
  let files: string[];
  if (info.isDirectory()) {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      files = entries
        .filter((e) => (e.isFile() || e.isSymbolicLink()) && isConfigFileName(e.name))
        .map((e) => e.name)
        .sort()
        .map((n) => join(path, n));
    } catch (err) {
      return { status: 'unreadable', message: describeFsError(path, err), specs: [], errors: [] };
    }
  } else {
    files = [path];
  }
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // A file of a directory that vanished between readdir and read was replaced mid-write; skip it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file !== path) continue;
      if (file === path) return { status: 'unreadable', message: describeFsError(path, err), specs: [], errors: [] };
      out.errors.push({ file, line: 0, field: 'file', message: describeFsError(file, err) });
      continue;
    }
    const parsed = parseTestsText(text, file, options, seen);
    out.specs.push(...parsed.specs);
    out.errors.push(...parsed.errors);
    out.files.push(file);
  }
  return { status: 'ok', ...out };
}

function describeFsError(path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return `${path}: permission denied`;
    case 'EISDIR':
      return `${path}: is a directory`;
    case 'ENOTDIR':
      return `${path}: a parent is not a directory`;
    default:
      return `${path}: ${e.message}`;
  }
}
