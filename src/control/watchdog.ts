/**
 * The last line of "never harm the host": a watchdog that ends this copy when its event loop has been
 * blocked too long. Everything else that bounds a run (timeouts, the stop file, signals, the end of
 * the window) runs on the event loop, so code that never yields — an operator's scenario module in
 * `while (true) {}`, at import or in an execution — would otherwise keep a copy spinning on a core,
 * holding a lock slot, for ever. JavaScript cannot interrupt a blocked loop, so the watchdog lives on
 * a thread of its own (a worker) and kills the process with SIGKILL (a blocked loop runs no SIGTERM
 * handler). The main thread ticks a shared counter every second on the Clock; the worker looks at it.
 *
 * The worker's own timers are its own thread's: the Clock cannot reach there, and must not (the
 * point is to keep time while the main thread cannot).
 */
import type { Clock } from '../clock.js';

/** How often the main thread proves it is alive, ms. */
const BEAT_MS = 1_000;
/** How long a blocked loop may ignore an existing stop file before the copy is killed, ms. */
export const STOP_FILE_GRACE_MS = 2_000;

export interface WatchdogOptions {
  clock: Clock;
  /** Blocked this long, the copy is killed, ms. */
  blockedLimitMs: number;
  /** While this file exists, blocked for STOP_FILE_GRACE_MS is enough: a freeze must not wait for the limit. */
  stopFile?: string;
  /** How the one line written before the kill is formatted, as the logger does. */
  logFormat: 'logfmt' | 'json';
}

/** A running watchdog. */
export interface Watchdog {
  /** Ends the watchdog (the process is no longer at risk, or is exiting anyway). */
  stop(): void;
}

/**
 * The worker: CommonJS, self-contained. Every half second it compares the counter with what it saw;
 * unchanged for the limit (or for the grace while the stop file exists), it writes one line to stderr
 * and kills the whole process.
 */
const WORKER_SOURCE = String.raw`
const { workerData } = require('node:worker_threads');
const { existsSync, writeSync } = require('node:fs');
const beats = new Int32Array(workerData.shared);
const CHECK_MS = 500;
let seen = Atomics.load(beats, 0);
let stillMs = 0;
setInterval(() => {
  const now = Atomics.load(beats, 0);
  if (now !== seen) {
    seen = now;
    stillMs = 0;
    return;
  }
  stillMs += CHECK_MS;
  const stopping = workerData.stopFile !== undefined && stillMs >= workerData.stopGraceMs && existsSync(workerData.stopFile);
  if (stillMs < workerData.limitMs && !stopping) return;
  const msg = (stopping ? 'stop file present and ' : '') + 'event loop blocked for ' + Math.round(stillMs / 1000) +
    's (operator code that never yields, e.g. a scenario module in a busy loop): killing this copy (SIGKILL)';
  const ts = new Date().toISOString();
  const line = workerData.json
    ? JSON.stringify({ ts, level: 'error', msg, pid: process.pid }) + '\n'
    : 'ts=' + ts + ' level=error msg=' + JSON.stringify(msg) + ' pid=' + process.pid + '\n';
  try { writeSync(2, line); } catch {}
  process.kill(process.pid, 'SIGKILL');
}, CHECK_MS);
`;

/**
 * Starts the watchdog: a worker thread (unref'd: it never holds the process alive) and a beat on the
 * Clock. Costs one thread and about 20 ms of start-up, so callers start it only when code they do not
 * control is about to run (a scenario module's import).
 */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  const shared = new SharedArrayBuffer(4);
  const beats = new Int32Array(shared);
  // Node's worker_threads module is loaded here, not with this file: a run without scenario modules
  // never starts a watchdog, and imports this file all the same.
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      shared,
      limitMs: options.blockedLimitMs,
      stopGraceMs: STOP_FILE_GRACE_MS,
      stopFile: options.stopFile,
      json: options.logFormat === 'json',
    },
    // The worker needs nothing of the process: no stdin, and its own stdout/stderr are unused (it
    // writes its one line with writeSync to fd 2).
    stdout: false,
    stderr: false,
  });
  worker.unref();
  // A worker that fails to start (a thread limit) leaves the copy without a watchdog, as before.
  worker.on('error', () => undefined);
  const cancelBeat = options.clock.every(BEAT_MS, () => Atomics.add(beats, 0, 1), { unref: true });
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      cancelBeat();
      void worker.terminate().catch(() => undefined);
    },
  };
}
