import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, parseSettingsText, resolveSettings, settingsFromEnv, SETTING_KEYS } from '../../src/config/settings.js';
import { formatLineError } from '../../src/config/tests-file.js';

describe('parseSettingsText', () => {
  it('reads key = value lines, ignoring comments, blanks, CRLF and a BOM', () => {
    const { raw, errors } = parseSettingsText('\uFEFF# agent\r\n\r\nstatsd = 10.0.0.1:9125\r\nprefix=team.{host}\r\n  log_level =  debug  \r\n', 's.conf');
    expect(errors).toEqual([]);
    expect(raw).toEqual({ statsd: '10.0.0.1:9125', prefix: 'team.{host}', log_level: 'debug' });
  });

  it.each([
    ['statsd = nowhere', 's.conf:1: statsd: expected host:port, got "nowhere"'],
    ['graphite = h:0', 's.conf:1: graphite: port must be 1-65535, got 0'],
    ['prefix = a..b', 's.conf:1: prefix: expected dot-separated segments of A-Z a-z 0-9 _ - and {host}, got "a..b"'],
    ['max_frequency = 0', 's.conf:1: max_frequency: must be at least 1'],
    ['max_inflight = many', 's.conf:1: max_inflight: expected a whole number, got "many"'],
    ['log_format = xml', 's.conf:1: log_format: expected logfmt or json, got "xml"'],
    ['log_level = loud', 's.conf:1: log_level: expected one of debug, info, notice, warn, error, got "loud"'],
    ['phase = maybe', 's.conf:1: phase: expected on or off, got "maybe"'],
    ['colour = blue', `s.conf:1: colour: unknown setting; known: ${SETTING_KEYS.join(', ')}`],
    ['just words', 's.conf:1: line: expected key = value, got "just…"'],
    ['max_total_rate = 0', 's.conf:1: max_total_rate: must be at least 1'],
    ['max_total_rate = 1e6', 's.conf:1: max_total_rate: expected a whole number, got "1e6"'],
    ['strict_modes = no', 's.conf:1: strict_modes: expected on or off, got "no"'],
    ['log_level = \u001b[31mred', 's.conf:1: log_level: expected one of debug, info, notice, warn, error, got "\\u001b[31mred"'],
    [`prefix = ${'p'.repeat(1000)}!`, `s.conf:1: prefix: expected dot-separated segments of A-Z a-z 0-9 _ - and {host}, got "${'p'.repeat(80)}…" (921 more characters)`],
  ])('%s', (line, message) => {
    const { raw, errors } = parseSettingsText(line, 's.conf');
    expect(errors.map(formatLineError)).toEqual([message]);
    expect(raw).toEqual({});
  });
});

describe('parseSettingsText: secrets and line ends', () => {
  it.each([
    ['statsd user:hunter2@h:8125', 's.conf:1: line: expected key = value, got "statsd…"'],
    ['statsd = user:hunter2@h:8125', 's.conf:1: statsd: expected host:port, got "***@h:8125"'],
    ['graphite = h:2003/?token=hunter2', 's.conf:1: graphite: expected host:port, got "h:2003/?token=***"'],
    ['https://u:hunter2@h/?a = 1', 's.conf:1: line: expected key = value with a key such as statsd, got "https…"'],
  ])('secrets in error messages: %j is reported without its secret', (line, message) => {
    const { errors } = parseSettingsText(line, 's.conf');
    expect(errors.map(formatLineError)).toEqual([message]);
    expect(message).not.toContain('hunter2');
  });

  it('a lone CR line ending (old Mac file) ends a line, like LF and CRLF', () => {
    const { raw, errors } = parseSettingsText('# agent\rstatsd = 10.0.0.1:9125\rprefix = a\r\nlog_level = nope\n', 's.conf');
    expect(raw).toEqual({ statsd: '10.0.0.1:9125', prefix: 'a' });
    expect(errors.map(formatLineError)).toEqual(['s.conf:4: log_level: expected one of debug, info, notice, warn, error, got "nope"']);
  });
});

describe('resolveSettings', () => {
  it('uses the defaults when nothing is set', () => {
    const r = resolveSettings([]);
    expect(r).toEqual({ ok: true, settings: DEFAULT_SETTINGS });
  });

  it('lets flags beat the environment and the environment beat the file', () => {
    const r = resolveSettings(
      [
        { source: 'file', raw: { config: '/file', stop_file: '/file-stop', lock_dir: '/file-lock' } },
        { source: 'environment', raw: settingsFromEnv({ CANIHAZ_STOP_FILE: '/env-stop', CANIHAZ_LOCK_DIR: '/env-lock' }) },
        { source: 'flags', raw: { lock_dir: '/flag-lock' } },
      ],
    );
    expect(r.ok && [r.settings.config, r.settings.stopFile, r.settings.lockDir]).toEqual(['/file', '/env-stop', '/flag-lock']);
  });

  it('derives both prefixes from `prefix`, unless each is set', () => {
    const one = resolveSettings([{ source: 'f', raw: { prefix: 'lt' } }]);
    expect(one.ok && [one.settings.statsdPrefix, one.settings.graphitePrefix]).toEqual(['lt', 'lt.{host}']);
    const both = resolveSettings([{ source: 'f', raw: { prefix: 'lt', statsd_prefix: 's', graphite_prefix: 'g.{host}.x' } }]);
    expect(both.ok && [both.settings.statsdPrefix, both.settings.graphitePrefix]).toEqual(['s', 'g.{host}.x']);
  });

  it('sets the destinations the bare words statsd and graphite mean', () => {
    const r = resolveSettings([{ source: 'f', raw: { statsd: '[::1]:9125', graphite: 'graphite.internal:2013' } }]);
    expect(r.ok && r.settings.destinationDefaults).toEqual({
      statsd: { host: '::1', port: 9125 },
      graphite: { host: 'graphite.internal', port: 2013 },
    });
  });

  it('reads max_total_rate and strict_modes', () => {
    const r = resolveSettings([{ source: 'f', raw: { max_total_rate: '1200', strict_modes: 'off' } }]);
    expect(r.ok && [r.settings.maxTotalRate, r.settings.strictModes]).toEqual([1200, false]);
    expect([DEFAULT_SETTINGS.maxTotalRate, DEFAULT_SETTINGS.strictModes]).toEqual([600_000, true]);
  });

  it('names where a bad value came from', () => {
    const r = resolveSettings([{ source: 'environment', raw: { max_frequency: 'x' } }]);
    expect(r).toEqual({ ok: false, problems: [{ source: 'environment', field: 'max_frequency', message: 'expected a whole number, got "x"' }] });
  });
});
