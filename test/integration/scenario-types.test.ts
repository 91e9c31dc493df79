/**
 * The public declarations `canihaz/scenario`: resolved by package name (a temp project whose
 * node_modules/canihaz links to this repository), they type-check the shipped example and a
 * TypeScript module, refuse wrong uses, and the runtime's ctx satisfies them. Real `tsc` runs.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

let dir = '';

async function tsc(project: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [TSC, '-p', join(dir, project)], { cwd: dir, timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const COMPILER = { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', allowJs: true, checkJs: true };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'canihaz-scenario-types-'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(ROOT, join(dir, 'node_modules', 'canihaz'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'ops-modules', private: true, type: 'module' }));
  await copyFile(join(ROOT, 'conf/types/example-login.mjs'), join(dir, 'login.mjs'));
  await writeFile(
    join(dir, 'good.ts'),
    `import type { Params, Scenario, ScenarioContext, SetupContext } from 'canihaz/scenario';
export const params = { host: { required: true, doc: 'the host' }, user: { default: 'probe' } } satisfies Params;
export async function setup(ctx: SetupContext): Promise<{ token: string }> {
  const res = await ctx.http.request(\`https://\${ctx.params.host}/login\`, { method: 'POST', headers: { a: ['1', '2'] }, body: new Uint8Array(1) });
  return { token: (await res.json<{ token: string }>()).token + String(res.status) + String(res.headers['set-cookie']) };
}
export default async function (ctx: ScenarioContext<{ token: string }>): Promise<void> {
  const n: number = await ctx.step('profile', async () => (await (await ctx.http.request(new URL('https://x/'))).text()).length);
  ctx.count('chars', n);
  ctx.count('visits');
  ctx.timing('t', 1);
  ctx.gauge('g', 2);
  const ws = await ctx.ws.connect('wss://x/', { headers: { authorization: ctx.data.token } });
  ws.send('hi');
  const reply: string = await ws.receive({ contains: 'h', timeoutMs: 100 });
  await ws.close();
  if (ctx.signal.aborted || ctx.test === '' || reply === '') throw Object.assign(new Error('x'), { reason: 'x' });
}
export const returnsAValue = (async () => 42) satisfies import('canihaz/scenario').ScenarioFunction;
export const whole = { default: async () => undefined, params, setup, teardown: async (ctx) => void ctx.data.token } satisfies Scenario<{ token: string }>;
`,
  );
  await writeFile(
    join(dir, 'runtime.ts'),
    `import type { ScenarioContext, SetupContext, TeardownContext } from 'canihaz/scenario';
import { ExecutionContext, HookContext, type ScenarioRuntime } from ${JSON.stringify(join(ROOT, 'src/probes/scenario/context.js'))};
declare const runtime: ScenarioRuntime;
const signal = new AbortController().signal;
export const execution = new ExecutionContext(runtime, signal, { token: 'x' }) satisfies ScenarioContext<{ token: string }>;
export const setup = new HookContext(runtime, signal, undefined) satisfies SetupContext;
export const teardown = new HookContext(runtime, signal, { token: 'x' }) satisfies TeardownContext<{ token: string }>;
`,
  );
  await writeFile(
    join(dir, 'bad.ts'),
    `import type { ScenarioContext, Params } from 'canihaz/scenario';
export const params = { host: { required: 'yes' } } satisfies Params;
export default async function (ctx: ScenarioContext): Promise<void> {
  ctx.count(1);
  await ctx.http.request('https://x/', { methd: 'GET' });
  ctx.params.host.toFixed();
  ctx.data.token;
}
`,
  );
  const typeRoots = [join(ROOT, 'node_modules/@types')];
  await writeFile(
    join(dir, 'tsconfig.good.json'),
    JSON.stringify({ compilerOptions: { ...COMPILER, skipLibCheck: true, types: ['node'], typeRoots }, files: ['login.mjs', 'good.ts', 'runtime.ts'] }),
  );
  // As an operator's editor without @types/node sees it (lib DOM gives AbortSignal), the declarations themselves checked too.
  await writeFile(join(dir, 'tsconfig.bad.json'), JSON.stringify({ compilerOptions: { ...COMPILER, skipLibCheck: false, lib: ['es2023', 'dom'], types: [] }, files: ['bad.ts'] }));
}, 30_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('canihaz/scenario declarations', () => {
  it('type-check the shipped example, a TypeScript module, and the runtime ctx (satisfies)', async () => {
    const result = await tsc('tsconfig.good.json');
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 60_000);

  it('refuse wrong uses, each at its line, and nothing in the declarations themselves', async () => {
    const result = await tsc('tsconfig.bad.json');
    expect(result.code).not.toBe(0);
    const lines = result.out.split('\n').filter((l) => /error TS/.test(l));
    expect(lines.every((l) => l.startsWith('bad.ts('))).toBe(true);
    expect(lines.map((l) => /^bad\.ts\((\d+),/.exec(l)?.[1])).toEqual(['2', '4', '5', '6', '7']);
  }, 60_000);
});
