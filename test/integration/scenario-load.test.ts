// Loading operators' scenario modules, seen through the real CLI (issue 9, section 2): `check` imports
// the modules a config names and reports a broken or refused one as a problem of each line naming it
// (exit 1), as Puppet's validate_cmd needs; `run` runs every other line and logs the broken ones. Real
// files in a private types_dir, real child processes, a real HTTP target on 127.0.0.1. The modules'
// default exports are trivial: what an execution does is the runtime's (scenario-runtime tests).
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMPORT_DEADLINE_MS } from '../../src/probes/scenario/load-module.js';
import { agentHome, cleanups, runCli, startTarget, type AgentHome } from '../support/cli.js';

const CHECK_KILL_MS = 20_000;
const IMPORT_DEADLINE_SECONDS = DEFAULT_IMPORT_DEADLINE_MS / 1_000;
const later = cleanups();

/** An agent home with a root-or-us-owned 0755 types_dir; `args` point the CLI at both. */
async function scenarioHome(): Promise<AgentHome & { types: string; args: string[] }> {
  const home = await agentHome();
  const types = join(home.dir, 'types');
  await mkdir(types);
  await chmod(types, 0o755);
  return { ...home, types, args: [...home.args, '--types-dir', types] };
}

/** Writes `<types>/<name>.mjs` with an explicit mode (a umask must not decide what strict_modes sees). */
async function module(types: string, name: string, text: string, mode = 0o644): Promise<string> {
  const file = join(types, `${name}.mjs`);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

const GOOD = 'export default async function (ctx) {}\n';
/** A module that leaves a mark when imported: it must never be. */
const marking = (marker: string) => `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\nexport default async function () {}\n`;
/** A module with a syntax error on line 2, and a secret on line 1 that no message may carry. */
const SYNTAX_ERROR = 'const token = "s3cr3t-t0ken";\nexport default async function (ctx) { ) }\n';

const check = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['check', ...args], { killAfterMs: CHECK_KILL_MS, env });
const lines = (text: string) => text.trim().split('\n').filter((l) => l !== '');
/** The run's JSON log records. */
const records = (stderr: string) => lines(stderr).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('canihaz check imports scenario modules and reports a broken one as its lines\' problem', () => {
  it('a syntax error: exit 1, FILE:LINE, the module and the reason (never its source text); the good http line is OK', async () => {
    const home = await scenarioHome();
    const bad = await module(home.types, 'broken', SYNTAX_ERROR);
    await home.writeConfig(`good|http|60|none|url=http://127.0.0.1:1/\nbad|broken|60|none\n`);
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([`${home.config}:2: type: module ${bad}: failed to import: SyntaxError: Unexpected token ')'; node --check on the file shows where`]);
    expect(r.stdout.trim()).toBe('1 problem; 1 valid test');
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain('s3cr3t');
  });

  it('a throw at import: the first line of its message and the line it was thrown at', async () => {
    const home = await scenarioHome();
    const bad = await module(home.types, 'throws', 'export default async function () {}\nthrow new Error("TYPES_TOKEN is not set\\nsecond line");\n');
    await home.writeConfig('t|throws|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([`${home.config}:1: type: module ${bad}: failed to import: Error: TYPES_TOKEN is not set (line 2)`]);
    expect(r.code).toBe(1);
  });

  it('no default export: the runtime\'s reason', async () => {
    const home = await scenarioHome();
    const bad = await module(home.types, 'nodefault', 'export const params = {};\n');
    await home.writeConfig('n|nodefault|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^${home.config}:1: type: module ${bad}: has no default export function`))]);
    expect(r.code).toBe(1);
  });

  it('a module missing from types_dir: the unknown-type message, naming the path it looked for (CANIHAZ_TYPES_DIR works too)', async () => {
    const home = await scenarioHome();
    await home.writeConfig('m|nope|60|none\n');
    const args = home.args.slice(0, -2); // without --types-dir: from the environment
    const r = await check(args, { CANIHAZ_TYPES_DIR: home.types });
    expect(lines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^${home.config}:1: type: unknown test type "nope"; known types: (.*, )?http(, .*)? \\(no module ${home.types}/nope\\.mjs\\)$`))]);
    expect(r.code).toBe(1);
  });

  it('a word that cannot name a module (../x, X) is never imported: the plain unknown-type message', async () => {
    const home = await scenarioHome();
    const marker = join(home.dir, 'imported');
    await module(home.dir, 'x', marking(marker)); // <types>/../x.mjs
    await module(home.types, 'X', marking(marker));
    await home.writeConfig('a|../x|60|none\nb|X|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^${home.config}:1: type: unknown test type "\\.\\./x"; known types: [a-z0-9_, -]+$`)),
      expect.stringMatching(new RegExp(`^${home.config}:2: type: unknown test type "X"; known types: [a-z0-9_, -]+$`)),
    ]);
    expect(r.code).toBe(1);
    expect(existsSync(marker)).toBe(false);
  });

  it('types_dir/http.mjs does not override the built-in http (it is not even imported)', async () => {
    const home = await scenarioHome();
    const marker = join(home.dir, 'imported');
    await module(home.types, 'http', marking(marker));
    await home.writeConfig('h|http|60|none|url=http://127.0.0.1:1/\n');
    const r = await check(home.args);
    expect([r.code, r.stderr, r.stdout.trim()]).toEqual([0, '', 'ok: 1 test in 1 file']);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('the guard (strict_modes, like sshd StrictModes): a module others could change is refused, never imported', () => {
  it('a group-writable module is refused, naming the file and the fix; strict_modes = off loads it', async () => {
    const home = await scenarioHome();
    const marker = join(home.dir, 'imported');
    const file = await module(home.types, 'grp', marking(marker), 0o664);
    await home.writeConfig('g|grp|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([
      `${home.config}:1: type: module ${file}: is writable by group (mode 0664); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    ]);
    expect(r.code).toBe(1);
    expect(existsSync(marker)).toBe(false);
    await writeFile(home.settings, 'strict_modes = off\n', { mode: 0o644 });
    const relaxed = await check(home.args);
    expect([relaxed.code, relaxed.stderr, relaxed.stdout.trim()]).toEqual([0, '', 'ok: 1 test in 1 file']);
    expect(existsSync(marker)).toBe(true);
  });

  it('a world-writable types_dir refuses its modules', async () => {
    const home = await scenarioHome();
    const file = await module(home.types, 'a', GOOD);
    await chmod(home.types, 0o777);
    await home.writeConfig('a|a|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([
      `${home.config}:1: type: module ${file}: its directory ${home.types} is writable by group and others (mode 0777); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`,
    ]);
    expect(r.code).toBe(1);
  });

  it.skipIf(process.geteuid?.() !== 0 && process.env.CANIHAZ_E2E !== '1')('a module owned by another user (nobody) is refused (needs root: skipped otherwise)', async () => {
    const home = await scenarioHome();
    const file = await module(home.types, 'theirs', GOOD);
    await chown(file, 65534, 65534);
    await home.writeConfig('t|theirs|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([`${home.config}:1: type: module ${file}: is owned by uid 65534, not by root or by the user running canihaz (uid 0); refused (strict_modes)`]);
    expect(r.code).toBe(1);
  });
});

describe('canihaz run: a broken module costs only its own lines', () => {
  it('run --lifetime 3 runs the good http line (30 of 30 at 600/min) and logs the broken module\'s line', async () => {
    const target = await startTarget();
    later(() => target.close());
    const home = await scenarioHome();
    const bad = await module(home.types, 'broken', SYNTAX_ERROR);
    await home.writeConfig(`good|http|600|none|url=${target.url}/\nbad|broken|600|none\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '3', '--log-format', 'json']);
    expect(r.code).toBe(0);
    const logged = records(r.stderr);
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: `config line skipped: ${home.config}:2: type: module ${bad}: failed to import: SyntaxError: Unexpected token ')'; node --check on the file shows where` }),
    );
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'summary', test: 'good', requested: 30, ok: 30 }));
    expect(logged.filter((l) => l.msg === 'summary').map((l) => l.test)).toEqual(['good']);
    expect(target.count('/')).toBe(30);
    expect(r.stderr).not.toContain('s3cr3t');
  });
});

