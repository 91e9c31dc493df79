import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STOP_TIMEOUT_MS } from '../../src/commands/daemon.js';
import { DEFAULT_SETTINGS, SETTING_KEYS } from '../../src/config/settings.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SYSTEMD = join(ROOT, 'systemd');
const UNITS = ['canihaz.service', 'canihaz-run.service', 'canihaz.timer'];

/** A unit file as section → key → values (a key may repeat, e.g. Environment=). */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`not a unit-file line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

function readUnit(name: string): Unit {
  return parseUnit(readFileSync(join(SYSTEMD, name), 'utf8'));
}

/** The last value of a key (systemd's rule for single-valued keys). */
function value(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

const HARDENING: Record<string, string | RegExp> = {
  User: 'canihaz',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  NoNewPrivileges: 'yes',
  CapabilityBoundingSet: '',
  StateDirectory: 'canihaz',
  RuntimeDirectory: 'canihaz',
  RuntimeDirectoryPreserve: 'yes',
  ReadOnlyPaths: /^-?\/etc\/canihaz$/,
};

describe('deployment files', () => {
  for (const name of ['canihaz.service', 'canihaz-run.service']) {
    it(`${name} is hardened and points the lock dir at its RuntimeDirectory`, () => {
      const unit = readUnit(name);
      for (const [key, expected] of Object.entries(HARDENING)) {
        const v = value(unit, 'Service', key);
        if (typeof expected === 'string') expect(v, key).toBe(expected);
        else expect(v, key).toMatch(expected);
      }
      const env = unit.get('Service')?.get('Environment') ?? [];
      expect(env).toContain(`CANIHAZ_LOCK_DIR=/run/${value(unit, 'Service', 'RuntimeDirectory')}`);
      // Every CANIHAZ_ variable set names a real setting.
      for (const e of env) {
        const m = /^CANIHAZ_([A-Z_]+)=/.exec(e);
        if (m) expect(SETTING_KEYS as readonly string[]).toContain(m[1]!.toLowerCase());
      }
    });
  }

  it('canihaz.service runs the daemon, lets it forward SIGTERM, and waits longer than the daemon does', () => {
    const unit = readUnit('canihaz.service');
    expect(value(unit, 'Service', 'ExecStart')).toBe('/usr/bin/canihaz daemon');
    expect(value(unit, 'Service', 'KillMode')).toBe('mixed');
    expect(value(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(Number(value(unit, 'Service', 'TimeoutStopSec')) * 1000).toBeGreaterThan(DEFAULT_STOP_TIMEOUT_MS);
  });

  it('canihaz.timer starts canihaz-run.service (oneshot) at second 0 of every minute', () => {
    const timer = readUnit('canihaz.timer');
    expect(value(timer, 'Timer', 'OnCalendar')).toBe('*-*-* *:*:00');
    expect(value(timer, 'Timer', 'AccuracySec')).toBe('1s');
    expect(value(timer, 'Timer', 'Persistent')).toBe('false');
    expect(value(timer, 'Timer', 'Unit')).toBe('canihaz-run.service');
    const run = readUnit('canihaz-run.service');
    expect(value(run, 'Service', 'Type')).toBe('oneshot');
    expect(value(run, 'Service', 'ExecStart')).toBe('/usr/bin/canihaz run');
  });

  it('the cron file runs as the canihaz user, sends no mail, and logs to syslog', () => {
    const text = readFileSync(join(ROOT, 'conf', 'canihaz.cron'), 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    expect(lines).toContain('SHELL=/bin/sh');
    expect(lines).toContain('MAILTO=""');
    expect(lines.some((l) => l.startsWith('PATH='))).toBe(true);
    const jobs = lines.filter((l) => !/^[A-Z_]+=/.test(l));
    expect(jobs).toHaveLength(2);
    const fields = jobs[0]!.split(/\s+/);
    expect(fields.slice(0, 5)).toEqual(['*', '*', '*', '*', '*']);
    expect(fields[5]).toBe('canihaz'); // the /etc/cron.d user field
    // `test -x`: a removed (not purged) package leaves this conffile behind, and it must stay quiet.
    expect(fields.slice(6).join(' ')).toBe('[ -x /usr/bin/canihaz ] && /usr/bin/canihaz run 2>&1 | /usr/bin/logger -t canihaz');
    // Hosts without systemd-tmpfiles get the lock directory back after a reboot (/run is a tmpfs).
    expect(jobs[1]).toBe(`@reboot root install -d -o canihaz -g canihaz -m 0755 ${DEFAULT_SETTINGS.lockDir}`);
    expect(text.endsWith('\n')).toBe(true); // cron ignores a last line without a newline
  });

  it('tmpfiles.d creates the default lock dir for the canihaz user', () => {
    const text = readFileSync(join(ROOT, 'conf', 'tmpfiles.d', 'canihaz.conf'), 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines).toEqual([`d ${DEFAULT_SETTINGS.lockDir} 0755 canihaz canihaz -`]);
  });
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const hasAnalyze = analyze.status === 0;

describe.skipIf(!hasAnalyze)('systemd-analyze verify (needs systemd-analyze: Debian package "systemd")', () => {
  it('finds nothing wrong with the three units', () => {
    // /usr/bin/canihaz is not installed here, and verify rejects a missing ExecStart binary: check copies
    // whose ExecStart is /bin/true. Everything else is verified as shipped.
    const dir = mkdtempSync(join(tmpdir(), 'canihaz-units-'));
    try {
      cpSync(SYSTEMD, dir, { recursive: true });
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.service'))) {
        const p = join(dir, f);
        writeFileSync(p, readFileSync(p, 'utf8').replace(/^ExecStart=\/usr\/bin\/canihaz /m, 'ExecStart=/bin/true '));
      }
      const result = spawnSync('systemd-analyze', ['verify', ...UNITS.map((u) => join(dir, u))], { encoding: 'utf8', cwd: dir });
      // verify exits 0 even for unknown keys or bad values (it only warns), so read what it says about our units.
      const complaints = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => l.includes('canihaz'));
      expect(complaints).toEqual([]);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

