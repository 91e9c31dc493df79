/**
 * Output through pipes (issue 6): cron runs `canihaz run 2>&1 | logger`, Puppet captures `check`
 * through a pipe. Pipes are asynchronous when the reader is slower than the writer, so a copy that
 * exits without draining stdout and stderr loses lines; a reader that exits turns the next write into
 * EPIPE, which must mean "nobody is listening", not a crash. Real child processes, real pipes.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { agentHome, CLI, cleanups, runCli, startTarget, type CliResult, type TargetServer } from '../support/cli.js';
import { expectBooksBalance, expectEndedWithin, summaries } from '../support/faults.js';
import { startUdpStatsd, type StatsdListener } from '../support/listeners.js';

const cleanup = cleanups();
async function target(): Promise<TargetServer> {
  const t = await startTarget();
  cleanup(t.close);
  return t;
}
async function statsd(): Promise<StatsdListener> {
  const l = await startUdpStatsd();
  cleanup(l.close);
  return l;
}

/** Quotes a word for bash. */
const sh = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
/** `node dist/cli.js …args`, quoted for bash. */
const cliCommand = (args: string[]) => [process.execPath, CLI, ...args].map(sh).join(' ');

/** Runs a bash script (a pipeline around the CLI); killed after `killAfterMs` so no test hangs. */
function runShell(script: string, killAfterMs: number): Promise<CliResult> {
  const startedAt = performance.now();
  const child = spawn('bash', ['-c', script], {
    env: { ...process.env, CANIHAZ_SETTINGS: undefined, CANIHAZ_CONFIG: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // The whole process group: bash, the CLI and the reader.
  const killer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), killAfterMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - startedAt });
    });
  });
}

/** A tests file of `count` lines that each fail validation (a URL that is not one). */
async function badConfig(count: number): Promise<{ args: string[] }> {
  const home = await agentHome();
  const lines = Array.from({ length: count }, (_, i) => `bad${i}|http|60|none|url=not-a-url-${i}`);
  await home.writeConfig(lines.join('\n') + '\n');
  return { args: ['check', '--config', home.config, '--settings', home.settings] };
}

const problemLines = (text: string) => text.split('\n').filter((l) => /:\d+: url: /.test(l));

describe('output through pipes is lost, and a closed pipe crashes the run', () => {
  it('check on 3,000 bad lines delivers every line through a Node pipe', async () => {
    const { args } = await badConfig(3_000);
    const r = await runCli(args, { killAfterMs: 30_000 });
    expect(r.code).toBe(1);
    expect(problemLines(r.stderr)).toHaveLength(3_000);
    expect(r.stdout).toBe('3000 problems; 0 valid tests\n');
  });

  it('check on 3,000 bad lines delivers every line through a slow reader (sleep, then cat)', async () => {
    const { args } = await badConfig(3_000);
    // The reader reads nothing for a second: far more than the 64 KB a pipe holds is queued meanwhile.
    const r = await runShell(`${cliCommand(args)} 2>&1 | (sleep 1; cat)`, 30_000);
    expect(r.signal).toBeNull();
    expect(problemLines(r.stdout)).toHaveLength(3_000);
    expect(r.stdout).toContain('3000 problems; 0 valid tests\n');
  });

  it('run 2>&1 | (sleep 2.5; cat) still delivers every summary line', async () => {
    const server = await target();
    const home = await agentHome();
    // 400 tests: their summary lines alone are more than a pipe's 64 KB.
    const names = Array.from({ length: 400 }, (_, i) => `pipe_test_number_${i}`);
    await home.writeConfig(names.map((n) => `${n}|http|60|none|url=${server.url}/${n}`).join('\n') + '\n');
    const lifetime = 1;
    const r = await runShell(`${cliCommand(['run', ...home.args, '--lifetime', String(lifetime)])} 2>&1 | (sleep 2.5; cat)`, 60_000);
    expect(r.signal).toBeNull();
    const books = summaries(r.stdout);
    expect(books.map((b) => b.test)).toEqual(names);
    for (const b of books) expectBooksBalance(b);
  });

  it('a reader that exits early: the run neither crashes nor hangs, exits 0 on time, and its metrics still flush', async () => {
    const server = await target();
    const sd = await statsd();
    const home = await agentHome();
    // console writes to stdout, the log to stderr: both hit the closed pipe.
    await home.writeConfig(`early|http|600|statsd://127.0.0.1:${sd.port},console|url=${server.url}/early|timeout=1s\n`);
    const lifetime = 2;
    const timeoutMs = 1_000;
    const flushMs = 2_000;
    // head exits after the first line; every later line (debug logging writes plenty) meets EPIPE.
    const r = await runShell(
      `${cliCommand(['run', ...home.args, '--lifetime', String(lifetime), '--log-level', 'debug'])} 2>&1 | head -n 1; exit "\${PIPESTATUS[0]}"`,
      60_000,
    );
    expect(r.stderr, 'nothing of the CLI reaches the outer stderr').toBe('');
    expect(r.code, 'exit 0, not a crash').toBe(0);
    // Window + longest timeout + flush deadline, plus 3 s for start-up (module load, set-up) on a busy machine.
    expectEndedWithin(r, lifetime * 1_000 + timeoutMs + flushMs + 3_000, 'run with its reader gone');
    // The load went on after the pipe closed, and its metrics reached StatsD.
    expect(server.count('/early')).toBe(20);
    await sd.waitFor(() => sd.sum('canihaz.early.ok') === 20);
  });
});

describe('a closed pipe is not a crash', () => {
  it('check | head -n 1 exits with check’s own code and no error', async () => {
    const { args } = await badConfig(3_000);
    const r = await runShell(`${cliCommand(args)} 2>&1 | head -n 1 >/dev/null; exit "\${PIPESTATUS[0]}"`, 30_000);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
  });
});
