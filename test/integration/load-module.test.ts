// Loading scenario modules (src/probes/scenario/load-module.ts, the registry's load() and loadTests):
// real files in a temp types_dir, real imports. The runtime that turns exports into a probe type is
// another file's (scenario-type.ts); here a stand-in `build` keeps these tests about loading only.
// The CLI's view of the same (check, run) is in scenario-load.test.ts.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { loadTests } from '../../src/config/load-tests.js';
import { formatLineError } from '../../src/config/tests-file.js';
import { httpProbeType } from '../../src/probes/http.js';
import { createProbeRegistry } from '../../src/probes/registry.js';
import { loadScenarioModule, type BuildScenarioType, type ScenarioModuleOptions } from '../../src/probes/scenario/load-module.js';
import { fakeProbeType } from '../support/fake-probe.js';

/** Stand-in for the runtime's scenarioProbeType: a module with a default function is a (fake) type. */
const build: BuildScenarioType = (name, _file, namespace) =>
  (typeof namespace.default === 'function'
    ? { ok: true, type: { ...fakeProbeType(), name } }
    : { ok: false, reason: 'has no default export function' }) as ReturnType<BuildScenarioType>;

/** A root-or-us-owned 0755 types_dir in a fresh temp dir. */
async function typesDir(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'canihaz-types-')), 'types');
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  return dir;
}

