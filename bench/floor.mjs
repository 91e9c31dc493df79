#!/usr/bin/env node
// The floor of an open-model generator on this runtime (issue 10, the ceiling): the least a Node.js
// process can do to send R requests a minute on keep-alive connections, paced on absolute tick times
// — a pre-built request written on an idle socket (`onread`, one reusable buffer), the response's
// head and Content-Length body skipped, a tick with no idle socket dropped — and nothing else: no
// results, no metrics, no timeouts. canihaz's ceiling divided by this one's is what canihaz's own
// work costs; this one divided by autocannon's closed-loop maximum is what pacing itself costs.
//
//   node bench/floor.mjs URL RATE_PER_MIN SECONDS [CONNECTIONS]   prints one JSON line
//
// Loopback only (the URL must be 127.0.0.0/8 or [::1]); bounded by SECONDS + 2 s.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [urlText, rateText, secondsText, connText = '500'] = process.argv.slice(2);
const url = new URL(urlText);
if (!/^127\.|^\[::1\]$/.test(url.hostname)) throw new Error(`loopback only, not ${url.hostname}`);
const rate = Number(rateText);
const seconds = Number(secondsText);
const maxConnections = Number(connText);
const request = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: keep-alive\r\n\r\n`, 'latin1');
const gap = 60_000 / rate;
const total = Math.round((rate / 60) * seconds);
const lags = new Float64Array(total);
let sent = 0;
let done = 0;
let dropped = 0;
let errors = 0;
const idle = [];
let open = 0;
const readBuffer = Buffer.allocUnsafe(64 * 1024);
const HEAD_END = Buffer.from('\r\n\r\n');

/** One connection: a response is its head up to CRLFCRLF, then Content-Length bytes. */
function connect() {
  open++;
  const state = { head: '', body: -1 };
  const socket = net.connect({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    noDelay: true,
    onread: {
      buffer: readBuffer,
      callback(n, buf) {
        let i = 0;
        while (i < n) {
          if (state.body < 0) {
            const end = buf.indexOf(HEAD_END, i);
            if (end < 0 || end + 4 > n) {
              state.head += buf.latin1Slice(i, n);
              return;
            }
            const head = state.head + buf.latin1Slice(i, end);
            state.head = '';
            const m = /content-length: *(\d+)/i.exec(head);
            state.body = m ? Number(m[1]) : 0;
            i = end + 4;
          }
          const take = Math.min(state.body, n - i);
          state.body -= take;
          i += take;
          if (state.body === 0) {
            state.body = -1;
            done++;
            idle.push(socket);
          }
        }
      },
    },
  });
  socket.on('error', () => errors++);
  socket.on('close', () => open--);
  return socket;
}

const start = performance.now() + 20;
let next = 0;
function fire() {
  const now = performance.now();
  while (next < total && start + next * gap <= now) {
    const socket = idle.pop() ?? (open < maxConnections ? connect() : undefined);
    if (socket) {
      lags[sent++] = now - (start + next * gap);
      socket.write(request);
    } else dropped++;
    next++;
  }
  if (next < total) setTimeout(fire, Math.max(0, start + next * gap - performance.now()));
  else setTimeout(finish, 1_000);
}
function finish() {
  const l = lags.subarray(0, sent).sort();
  const pct = (p) => (sent ? l[Math.min(sent - 1, Math.ceil(p * sent) - 1)] : NaN);
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ rate, seconds, requested: total, sent, done, dropped, errors, connections: open, lagP50: pct(0.5), lagP99: pct(0.99), cpuS: (cpu.user + cpu.system) / 1e6 }));
  process.exit(0);
}
setTimeout(fire, 20);
setTimeout(() => process.exit(3), (seconds + 2) * 1000).unref();
