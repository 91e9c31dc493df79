// The loopback target of bench/cold-start.mjs and bench/cost.mjs: a keep-alive `node:http` server in
// a Node process of its own (so the bench's bookkeeping never shares its event loop), answering `ok`.
// It reports on its stdout the first arrival of each path, as `<process.hrtime ns> <path>` (hrtime is
// CLOCK_MONOTONIC: one clock for every process of the machine), and, asked `count` on its stdin, the
// number of requests so far. It exits when its stdin closes.
import { spawn } from 'node:child_process';

const TARGET = `
const http = require('node:http');
const seen = new Set();
let count = 0;
const server = http.createServer((req, res) => {
  count++;
  if (!seen.has(req.url)) {
    seen.add(req.url);
    process.stdout.write(process.hrtime.bigint() + ' ' + req.url + '\\n');
  }
  res.end('ok');
});
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { for (const l of d.split('\\n')) if (l === 'count') process.stdout.write('count ' + count + '\\n'); });
process.stdin.on('end', () => process.exit(0));
`;

/** Starts the target with `node` (default: this runtime); resolves once it listens. */
export async function startLoopbackTarget(node = process.execPath) {
  const child = spawn(node, ['-e', TARGET], { stdio: ['pipe', 'pipe', 'inherit'] });
  const firstHits = new Map();
  const hitWaiters = new Map();
  const countWaiters = [];
  let port;
  let buffered = '';
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the loopback target exited (${code})`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const [a, b] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        if (a === 'port') {
          port = Number(b);
          resolve();
        } else if (a === 'count') {
          countWaiters.shift()?.(Number(b));
        } else {
          firstHits.set(b, BigInt(a));
          hitWaiters.get(b)?.(BigInt(a));
        }
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    /** The arrival (hrtime ns) of the first request for `path`, or undefined after `timeoutMs`. */
    firstHit: (path, timeoutMs) =>
      firstHits.has(path)
        ? Promise.resolve(firstHits.get(path))
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(undefined), timeoutMs);
            hitWaiters.set(path, (t) => (clearTimeout(timer), resolve(t)));
          }),
    /** Requests served so far. */
    count: () => new Promise((resolve) => (countWaiters.push(resolve), child.stdin.write('count\n'))),
    close: () => new Promise((resolve) => (child.once('close', resolve), child.stdin.end())),
  };
}
