#!/usr/bin/env node
// The loopback target of bench/peers.mjs: a keep-alive `node:http` server in a process of its own,
// so that the generator under test and the bench's own bookkeeping never share its event loop.
// It records each request's arrival (performance.now(), ms) and answers `ok`. Driven over IPC
// (started with child_process.fork):
//   → { cmd: 'reset' }    ← { ok: 'reset' }                  forget the arrivals so far
//   → { cmd: 'collect' }  ← { arrivals: base64 Float64Array, connections }
// It prints nothing, listens on 127.0.0.1 port 0 and sends { port } once listening. It exits when
// its parent goes away (IPC disconnect) or after 30 minutes at the latest.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const MAX = 4_000_000; // arrivals kept between two collects (10,000/s for 400 s)
let arrivals = new Float64Array(MAX);
let count = 0;
let connections = 0;

const server = http.createServer((req, res) => {
  if (count < MAX) arrivals[count++] = performance.now();
  res.end('ok');
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.on('connection', () => connections++);

process.on('message', (msg) => {
  if (msg?.cmd === 'reset') {
    count = 0;
    connections = 0;
    process.send({ ok: 'reset' });
  } else if (msg?.cmd === 'collect') {
    const taken = Buffer.from(arrivals.buffer, 0, count * 8).toString('base64');
    process.send({ arrivals: taken, connections });
    count = 0;
    connections = 0;
    arrivals = new Float64Array(MAX);
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(0), 30 * 60_000).unref();

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
