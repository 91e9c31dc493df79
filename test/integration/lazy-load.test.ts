import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentHome, CLI, startTarget } from '../support/cli.js';

// What a copy loads is what it pays for before its first request, every minute. In the bundle each
// dependency module is a function named after its file ("node_modules/zod/v4/core/core.js"), run the
// first time the module is needed; V8's function log (--log-function-events) records when each
// function is first compiled and run, so the log says which dependencies a command ran.

/** The dependency packages (zod, undici, chokidar, …) whose module code ran in `node dist/cli.js ...args`. */
async function packagesRun(args: string[]): Promise<{ code: number | null; packages: string[] }> {
  const log = join(await mkdtemp(join(tmpdir(), 'canihaz-lazy-')), 'v8.log');
  const child = spawn(process.execPath, ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', CLI, ...args], {
    // No compile cache: the flags above would make V8 refuse it anyway, and this must not write one.
    env: { ...process.env, CANIHAZ_SETTINGS: undefined, CANIHAZ_CONFIG: undefined, CANIHAZ_NO_COMPILE_CACHE: '1' },
    stdio: 'ignore',
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const packages = new Set<string>();
  // A function is compiled to bytecode (`interpreter`) when first called, and Node 20's V8 also logs
  // `first-execution`; Node 26's logs the first but not always the second.
  for (const m of (await readFile(log, 'utf8')).matchAll(/^function,(?:first-execution|interpreter)[^,]*,.*,node_modules\/((?:@[^/]+\/)?[^/,]+)\//gm)) packages.add(m[1]!);
  return { code, packages: [...packages].sort() };
}

describe('what each command loads (the bundled CLI)', () => {
  it('--help and --version run no dependency', async () => {
    expect(await packagesRun(['--help'])).toEqual({ code: 0, packages: [] });
    expect(await packagesRun(['--version'])).toEqual({ code: 0, packages: [] });
    expect(await packagesRun(['run', '--help'])).toEqual({ code: 0, packages: [] });
  });

  it('a run that finds the stop file loads neither zod nor undici (nor the lock or watch libraries)', async () => {
    const home = await agentHome();
    await home.writeConfig('t|http|60|none|url=http://127.0.0.1:9/\n');
    await writeFile(home.stopFile, '');
    expect(await packagesRun(['run', ...home.args, '--lifetime', '1'])).toEqual({ code: 0, packages: [] });
  });

  it('a run with no tests file loads neither zod nor undici', async () => {
    const home = await agentHome();
    const { code, packages } = await packagesRun(['run', ...home.args, '--lifetime', '1']);
    expect(code).toBe(0);
    expect(packages.filter((p) => p === 'zod' || p === 'undici')).toEqual([]);
  });

  it('a run with a dns or an http: test parses with zod but loads no undici (our own HTTP/1.1 client); an https: test loads both', async () => {
    const target = await startTarget();
    try {
      const home = await agentHome();
      await home.writeConfig('d|dns|60|none|name=localhost|server=127.0.0.1:9\n');
      const dns = await packagesRun(['run', ...home.args, '--lifetime', '1']);
      expect(dns.code).toBe(0);
      expect(dns.packages).toContain('zod');
      expect(dns.packages).not.toContain('undici');
      await home.writeConfig(`h|http|60|none|url=${target.url}/\n`);
      const http = await packagesRun(['run', ...home.args, '--lifetime', '1']);
      expect(http.code).toBe(0);
      expect(http.packages).toContain('zod');
      expect(http.packages).not.toContain('undici');
      // https: stays on undici (its handshake to this plain port fails; loading is what is checked).
      await home.writeConfig(`s|http|60|none|url=${target.url.replace('http:', 'https:')}/\n`);
      const https = await packagesRun(['run', ...home.args, '--lifetime', '1']);
      expect(https.code).toBe(0);
      expect(https.packages).toEqual(expect.arrayContaining(['zod', 'undici']));
    } finally {
      await target.close();
    }
  });
});
