// node bench/replay-sink.mjs: on 127.0.0.1:2993, a loopback Graphite stand-in that counts the lines and bytes it receives (for the replay figures in the README).
import net from 'node:net';
let bytes = 0, lines = 0;
const s = net.createServer((c) => { c.on('data', (d) => { bytes += d.length; for (const b of d) if (b === 10) lines++; }); c.on('end', () => { console.log(`got ${lines} lines ${bytes} bytes`); }); });
s.listen(2993, '127.0.0.1');
