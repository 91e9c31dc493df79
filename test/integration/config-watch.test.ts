import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { isConfigFileName } from '../../src/config/load-tests.js';
import { watchConfig, type ConfigWatch } from '../../src/control/watch.js';
import { waitFor } from '../support/cli.js';

const open: ConfigWatch[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});

async function watching(path: string, pollMs = 1_000) {
  const calls: number[] = [];
  open.push(await watchConfig({ path, isConfigFile: isConfigFileName, logger: silentLogger, clock: systemClock, pollMs, onChange: () => calls.push(performance.now()) }));
  return calls;
}

describe('watchConfig (real files)', () => {
  it('regression: reports a rename-replace (Puppet, Chef) made right after the watch starts, once, debounced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-watch-'));
    const config = join(dir, 'tests.conf');
    await writeFile(config, 'a\n');
    const calls = await watching(config, 60_000);
    await writeFile(join(dir, '.tests.conf.tmp'), 'b\n');
    await rename(join(dir, '.tests.conf.tmp'), config);
    expect(await waitFor(() => calls.length >= 1, 2_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toHaveLength(1);
  });

  it('ignores other files in the same directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-watch-'));
    const calls = await watching(join(dir, 'tests.conf'), 60_000);
    await writeFile(join(dir, 'canihaz.conf'), 'x');
    await writeFile(join(dir, 'tests.conf.swp'), 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toHaveLength(0);
  });

  it('watches *.conf files inside a config directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-watch-'));
    const confDir = join(dir, 'tests.d');
    await mkdir(confDir);
    const calls = await watching(confDir, 60_000);
    await writeFile(join(confDir, 'notes.txt'), 'x');
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toHaveLength(0);
    await writeFile(join(confDir, 'team-a.conf'), 'a\n');
    expect(await waitFor(() => calls.length === 1, 2_000)).toBe(true);
  });

  it('still notices a config whose parent directory did not exist, through the stat check', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-watch-'));
    const config = join(dir, 'etc', 'tests.conf');
    const calls = await watching(config, 100);
    await mkdir(join(dir, 'etc'));
    await writeFile(config, 'a\n');
    expect(await waitFor(() => calls.length >= 1, 2_000)).toBe(true);
  });
});
