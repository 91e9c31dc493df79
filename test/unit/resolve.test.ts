import { describe, expect, it } from 'vitest';
import { HostLookupError, lookupHostsFile, lookupVia, parseResolvConf, searchCandidates, type HostResolver, type ResolvedHost } from '../../src/net/resolve.js';

describe('lookupHostsFile', () => {
  const hosts = `# comment
127.0.0.1 localhost
::1 localhost ip6-localhost
10.0.0.5   statsd.internal Statsd   # the metrics box
fe80::1 only6
192.0.2.9 other
`;
  it.each([
    ['localhost', { ok: true, address: '127.0.0.1', family: 4 }],
    ['ip6-localhost', { ok: true, address: '::1', family: 6 }],
    ['STATSD', { ok: true, address: '10.0.0.5', family: 4 }],
    ['statsd.internal.', { ok: true, address: '10.0.0.5', family: 4 }],
    ['only6', { ok: true, address: 'fe80::1', family: 6 }],
    ['the', undefined],
    ['missing', undefined],
  ])('%s', (host, expected) => {
    expect(lookupHostsFile(hosts, host)).toEqual(expected);
  });
});

describe('parseResolvConf and searchCandidates', () => {
  it.each([
    ['', { search: [], ndots: 1 }],
    ['nameserver 10.0.0.1\nsearch a.example b.example\noptions timeout:1 ndots:2\n', { search: ['a.example', 'b.example'], ndots: 2 }],
    ['search a.example\ndomain c.example # last one wins\n', { search: ['c.example'], ndots: 1 }],
    ['options ndots:99', { search: [], ndots: 15 }],
  ])('%j', (text, expected) => {
    expect(parseResolvConf(text)).toEqual(expected);
  });

  it.each([
    ['statsd', { search: ['corp.example'], ndots: 1 }, ['statsd.corp.example', 'statsd']],
    ['statsd.dc1', { search: ['corp.example'], ndots: 1 }, ['statsd.dc1', 'statsd.dc1.corp.example']],
    ['statsd.dc1', { search: ['corp.example'], ndots: 2 }, ['statsd.dc1.corp.example', 'statsd.dc1']],
    ['statsd.example.', { search: ['corp.example'], ndots: 1 }, ['statsd.example']],
    ['statsd', { search: [], ndots: 1 }, ['statsd']],
  ])('%s with %j', (host, conf, expected) => {
    expect(searchCandidates(host, conf)).toEqual(expected);
  });
});

describe('lookupVia (the `lookup` net.connect and tls.connect are given)', () => {
  const resolverOf = (result: ResolvedHost): HostResolver => ({ resolve: async () => result, cancel: () => undefined });
  const call = (resolver: HostResolver, all: boolean) =>
    new Promise<unknown[]>((resolve) => lookupVia(resolver)('target.example', { all }, (...args) => resolve(args)));

  it('answers one address, or a list of one when net asks for all (autoSelectFamily)', async () => {
    const resolver = resolverOf({ ok: true, address: '10.0.0.7', family: 4 });
    expect(await call(resolver, false)).toEqual([null, '10.0.0.7', 4]);
    expect(await call(resolver, true)).toEqual([null, [{ address: '10.0.0.7', family: 4 }]]);
  });

  it.each([
    ['ENOTFOUND', 'ENOTFOUND'],
    ['ENODATA', 'ENOTFOUND'],
    ['ETIMEOUT', 'EAI_AGAIN'],
    ['ECANCELLED', 'EAI_AGAIN'],
    ['ESERVFAIL', 'EAI_AGAIN'],
    ['ECONNREFUSED', 'EAI_AGAIN'],
  ])('a resolver failure %s is raised with getaddrinfo code %s (so it is classified dns)', async (resolverCode, code) => {
    const [err] = await call(resolverOf({ ok: false, code: resolverCode, message: 'no' }), false);
    expect(err).toBeInstanceOf(HostLookupError);
    expect(err).toMatchObject({ code, resolverCode, hostname: 'target.example', message: 'cannot resolve target.example: no' });
  });
});
