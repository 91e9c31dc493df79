/**
 * `npm run lint` checks the shape ARCHITECTURE.md draws, and each rule bites: a copy of src/ with one
 * forbidden import (or cycle, orphan, dev dependency …) per rule fails dependency-cruiser with that
 * rule's name and its own explanation, and a file of src/ with a raw timer or a `process.exit` below
 * the Face fails ESLint. The real src/ passes both.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Rule {
  name: string;
  comment: string;
}
const RULES = (createRequire(import.meta.url)(CONFIG) as { forbidden: Rule[] }).forbidden;

/** One way to break each rule: files to add to a copy of src/, and the edge that must be reported (`to`: a part of the reported path). */
const BREAKS: { rule: string; files: Record<string, string>; from: string; to: string }[] = [
  {
    rule: 'scheduler-imports-no-probe-and-no-config',
    files: { 'src/schedule/knows-probe.ts': "export { createHttpProbe } from '../probes/http.js';\n" },
    from: 'src/schedule/knows-probe.ts',
    to: 'src/probes/http.ts',
  },
  {
    // A type-only import counts: the scheduler must not know `TestSpec` even as a type.
    rule: 'scheduler-imports-no-probe-and-no-config',
    files: { 'src/schedule/knows-spec.ts': "import type { TestSpec } from '../config/tests-file.js';\nexport type Spec = TestSpec;\n" },
    from: 'src/schedule/knows-spec.ts',
    to: 'src/config/tests-file.ts',
  },
  {
    rule: 'schedule-imports-only-events-clock-base',
    files: { 'src/schedule/knows-control.ts': "export * from '../control/lock-slots.js';\n" },
    from: 'src/schedule/knows-control.ts',
    to: 'src/control/lock-slots.ts',
  },
  {
    rule: 'probes-never-import-config-or-metrics',
    files: { 'src/probes/reads-config.ts': "export * from '../config/tests-file.js';\n" },
    from: 'src/probes/reads-config.ts',
    to: 'src/config/tests-file.ts',
  },
  {
    rule: 'probes-import-only-events-clock-net-base',
    files: { 'src/probes/controls.ts': "export * from '../control/stop-file.js';\n" },
    from: 'src/probes/controls.ts',
    to: 'src/control/stop-file.ts',
  },
  {
    rule: 'sinks-never-import-config',
    files: { 'src/metrics/reads-settings.ts': "export * from '../config/settings.js';\n" },
    from: 'src/metrics/reads-settings.ts',
    to: 'src/config/settings.ts',
  },
  {
    rule: 'metrics-import-only-events-clock-net-base',
    files: { 'src/metrics/runs-probes.ts': "export * from '../probes/registry.js';\n" },
    from: 'src/metrics/runs-probes.ts',
    to: 'src/probes/registry.ts',
  },
  {
    rule: 'watchers-take-a-filter-not-the-config-format',
    files: { 'src/control/knows-format.ts': "export * from '../config/tests-file.js';\n" },
    from: 'src/control/knows-format.ts',
    to: 'src/config/tests-file.ts',
  },
  {
    rule: 'control-imports-only-clock-base',
    files: { 'src/control/reports.ts': "export * from '../events.js';\n" },
    from: 'src/control/reports.ts',
    to: 'src/events.ts',
  },
  {
    rule: 'config-imports-only-probes-metrics-base',
    files: { 'src/config/drives.ts': "export * from '../schedule/plan.js';\n" },
    from: 'src/config/drives.ts',
    to: 'src/schedule/plan.ts',
  },
  {
    rule: 'nothing-below-the-face-imports-the-face',
    files: { 'src/metrics/knows-argv.ts': "export * from '../cli/args.js';\n" },
    from: 'src/metrics/knows-argv.ts',
    to: 'src/cli/args.ts',
  },
  {
    rule: 'clock-is-a-leaf',
    files: { 'src/clock.ts': "import './log.js';\nexport const realClock = {};\n" },
    from: 'src/clock.ts',
    to: 'src/log.ts',
  },
  {
    rule: 'events-is-a-leaf',
    files: { 'src/events.ts': "import './clock.js';\nexport {};\n" },
    from: 'src/events.ts',
    to: 'src/clock.ts',
  },
  {
    rule: 'net-imports-only-clock',
    files: { 'src/net/logs.ts': "export * from '../log.js';\n" },
    from: 'src/net/logs.ts',
    to: 'src/log.ts',
  },
  {
    // Base's files not even each other.
    rule: 'base-is-a-leaf',
    files: { 'src/quote.ts': "export * from './errors.js';\n" },
    from: 'src/quote.ts',
    to: 'src/errors.ts',
  },
  {
    rule: 'every-file-is-in-a-room',
    files: { 'src/grab-bag/util.ts': "export * from '../events.js';\n" },
    from: 'src/grab-bag/util.ts',
    to: 'src/events.ts',
  },
  {
    rule: 'dashboard-imports-only-journal-clock-base',
    files: { 'src/dashboard/knows-settings.ts': "export type { Settings } from '../config/settings.js';\n" },
    from: 'src/dashboard/knows-settings.ts',
    to: 'src/config/settings.ts',
  },
  {
    // Not the live sinks either: the dashboard reads the journal only.
    rule: 'dashboard-imports-only-journal-clock-base',
    files: { 'src/dashboard/knows-graphite.ts': "export * from '../metrics/names.js';\n" },
    from: 'src/dashboard/knows-graphite.ts',
    to: 'src/metrics/names.ts',
  },
  {
    rule: 'journal-imports-only-events-clock-sink-base',
    files: { 'src/journal/knows-settings.ts': "export type { Settings } from '../config/settings.js';\n" },
    from: 'src/journal/knows-settings.ts',
    to: 'src/config/settings.ts',
  },
  {
    // Metrics only for the MetricSink seam: not the live sinks' aggregation.
    rule: 'journal-imports-only-events-clock-sink-base',
    files: { 'src/journal/knows-intervals.ts': "export { createIntervalAggregator } from '../metrics/intervals.js';\n" },
    from: 'src/journal/knows-intervals.ts',
    to: 'src/metrics/intervals.ts',
  },
  {
    rule: 'no-circular',
    files: {
      'src/schedule/ping.ts': "import { pong } from './pong.js';\nexport const ping = (): number => pong() + 1;\n",
      'src/schedule/pong.ts': "import { ping } from './ping.js';\nexport const pong = (): number => ping() - 1;\n",
    },
    from: 'src/schedule/ping.ts',
    to: 'src/schedule/pong.ts',
  },
  {
    rule: 'not-to-dev-dep',
    files: { 'src/metrics/uses-vitest.ts': "export { expect } from 'vitest';\n" },
    from: 'src/metrics/uses-vitest.ts',
    to: 'node_modules/vitest/',
  },
  {
    rule: 'no-non-package-json',
    // Installed (as a dependency of a dependency) but not declared in package.json.
    files: { 'src/metrics/uses-undeclared.ts': "export * from 'picomatch';\n" },
    from: 'src/metrics/uses-undeclared.ts',
    to: 'node_modules/picomatch/',
  },
  {
    rule: 'not-to-unresolvable',
    files: { 'src/metrics/moved.ts': "export * from './no-such-file.js';\n" },
    from: 'src/metrics/moved.ts',
    to: './no-such-file.js',
  },
];

