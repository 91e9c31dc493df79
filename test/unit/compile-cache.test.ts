import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheNameOf, DEFAULT_SETTINGS_FILE, DEFAULT_STATE_DIR, stateDirOf } from '../../src/cli/compile-cache.js';
import { SETTINGS } from '../../src/config/settings.js';

// The entry finds the state directory before the settings are loaded (src/cli/compile-cache.ts): it
// must read it where the settings do, in the same order.

describe('the state directory, as the entry reads it', () => {
  it('has the settings table\'s defaults', () => {
    expect([DEFAULT_SETTINGS_FILE, DEFAULT_STATE_DIR]).toEqual([SETTINGS.settings.default, SETTINGS.state_dir.default]);
  });

  it('flag, then CANIHAZ_STATE_DIR, then the settings file (named by flag or variable), then the default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'canihaz-sd-'));
    const file = join(dir, 'canihaz.conf');
    await writeFile(file, '# settings\nstatsd = 127.0.0.1:8125\n  state_dir =  /srv/from-file  \r\n');
    const none = join(dir, 'missing.conf');
    expect(stateDirOf(['run', '--state-dir', '/a', '--settings', file], { CANIHAZ_STATE_DIR: '/b' })).toBe('/a');
    expect(stateDirOf(['run', '--state-dir=/a'], {})).toBe('/a');
    expect(stateDirOf(['run', '--settings', file], { CANIHAZ_STATE_DIR: '/b' })).toBe('/b');
    expect(stateDirOf(['run', '--settings', file], { CANIHAZ_STATE_DIR: '' })).toBe('/srv/from-file');
    expect(stateDirOf(['run'], { CANIHAZ_SETTINGS: file })).toBe('/srv/from-file');
    expect(stateDirOf(['run', `--settings=${none}`], {})).toBe(DEFAULT_STATE_DIR);
    // A directory (or a FIFO) as the settings file is never read here.
    expect(stateDirOf(['run', '--settings', dir], {})).toBe(DEFAULT_STATE_DIR);
  });

  it('one cache per command and build and runtime', () => {
    expect(cacheNameOf('0123456789abcdef', 'run')).toBe(`main-0123456789abcdef-${process.version}-${process.arch}-run.cache`);
    expect(cacheNameOf('0123456789abcdef', '--version')).toMatch(/-other\.cache$/);
    expect(cacheNameOf('0123456789abcdef', undefined)).toMatch(/-other\.cache$/);
  });
});
