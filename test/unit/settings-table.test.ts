import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandHelp } from '../../src/cli/help.js';
import { parseSettingsText, resolveSettings, SETTING_KEYS, SETTING_ROWS, settingsFromEnv, type CommandName } from '../../src/config/settings.js';

// The settings table in src/config/settings-table.ts is the one place a setting is written; the
// README's table of them, and every help text, must say what it says.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The text of the README section under `## <title>`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** The first markdown table of a section, as rows of cells (backticks removed), header first. */
function firstTable(text: string): string[][] {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(from)) {
    if (!line.startsWith('|')) break;
    if (/^\|(?:-+\|)+$/.test(line)) continue;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim().replaceAll('`', '')));
  }
  return rows;
}

/** A row of the table as the README spells it: key (— when not a settings-file key), flags, variable, default. */
const expected = SETTING_ROWS.map((s) => ({
  key: s.from === 'anywhere' ? s.key : '—',
  flags: `${s.short ? `-${s.short}, ` : ''}--${s.flag}`,
  variable: s.env,
  default: s.default,
}));

describe('the README says what the settings table says', () => {
  it('Agent settings: one row per setting, in order, with its key, flags, variable and default', () => {
    const [header, ...rows] = firstTable(section('Agent settings'));
    expect(header).toEqual(['key', 'flag', 'variable', 'default', 'meaning']);
    expect(rows.map(([key, flags, variable, byDefault]) => ({ key, flags, variable, default: byDefault }))).toEqual(expected);
    for (const row of rows) expect(row[4], `${row[1]} has a meaning`).not.toBe('');
  });

  it("Running it: the options kept out of the settings file, and the ones check's help lists", () => {
    const text = section('Running it').replaceAll('\n', ' ');
    const invocation = SETTING_ROWS.filter((s) => s.from === 'invocation').map((s) => `\`--${s.flag}\``);
    expect(text).toContain(`all but ${invocation.join(' and ')}, in the`);
    const check = /\(`check`: ([^)]*)\)/.exec(text)?.[1];
    expect(check?.split(', ')).toEqual(SETTING_ROWS.filter((s) => s.usedBy.includes('check')).map((s) => `\`--${s.flag}\``));
  });
});

describe('everything else derives from the table', () => {
  it.each(['run', 'daemon', 'check'] satisfies CommandName[])('canihaz %s --help: each option it uses with its doc and default', (command) => {
    const help = commandHelp(command);
    for (const s of SETTING_ROWS.filter((r) => r.usedBy.includes(command))) {
      const left = `${s.short ? `-${s.short}, ` : '    '}--${s.flag} ${s.arg}`;
      expect(help).toMatch(new RegExp(`\\n  ${escape(left)} +${escape(s.doc)} +\\[${escape(s.default)}\\]\\n`));
    }
  });

  it('every default that is a value passes its own schema, so DEFAULT_SETTINGS is the table resolved', () => {
    expect(resolveSettings([]).ok).toBe(true);
    for (const s of SETTING_ROWS.filter((r) => !r.computed)) expect([s.key, s.schema.safeParse(s.default).success]).toEqual([s.key, true]);
  });

  it('every setting is read from CANIHAZ_<KEY>; only file keys are accepted in the settings file', () => {
    const env = Object.fromEntries(SETTING_ROWS.map((s) => [s.env, 'x']));
    expect(Object.keys(settingsFromEnv(env)).sort()).toEqual(SETTING_ROWS.map((s) => s.key).sort());
    expect(SETTING_KEYS).toEqual(SETTING_ROWS.filter((s) => s.from === 'anywhere').map((s) => s.key));
    for (const s of SETTING_ROWS.filter((r) => r.from === 'invocation')) {
      expect(parseSettingsText(`${s.key} = 5`, 'f').errors.map((e) => e.message)).toEqual([expect.stringMatching(/^unknown setting; known: /)]);
    }
  });

  it('reports every bad value, from every layer, at once (--lifetime with the others)', () => {
    const r = resolveSettings([
      { source: 'environment', raw: { lifetime: '61', phase: 'maybe' } },
      { source: 'flags', raw: { max_inflight: '0', settings: '' } },
    ]);
    expect(r.ok ? [] : r.problems.map((p) => `${p.source} ${p.field}`)).toEqual(['flags settings', 'environment lifetime', 'flags max_inflight', 'environment phase']);
  });

  it('the lifetime comes back beside the settings; absent, the run owns the minute', () => {
    const r = resolveSettings([{ source: 'flags', raw: { lifetime: '5', settings: '/x.conf' } }]);
    expect(r.ok && [r.lifetimeSeconds, r.settings.settingsFile]).toEqual([5, '/x.conf']);
    expect(resolveSettings([])).not.toHaveProperty('lifetimeSeconds');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