/** Writes `<dir>/<name>.mjs` with `mode` (explicitly: a umask must not decide what strict_modes sees). */
async function module(dir: string, name: string, text: string, mode = 0o644): Promise<string> {
  const file = join(dir, `${name}.mjs`);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

const GOOD = 'export default async function (ctx) {}\n';
const options = (dir: string, more: Partial<ScenarioModuleOptions> = {}): ScenarioModuleOptions => ({ typesDir: dir, strictModes: true, clock: systemClock, build, ...more });

describe('loadScenarioModule: finding the file', () => {
  it('imports <types_dir>/<word>.mjs and builds its type', async () => {
    const dir = await typesDir();
    const file = await module(dir, 'login', GOOD);
    expect(await loadScenarioModule('login', options(dir))).toMatchObject({ status: 'ok', file, type: { name: 'login' } });
  });

  it('a word that may not name a module is never made a path: not even looked for', async () => {
    const dir = await typesDir();
    // Files these words would reach if they were joined to types_dir.
    await module(join(dir, '..'), 'x', 'throw new Error("imported ../x.mjs")');
    await module(dir, 'X', GOOD);
    for (const word of ['../x', 'X', '', 'a/b', '.x', '1x', 'x.mjs', 'x\0', 'x'.repeat(65)]) expect(await loadScenarioModule(word, options(dir))).toBeUndefined();
  });

  it('no such file, or no types_dir at all: missing (an unknown type, not an error of its own)', async () => {
    const dir = await typesDir();
    expect(await loadScenarioModule('nope', options(dir))).toEqual({ status: 'missing', file: join(dir, 'nope.mjs') });
    expect(await loadScenarioModule('nope', options(join(dir, 'absent')))).toEqual({ status: 'missing', file: join(dir, 'absent', 'nope.mjs') });
  });

  it('a directory, a FIFO or a dangling symlink is refused (never opened: a FIFO would block the import)', async () => {
    const dir = await typesDir();
    await mkdir(join(dir, 'adir.mjs'));
    execFileSync('mkfifo', ['-m', '0644', join(dir, 'fifo.mjs')]);
    await symlink(join(dir, 'gone.mjs'), join(dir, 'dangling.mjs'));
    const started = performance.now();
    expect(await loadScenarioModule('adir', options(dir))).toMatchObject({ status: 'failed', reason: 'is a directory; refused' });
    expect(await loadScenarioModule('fifo', options(dir, { strictModes: false }))).toMatchObject({ status: 'failed', reason: 'is not a regular file; refused' });
    expect(await loadScenarioModule('dangling', options(dir))).toMatchObject({ status: 'failed', reason: 'is a symbolic link to nothing' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('loadScenarioModule: the guard (strict_modes, like sshd StrictModes)', () => {
  it('refuses a module writable by group or others, and loads it with strictModes off', async () => {
    const dir = await typesDir();
    await module(dir, 'grp', GOOD, 0o664);
    await module(dir, 'oth', GOOD, 0o646);
    expect(await loadScenarioModule('grp', options(dir))).toMatchObject({
      status: 'failed',
      reason: 'is writable by group (mode 0664); refused (strict_modes): run chmod go-w on it, or set strict_modes = off',
    });
    expect(await loadScenarioModule('oth', options(dir))).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^is writable by others \(mode 0646\)/) });
    expect(await loadScenarioModule('grp', options(dir, { strictModes: false }))).toMatchObject({ status: 'ok' });
  });

  it('refuses every module of a types_dir writable by others (a sticky one is fine)', async () => {
    const dir = await typesDir();
    await module(dir, 'a', GOOD);
    await chmod(dir, 0o757);
    expect(await loadScenarioModule('a', options(dir))).toMatchObject({
      status: 'failed',
      reason: `its directory ${dir} is writable by others (mode 0757); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    });
    await chmod(dir, 0o1777);
    expect(await loadScenarioModule('a', options(dir))).toMatchObject({ status: 'ok' });
  });

  it('follows a symlink, then guards its target and the directory the target lives in', async () => {
    const dir = await typesDir();
    const elsewhere = await mkdtemp(join(tmpdir(), 'canihaz-elsewhere-'));
    await chmod(elsewhere, 0o755);
    const target = await module(elsewhere, 'real', GOOD, 0o664);
    await symlink(target, join(dir, 'linked.mjs'));
    expect(await loadScenarioModule('linked', options(dir))).toMatchObject({ status: 'failed', reason: expect.stringMatching(new RegExp(`^${target} \\(its target\\) is writable by group`)) });
    await chmod(target, 0o644);
    await chmod(elsewhere, 0o777);
    expect(await loadScenarioModule('linked', options(dir))).toMatchObject({ status: 'failed', reason: expect.stringMatching(new RegExp(`^its directory ${elsewhere} is writable by group and others`)) });
    await chmod(elsewhere, 0o755);
    expect(await loadScenarioModule('linked', options(dir))).toMatchObject({ status: 'ok', file: join(dir, 'linked.mjs') });
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses a module owned by another user (run as root)', async () => {
    const dir = await typesDir();
    const file = await module(dir, 'theirs', GOOD);
    await chown(file, 65534, 65534);
    expect(await loadScenarioModule('theirs', options(dir))).toMatchObject({
      status: 'failed',
      reason: 'is owned by uid 65534, not by root or by the user running canihaz (uid 0); refused (strict_modes)',
    });
  });
});

describe('loadScenarioModule: the import', () => {
  // A syntax error, and the line number of an error, are Node's own: vitest runs import() through its
  // module runner, which reports them its own way. scenario-load.test.ts checks them through the CLI.
  it('a throw at import: the first line of its message; a thrown non-Error: only its kind', async () => {
    const dir = await typesDir();
    await module(dir, 'throws', 'export default async function () {}\nthrow new Error("no config for this module\\nsecond line");\n');
    expect(await loadScenarioModule('throws', options(dir))).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^failed to import: Error: no config for this module( \(line 2\))?$/) });
    await module(dir, 'throwsstring', 'throw "a secret string";\n');
    expect(await loadScenarioModule('throwsstring', options(dir))).toMatchObject({ status: 'failed', reason: 'failed to import: threw a string, not an Error' });
  });

  it('exports the runtime refuses: its reason', async () => {
    const dir = await typesDir();
    await module(dir, 'nodefault', 'export const x = 1;\n');
    expect(await loadScenarioModule('nodefault', options(dir))).toMatchObject({ status: 'failed', reason: 'has no default export function' });
  });

  it('a top-level await that never settles: failed at the deadline, not hung', async () => {
    const dir = await typesDir();
    await module(dir, 'hangs', 'await new Promise(() => {});\nexport default async function () {}\n');
    const started = performance.now();
    expect(await loadScenarioModule('hangs', options(dir, { importDeadlineMs: 300 }))).toMatchObject({ status: 'failed', reason: 'did not finish importing within 0.3s' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('the registry: scenario modules beside the built-ins', () => {
  it('imports each module once; a missing one is looked for again; a built-in is never looked for', async () => {
    const dir = await typesDir();
    const key = `canihazImports${Math.random().toString(36).slice(2)}`;
    await module(dir, 'counted', `globalThis.${key} = (globalThis.${key} ?? 0) + 1;\nexport default async function () {}\n`);
    await module(dir, 'http', `globalThis.${key}Http = true;\nexport default async function () {}\n`);
    const registry = createProbeRegistry([httpProbeType], options(dir));
    await registry.load!(['counted', 'counted', 'http', 'later', '../x']);
    await registry.load!(['counted']);
    expect((globalThis as Record<string, unknown>)[key]).toBe(1);
    expect(registry.get('http')).toBe(httpProbeType);
    expect((globalThis as Record<string, unknown>)[`${key}Http`]).toBeUndefined();
    expect(registry.whyUnknown!('http')).toBeUndefined();
    expect(registry.get('counted')?.name).toBe('counted');
    expect(registry.names()).toEqual(['counted', 'http']);
    expect(registry.whyUnknown!('later')).toEqual({ module: join(dir, 'later.mjs') });
    expect(registry.whyUnknown!('../x')).toBeUndefined();
    await module(dir, 'later', GOOD);
    await registry.load!(['later']);
    expect(registry.get('later')?.name).toBe('later');
  });

  it('without a types_dir it knows its types only, as before', () => {
    const registry = createProbeRegistry([httpProbeType]);
    expect([registry.load, registry.whyUnknown, registry.names()]).toEqual([undefined, undefined, ['http']]);
  });
});

describe('loadTests: modules are imported before parsing; a broken one invalidates only its lines', () => {
  it('FILE:LINE: type: module …: reason for its lines, the unknown-type message naming the path for a missing one, other lines kept', async () => {
    const dir = await typesDir();
    const conf = await mkdtemp(join(tmpdir(), 'canihaz-conf-'));
    await chmod(conf, 0o755);
    await module(dir, 'good', GOOD);
    await module(dir, 'broken', 'throw new Error("broken at import");\n');
    // Type words from every file of a config directory are loaded before any is parsed.
    await writeFile(join(conf, 'a.conf'), 'a|fake|1|none\nb|broken|1|none\n', { mode: 0o644 });
    await writeFile(join(conf, 'b.conf'), 'c|good|1|none\nd|nomodule|1|none\ne|Bad|1|none\nf|broken|2|none\n', { mode: 0o644 });
    const loaded = await loadTests(conf, { probeTypes: createProbeRegistry([fakeProbeType(), httpProbeType], options(dir)) });
    expect(loaded.specs.map((s) => `${s.name}:${s.type}`)).toEqual(['a:fake', 'c:good']);
    const broken = (at: string): unknown => expect.stringMatching(new RegExp(`^${at}: type: module ${dir}/broken.mjs: failed to import: Error: broken at import`));
    expect(loaded.errors.map(formatLineError)).toEqual([
      broken(`${conf}/a.conf:2`),
      `${conf}/b.conf:2: type: unknown test type "nomodule"; known types: fake, good, http (no module ${dir}/nomodule.mjs)`,
      `${conf}/b.conf:3: type: unknown test type "Bad"; known types: fake, good, http`,
      broken(`${conf}/b.conf:4`),
    ]);
  });
});
