import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { watchStopFile } from '../../src/control/stop-file.js';
import { waitFor } from '../support/cli.js';

describe('watchStopFile (real files)', () => {
  it('sees a stop file that already exists at once, without waiting for a poll', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-stop-'));
    await writeFile(join(dir, 'stop'), '');
    let stopped = 0;
    const watch = watchStopFile({ path: join(dir, 'stop'), clock: systemClock, intervalMs: 60_000, onStop: () => stopped++ });
    expect(await waitFor(() => stopped === 1, 2_000)).toBe(true);
    watch.close();
  });

  it('sees a stop file created later through the directory watch, long before the next poll', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-stop-'));
    let stopped = 0;
    const watch = watchStopFile({ path: join(dir, 'stop'), clock: systemClock, intervalMs: 60_000, onStop: () => stopped++ });
    await new Promise((r) => setTimeout(r, 50));
    await writeFile(join(dir, 'stop'), '');
    expect(await waitFor(() => stopped === 1, 2_000)).toBe(true);
    await writeFile(join(dir, 'stop'), 'again');
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(1);
    watch.close();
  });

  it('falls back to polling when the parent directory does not exist yet', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-stop-'));
    const path = join(dir, 'later', 'stop');
    let stopped = 0;
    const watch = watchStopFile({ path, clock: systemClock, intervalMs: 50, onStop: () => stopped++ });
    await new Promise((r) => setTimeout(r, 120));
    expect(stopped).toBe(0);
    await mkdir(join(dir, 'later'));
    await writeFile(path, '');
    expect(await waitFor(() => stopped === 1, 2_000)).toBe(true);
    watch.close();
  });

  it('calls nothing after close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-stop-'));
    let stopped = 0;
    const watch = watchStopFile({ path: join(dir, 'stop'), clock: systemClock, intervalMs: 20, onStop: () => stopped++ });
    watch.close();
    await writeFile(join(dir, 'stop'), '');
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(0);
  });
});
