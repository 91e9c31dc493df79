import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_DESTINATIONS, parseDestinations, type Destination, type DestinationDefaults } from './destination.js';
import { checkModes, describeError, readConfigFile } from './read-file.js';
import { quotePrefix, quoteValue } from './redact.js';
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
  /** Highest sum of every test's frequency (executions per minute, per agent). Default 600000. */
  maxTotalRate?: number;
  /** Refuse config files and directories others could change (sshd's StrictModes). Default true. */
  strictModes?: boolean;
  /** host:port for the bare words `statsd` and `graphite`. */
  destinationDefaults?: DestinationDefaults;
  /** Probe type lookup; defaults to the registry. */
  lookupProbeType?: (name: string) => ProbeType | undefined;
}

/** Default cap on executions per minute for one test. */
export const DEFAULT_MAX_FREQUENCY = 60_000;
/** Default cap on executions per minute of all tests of one agent together. */
export const DEFAULT_MAX_TOTAL_RATE = 600_000;

/** What parsing carries from one file of a config directory to the next. */
export interface ParseState {
  /** Where each test name was first used, so duplicates across files are caught. */
  names: Map<string, { file: string; line: number }>;
  /** Executions per minute of the tests accepted so far (checked against max_total_rate). */
  totalRate: number;
}

/** A fresh ParseState for reading one whole config. */
export function createParseState(): ParseState {
  return { names: new Map(), totalRate: 0 };
}

/** The result of parsing: every valid test, and every problem. */
export interface ParsedTests {
  specs: TestSpec[];
  errors: LineError[];
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** What a `key` of a `key=value` field may look like; anything else is not echoed (it may be a secret). */
const KEY_RE = /^[A-Za-z0-9_.-]{1,40}$/;
const COMMON_KEYS = new Set(['concurrency']);
/** Names whose metric paths belong to the agent itself (`<prefix>.agent.skipped`). */
const RESERVED_NAMES = new Set(['agent']);

const lineSchema = (maxFrequency: number) =>
  z.object({
    name: z
      .string()
      .regex(NAME_RE, { error: (iss) => `expected 1-64 characters from A-Z a-z 0-9 _ -, got ${quoteValue(String(iss.input))}` }),
    frequency: z
      .string()
      .regex(/^\d+$/, { error: (iss) => `expected a whole number of executions per minute, got ${quoteValue(String(iss.input))}` })
      .transform(Number)
      .pipe(
        z
          .number()
          .max(maxFrequency, { error: (iss) => `must be at most ${maxFrequency} per minute (max_frequency), got ${String(iss.input)}` }),
      ),
    concurrency: z
      .string()
      .regex(/^\d+$/, { error: (iss) => `expected a whole number >= 1, got ${quoteValue(String(iss.input))}` })
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
 * is skipped; `state` carries names and the total rate across the files of a directory. Lines end
 * with LF, CRLF or a lone CR (old Mac files): each counts as one line.
 */
export function parseTestsText(text: string, file: string, options: ParseOptions = {}, state: ParseState = createParseState()): ParsedTests {
  const seen = state.names;
  const maxFrequency = options.maxFrequency ?? DEFAULT_MAX_FREQUENCY;
  const maxTotalRate = options.maxTotalRate ?? DEFAULT_MAX_TOTAL_RATE;
  const defaults = options.destinationDefaults ?? DEFAULT_DESTINATIONS;
  const lookup = options.lookupProbeType ?? getProbeType;
  const schema = lineSchema(maxFrequency);
  const specs: TestSpec[] = [];
  const errors: LineError[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);

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
    extras.forEach((extra, i) => {
      if (extra === '') return;
      // Field numbers as an operator counts them: the first key=value field is field 5.
      const where = `field ${i + 5}`;
      const eq = extra.indexOf('=');
      // The field is echoed only in part: it may be a header or token written without its key.
      if (eq < 0) {
        fail(where, `expected key=value, got ${quotePrefix(extra)}`);
        return;
      }
      const key = extra.slice(0, eq).trim();
      if (!KEY_RE.test(key)) {
        fail(where, key === '' ? 'expected key=value, got nothing before "="' : `expected key=value with a key of letters, digits, _ . -, got ${quotePrefix(key)}`);
        return;
      }
      const value = unescapeValue(extra.slice(eq + 1).trim());
      params.set(key, [...(params.get(key) ?? []), value]);
    });

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
      fail('type', `unknown test type ${quoteValue(type)}; known types: ${probeTypeNames().join(', ')}`);
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
    const total = state.totalRate + checked.data.frequency;
    if (total > maxTotalRate) {
      errors.push({
        file,
        line,
        field: 'frequency',
        message: `${checked.data.frequency} per minute would bring this agent's total to ${total} per minute, over max_total_rate ${maxTotalRate} (the tests before this line already total ${state.totalRate})`,
      });
      return;
    }
    state.totalRate = total;
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
 */
export async function loadTests(path: string, options: ParseOptions = {}): Promise<LoadedTests> {
  const strictModes = options.strictModes ?? true;
  const unreadable = (message: string): LoadedTests => ({ status: 'unreadable', message, specs: [], errors: [] });
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const described = describeError(path, err);
    return described.status === 'missing' ? { status: 'missing', specs: [], errors: [] } : unreadable(described.message);
  }
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
  for (const file of files) {
    const read = await readConfigFile(file, { strictModes });
    if (read.status !== 'ok') {
      // A file that vanished between stat (or readdir) and the read was being replaced: as missing.
      if (read.status === 'missing') {
        if (file === path) return { status: 'missing', specs: [], errors: [] };
        continue;
      }
      if (file === path) return unreadable(read.message);
      out.errors.push({ file, line: 0, field: 'file', message: read.message.slice(file.length + 2) });
      out.unreadableFiles.push(file);
      continue;
    }
    const parsed = parseTestsText(read.text, file, options, state);
    out.specs.push(...parsed.specs);
    out.errors.push(...parsed.errors);
    out.files.push(file);
  }
  return { status: 'ok', ...out };
}