/** The orphan: a file nothing imports and that imports nothing. */
const ORPHAN = 'src/schedule/dead-code.ts';

function depcruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'err-long'], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** err-long's blocks: "error <rule>: <from> → <to>" (no arrow for an orphan) and the rule's comment, wrapped, below it. */
function violations(out: string): { rule: string; from: string; to: string; text: string }[] {
  return out
    .split(/\n(?=\s*error )/)
    .map((block) => {
      const m = /^\s*error ([\w-]+): (\S+)(?: →\s*(\S+))?/.exec(block);
      return m ? { rule: m[1]!, from: m[2]!, to: m[3] ?? '', text: block.replace(/\s+/g, ' ') } : undefined;
    })
    .filter((v) => v !== undefined);
}

describe('dependency-cruiser rules (.dependency-cruiser.cjs)', () => {
  let copy: string;
  let broken: { status: number | null; out: string };

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'canihaz-lint-'));
    cpSync(join(ROOT, 'src'), join(copy, 'src'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    cpSync(join(ROOT, 'tsconfig.json'), join(copy, 'tsconfig.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
    for (const b of BREAKS) {
      for (const [path, text] of Object.entries(b.files)) {
        mkdirSync(dirname(join(copy, path)), { recursive: true });
        writeFileSync(join(copy, path), text);
      }
    }
    writeFileSync(join(copy, ORPHAN), 'export const unused = 1;\n');
    broken = depcruise(copy);
  }, 60_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('every rule has a name and an explanation', () => {
    expect(RULES.length).toBeGreaterThan(0);
    for (const rule of RULES) expect(rule.comment.length, rule.name).toBeGreaterThan(40);
  });

  it('a copy of src/ with forbidden imports fails', () => {
    expect(broken.status, broken.out).not.toBe(0);
  });

  it('each rule is broken by this test at least once (no rule goes untested)', () => {
    const tested = new Set([...BREAKS.map((b) => b.rule), 'no-orphans']);
    expect(RULES.map((r) => r.name).filter((name) => !tested.has(name))).toEqual([]);
  });

  it.each(BREAKS.map((b) => [`${b.rule}: ${b.from} → ${b.to}`, b] as const))('%s is reported with the rule’s own explanation', (_, b) => {
    const rule = RULES.find((r) => r.name === b.rule);
    expect(rule, `rule ${b.rule} is in .dependency-cruiser.cjs`).toBeDefined();
    const found = violations(broken.out).find((v) => v.rule === b.rule && v.from === b.from && v.to.includes(b.to));
    expect(found, broken.out).toBeDefined();
    expect(found!.text).toContain(rule!.comment.replace(/\s+/g, ' '));
  });

  it('an orphan is reported as no-orphans', () => {
    expect(violations(broken.out).some((v) => v.rule === 'no-orphans' && v.from === ORPHAN)).toBe(true);
  });

  it('the real src/ passes', () => {
    const real = depcruise(ROOT);
    expect(real.status, real.out).toBe(0);
    expect(real.out).toContain('no dependency violations found');
  });
});

describe('ESLint rules (eslint.config.js) for time and exits', () => {
  const eslint = new ESLint({ cwd: ROOT });

  /** Lints `code` as if it were the file `path` of the repository, and returns its messages. */
  async function lint(path: string, code: string): Promise<{ ruleId: string | null; severity: number; message: string }[]> {
    const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
    return result!.messages;
  }

  // Existing files, so type-aware linting finds them in the project; the text linted is ours.
  it('a raw setTimeout in src/schedule/plan.ts is an error that names the Clock', async () => {
    const messages = await lint('src/schedule/plan.ts', 'export const wait = (ms: number): void => void setTimeout(() => {}, ms);\n');
    expect(messages).toContainEqual(expect.objectContaining({ ruleId: 'no-restricted-globals', severity: 2, message: expect.stringContaining('src/clock.ts is the only owner of time') }));
  }, 60_000);

  it('Date.now in src/events.ts is an error', async () => {
    const messages = await lint('src/events.ts', 'export const at = (): number => Date.now();\n');
    expect(messages).toContainEqual(expect.objectContaining({ ruleId: 'no-restricted-properties', severity: 2 }));
  }, 60_000);

  it('src/clock.ts may use timers', async () => {
    const messages = await lint('src/clock.ts', 'export const at = (): number => Date.now();\nexport const wait = (ms: number): void => void setTimeout(() => {}, ms);\n');
    expect(messages.filter((m) => m.ruleId?.startsWith('no-restricted'))).toEqual([]);
  }, 60_000);

  it('process.exit below the Face is an error, and in a command too', async () => {
    for (const path of ['src/metrics/console.ts', 'src/commands/check.ts']) {
      const messages = await lint(path, 'export function quit(): void {\n  process.exit(1);\n}\n');
      expect(messages, path).toContainEqual(expect.objectContaining({ ruleId: 'no-restricted-syntax', severity: 2, message: expect.stringContaining('ARCHITECTURE.md') }));
    }
  }, 60_000);
});
