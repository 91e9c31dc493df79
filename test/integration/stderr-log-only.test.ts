import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startGraphite, startUdpStatsd } from '../support/listeners.js';
import { agentHome, CLI, cleanups, startTarget, waitFor } from '../support/cli.js';

// stderr is the log: under cron it goes through `logger` to syslog line by line, so every line
// must be one of ours, in the log format. Node's own warnings (a dependency's deprecation, an
// experimental feature, a listener leak) must never appear as raw text there.
//
// CANIHAZ_TEST_NODE=/path/to/node runs the CLI with another Node binary (e.g. the newest release,
// whose new deprecations are the likeliest source of a stray warning); default: the one running vitest.

const NODE = process.env.CANIHAZ_TEST_NODE || process.execPath;
const cleanup = cleanups();

/** A logfmt line as log.ts writes it: ts, level, msg first. */
const LOGFMT_LINE = /^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|notice|warn|error) msg=(\S+|"([^"\\]|\\.)*")( |$)/;

/** Runs `node dist/cli.js ...args` with NODE, to completion (SIGKILL after killAfterMs). */
function runWithNode(args: string[], env: NodeJS.ProcessEnv = {}, killAfterMs = 30_000) {
  const child = spawn(NODE, [CLI, ...args], {
    env: { ...process.env, CANIHAZ_SETTINGS: undefined, CANIHAZ_CONFIG: undefined, NODE_OPTIONS: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return {
    get stderr() {
      return stderr;
    },
    done: new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, stdout, stderr });
      }),
    ),
  };
}

/** The stderr lines that are not log lines. */
function strayLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !LOGFMT_LINE.test(l));
}

/** A target that answers after `delayMs`, counting the most requests it held at once. */
async function slowTarget(delayMs: number): Promise<{ url: string; maxInFlight(): number }> {
  let inFlight = 0;
  let max = 0;
  const target = await startTarget((_req, res) => {
    max = Math.max(max, ++inFlight);
    setTimeout(() => {
      inFlight--;
      res.end('ok');
    }, delayMs);
  });
  cleanup(() => target.close());
  return { url: target.url, maxInFlight: () => max };
}

describe(`stderr holds log lines only (node ${NODE === process.execPath ? process.version : NODE})`, () => {
  it('a run with dozens of executions in flight to a slow target, StatsD and Graphite, and a config change', async () => {
    const target = await slowTarget(1_500);
    const statsd = await startUdpStatsd();
    const graphite = await startGraphite();
    cleanup(statsd.close, graphite.close);
    const home = await agentHome();
    const dest = `statsd://127.0.0.1:${statsd.port},graphite://127.0.0.1:${graphite.port}`;
    // 1,200/min = 20 a second, each held 1.5 s: about 30 in flight, more than Node's default of 10 listeners.
    await home.writeConfig(`slow|http|1200|${dest}|url=${target.url}/slow|timeout=5s\n`);
    const run = runWithNode(['run', ...home.args, '--lifetime', '3', '--log-level', 'debug']);
    expect(await waitFor(() => target.maxInFlight() > 10, 10_000), run.stderr).toBe(true);
    // A live change, written by rename as Puppet does: a second test joins mid-run.
    const tmp = join(home.dir, 'tests.conf.new');
    await writeFile(tmp, `slow|http|1200|${dest}|url=${target.url}/slow|timeout=5s\nmore|http|600|${dest}|url=${target.url}/more|timeout=5s\n`);
    await chmod(tmp, 0o644);
    await rename(tmp, home.config);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(target.maxInFlight()).toBeGreaterThan(10);
    expect(r.stderr).toContain('msg="test added" test=more');
    expect(r.stderr).toMatch(/msg=summary test=slow .*ok=[1-9]/);
    expect(strayLines(r.stderr)).toEqual([]);
  });

  it("Node's warnings become log lines: a leak at warn, a dependency's deprecation only at debug", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-warn-'));
    const preload = join(dir, 'warn.mjs');
    // Emitted once the CLI is running (its handler is installed while its first module loads).
    await writeFile(
      preload,
      `setTimeout(() => {
        process.emitWarning('11 abort listeners added', 'MaxListenersExceededWarning');
        process.emitWarning('old api', { type: 'DeprecationWarning', code: 'DEP0999' });
        process.emitWarning('new api', 'ExperimentalWarning');
      }, 300).unref();\n`,
    );
    const home = await agentHome();
    const env = { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` };
    const quiet = await runWithNode(['run', ...home.args, '--lifetime', '1'], env).done;
    expect(quiet.code).toBe(0);
    expect(strayLines(quiet.stderr)).toEqual([]);
    expect(quiet.stderr).toMatch(/level=warn msg="node warning" name=MaxListenersExceededWarning warning="11 abort listeners added"/);
    expect(quiet.stderr).not.toMatch(/DEP0999|ExperimentalWarning/);

    const debug = await runWithNode(['run', ...home.args, '--lifetime', '1', '--log-level', 'debug'], env).done;
    expect(strayLines(debug.stderr)).toEqual([]);
    expect(debug.stderr).toMatch(/level=debug msg="node warning" name=DeprecationWarning code=DEP0999 warning="old api"/);
    expect(debug.stderr).toMatch(/level=debug msg="node warning" name=ExperimentalWarning warning="new api"/);
  });

  it('JSON log format: every stderr line is a JSON object with ts, level and msg', async () => {
    const target = await slowTarget(200);
    const home = await agentHome();
    await home.writeConfig(`a|http|600|none|url=${target.url}/a\n`);
    const r = await runWithNode(['run', ...home.args, '--lifetime', '1', '--log-level', 'debug', '--log-format', 'json']).done;
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(Object.keys(JSON.parse(line) as object).slice(0, 3), line).toEqual(['ts', 'level', 'msg']);
  });
});