describe(`a module whose top-level await never settles: an error after ${IMPORT_DEADLINE_SECONDS} s, and nothing hangs`, () => {
  const HANGS = 'await new Promise(() => {});\nexport default async function () {}\n';

  it('check reports it after the deadline and exits 1', async () => {
    const home = await scenarioHome();
    const file = await module(home.types, 'hangs', HANGS);
    await home.writeConfig('h|hangs|60|none\n');
    const r = await check(home.args);
    expect(lines(r.stderr)).toEqual([`${home.config}:1: type: module ${file}: did not finish importing within ${IMPORT_DEADLINE_SECONDS}s`]);
    expect(r.code).toBe(1);
    expect(r.durationMs).toBeGreaterThanOrEqual(IMPORT_DEADLINE_SECONDS * 1_000);
    expect(r.durationMs).toBeLessThan(IMPORT_DEADLINE_SECONDS * 1_000 + 4_000);
  });

  it('run --lifetime 3 runs the good line and ends on time: the deadline, then its window', async () => {
    const target = await startTarget();
    later(() => target.close());
    const home = await scenarioHome();
    const file = await module(home.types, 'hangs', HANGS);
    await home.writeConfig(`good|http|600|none|url=${target.url}/\nh|hangs|600|none\n`);
    const r = await runCli(['run', ...home.args, '--lifetime', '3', '--log-format', 'json'], { killAfterMs: 30_000 });
    expect(r.code).toBe(0);
    const logged = records(r.stderr);
    expect(logged).toContainEqual(expect.objectContaining({ msg: `config line skipped: ${home.config}:2: type: module ${file}: did not finish importing within ${IMPORT_DEADLINE_SECONDS}s` }));
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'summary', test: 'good', requested: 30, ok: 30 }));
    // Set-up waits out the import deadline once; the --lifetime window starts after set-up.
    expect(r.durationMs).toBeLessThan((IMPORT_DEADLINE_SECONDS + 3) * 1_000 + 4_000);
  }, 40_000);
});
