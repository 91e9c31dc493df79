/**
 * A listener on 127.0.0.1 whose connects hang, like an overloaded target: a python3 socket with
 * backlog 0 that never accepts, its accept queue filled by a few idle connections first, so Linux
 * answers no further SYN (it drops SYNs to a listener whose accept queue is full). Node cannot make
 * one: it always accepts. `connectHangs` checks the precondition where a test runs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';

const SCRIPT = [
  'import socket, sys, time',
  's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
  'port = s.getsockname()[1]',
  'idle = []',
  'for _ in range(4):',
  '    c = socket.socket(); c.setblocking(False)',
  '    try: c.connect(("127.0.0.1", port))',
  '    except BlockingIOError: pass',
  '    idle.append(c)',
  'time.sleep(0.2)',
  'print(port, flush=True)',
  'sys.stdin.read()',
].join('\n');

/** A listener whose connects never complete. */
export interface HangingConnectTarget {
  port: number;
  /** Kills the listener (and its idle connections). Idempotent. */
  close(): Promise<void>;
}

/** Starts a hanging-connect listener; killed after `killAfterMs` (default 120 s) at the latest. */
export async function startHangingConnectTarget(killAfterMs = 120_000): Promise<HangingConnectTarget> {
  const child = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const closed = once(child, 'close').finally(() => clearTimeout(killer));
  const [line] = (await Promise.race([once(child.stdout.setEncoding('utf8'), 'data'), closed.then(() => [''])])) as [string];
  const port = Number(line.trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error('the hanging-connect listener (python3) did not start');
  return {
    port,
    close: async () => {
      child.kill('SIGKILL');
      await closed;
    },
  };
}

/** Whether a TCP connect to 127.0.0.1:`port` is still pending after `ms`. */
export async function connectHangs(port: number, ms: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const connected = await Promise.race([
    once(socket, 'connect').then(() => true, () => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  socket.destroy();
  return !connected;
}
