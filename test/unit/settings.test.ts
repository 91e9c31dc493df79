import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, parseSettingsText, resolveSettings, settingsFromEnv } from '../../src/config/settings.js';
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
    ['colour = blue', 's.conf:1: colour: unknown setting; known: config, stop_file, lock_dir, state_dir, statsd, graphite, prefix, statsd_prefix, graphite_prefix, max_frequency, max_inflight, log_format, log_level'],
    ['just words', 's.conf:1: line: expected key = value, got "just words"'],
  ])('%s', (line, message) => {
    const { raw, errors } = parseSettingsText(line, 's.conf');
    expect(errors.map(formatLineError)).toEqual([message]);
    expect(raw).toEqual({});
  });
});

describe('resolveSettings', () => {
  it('uses the defaults when nothing is set', () => {
    const r = resolveSettings([], '/etc/canihaz/canihaz.conf');
    expect(r).toEqual({ ok: true, settings: DEFAULT_SETTINGS });
  });

  it('lets flags beat the environment and the environment beat the file', () => {
    const r = resolveSettings(
      [
        { source: 'file', raw: { config: '/file', stop_file: '/file-stop', lock_dir: '/file-lock' } },
        { source: 'environment', raw: settingsFromEnv({ CANIHAZ_STOP_FILE: '/env-stop', CANIHAZ_LOCK_DIR: '/env-lock' }) },
        { source: 'flags', raw: { lock_dir: '/flag-lock' } },
      ],
      'f',
    );
    expect(r.ok && [r.settings.config, r.settings.stopFile, r.settings.lockDir]).toEqual(['/file', '/env-stop', '/flag-lock']);
  });

  it('derives both prefixes from `prefix`, unless each is set', () => {
    const one = resolveSettings([{ source: 'f', raw: { prefix: 'lt' } }], 'f');
    expect(one.ok && [one.settings.statsdPrefix, one.settings.graphitePrefix]).toEqual(['lt', 'lt.{host}']);
    const both = resolveSettings([{ source: 'f', raw: { prefix: 'lt', statsd_prefix: 's', graphite_prefix: 'g.{host}.x' } }], 'f');
    expect(both.ok && [both.settings.statsdPrefix, both.settings.graphitePrefix]).toEqual(['s', 'g.{host}.x']);
  });

  it('sets the destinations the bare words statsd and graphite mean', () => {
    const r = resolveSettings([{ source: 'f', raw: { statsd: '[::1]:9125', graphite: 'graphite.internal:2013' } }], 'f');
    expect(r.ok && r.settings.destinationDefaults).toEqual({
      statsd: { host: '::1', port: 9125 },
      graphite: { host: 'graphite.internal', port: 2013 },
    });
  });

  it('names where a bad value came from', () => {
    const r = resolveSettings([{ source: 'environment', raw: { max_frequency: 'x' } }], 'f');
    expect(r).toEqual({ ok: false, problems: [{ source: 'environment', field: 'max_frequency', message: 'expected a whole number, got "x"' }] });
  });
});
