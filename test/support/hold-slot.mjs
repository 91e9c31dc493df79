// Test helper: one process that takes a lock slot with the compiled dist/control/lock-slots.js.
// Usage: node hold-slot.mjs DIR [--poll-ms N]
// Prints one JSON line: {"slot":N,"waitedMs":W} | {"slot":null} | {"error":"E_LOCK","message":...}.
// With --poll-ms it retries every N ms until it wins a slot. While holding, the line "release" on stdin
// releases the slot (prints {"released":N}); the process exits when stdin ends.
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { acquireSlot } from '../../dist/control/lock-slots.js';
import { silentLogger } from '../../dist/log.js';

const [dir, flag, value] = process.argv.slice(2);
const pollMs = flag === '--poll-ms' ? Number(value) : 0;
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const start = Date.now();
let held;
try {
  for (;;) {
    held = await acquireSlot({ dir, logger: silentLogger, onCompromised: (err) => print({ compromised: err.message }) });
    if (held || !pollMs) break;
    await delay(pollMs);
  }
} catch (err) {
  print({ error: err.code ?? 'unknown', message: err.message });
  process.exit(1);
}
print({ slot: held?.slot ?? null, waitedMs: Date.now() - start });
if (held) {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'release') {
      await held.release();
      await held.release(); // idempotent
      print({ released: held.slot });
    }
  }
}
