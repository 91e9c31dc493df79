/**
 * The scenario runtime at probe level: modules (namespaces and the shipped example) made into probe
 * types with scenarioProbeType, run against real local HTTP and WebSocket servers; a FakeClock where
 * the timeout matters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { systemClock, type Clock } from '../../src/clock.js';
import type { ProbeResult, Sample } from '../../src/events.js';
import type { Logger, LogLevel } from '../../src/log.js';
import type { Probe } from '../../src/probes/probe.js';
import { scenarioProbeType } from '../../src/probes/scenario/scenario-type.js';
import type { ScenarioContext, SetupContext } from '../../types/scenario.js';
import { cleanups, startTarget, waitFor, type TargetServer } from '../support/cli.js';
import { FakeClock } from '../support/fake-clock.js';

const cleanup = cleanups();
const MODULE = '/etc/canihaz/types/shop.mjs';

interface Logged {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

function recordingLogger(): Logger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
  return { lines, debug: at('debug'), info: at('info'), notice: at('notice'), warn: at('warn'), error: at('error') };
}

/** A probe for `ns` with the line's `params`; closed after the test. */
function probeFor(ns: Record<string, unknown>, params: Record<string, string> = {}, options: { clock?: Clock; logger?: Logger } = {}): Probe {
  const built = scenarioProbeType('shop', MODULE, ns);
  if (!built.ok) throw new Error(built.reason);
  const parsed = built.type.parse(new Map(Object.entries(params).map(([k, v]) => [k, [v]])));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const probe = built.type.create(parsed.options, { clock: options.clock ?? systemClock, logger: options.logger ?? recordingLogger(), test: 'checkout' });
  cleanup(() => probe.close());
  return probe;
}

const never = new AbortController().signal;

/** A shop: POST /login → token, /profile and /cart need it, /big answers 2 MiB. */
async function startShop(): Promise<TargetServer & { tokens: string[] }> {
  const tokens: string[] = [];
  const shop = await startTarget((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const authorized = req.headers.authorization === 'Bearer t0k3n';
    if (path === '/login' && req.method === 'POST') {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        tokens.push(body);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ token: 't0k3n' }));
      });
    } else if (path === '/profile' || path === '/cart') {
      res.statusCode = authorized ? 200 : 401;
      res.end(JSON.stringify(path === '/cart' ? { items: [1, 2, 3] } : { name: 'probe' }));
    } else if (path === '/big') {
      res.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
    } else if (path === '/fail') {
      res.statusCode = 500;
      res.end('no');
    } else res.end('ok');
  });
  cleanup(() => shop.close());
  return Object.assign(shop, { tokens });
}

function sample(result: ProbeResult, name: string): Sample | undefined {
  return result.samples?.find((s) => s.name === name);
}

describe('scenario runtime', () => {
  it('runs setup once (before the first execution, never as one) and hands its data to every execution', async () => {
    const shop = await startShop();
    const seen: unknown[] = [];
    const probe = probeFor(
      {
        params: { base_url: { required: true } },
        setup: async (ctx: SetupContext) => {
          const res = await ctx.http.request(`${ctx.params.base_url}/login`, { method: 'POST', body: 'user=probe' });
          return await res.json<{ token: string }>();
        },
        default: async (ctx: ScenarioContext<{ token: string }>) => {
          seen.push(ctx.data);
          const res = await ctx.http.request(`${ctx.params.base_url}/profile`, { headers: { authorization: `Bearer ${ctx.data.token}` } });
          if (res.status !== 200) throw new Error(`profile ${res.status}`);
        },
      },
      { base_url: shop.url },
    );
    await probe.prepare!();
    expect(shop.count('/login')).toBe(1);
    const results = await Promise.all(Array.from({ length: 5 }, () => probe.execute(never)));
    results.push(await probe.execute(never));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, true]);
    expect(shop.count('/login')).toBe(1);
    expect(shop.tokens).toEqual(['user=probe']);
    expect(shop.count('/profile')).toBe(6);
    expect(seen).toEqual(Array(6).fill({ token: 't0k3n' }));
  });

  it('an execution that comes before prepare() starts setup itself, once', async () => {
    const shop = await startShop();
    let setups = 0;
    const probe = probeFor({
      setup: async () => ++setups,
      default: async (ctx: ScenarioContext<number>) => {
        if (ctx.data !== 1) throw new Error(`data ${String(ctx.data)}`);
        await ctx.http.request(`${shop.url}/profile`);
      },
    });
    const results = await Promise.all([probe.execute(never), probe.execute(never), probe.prepare!().then(() => probe.execute(never))]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(setups).toBe(1);
  });

  it('times each step as step.<name> and counts step.<name>.ok / .failed; a failed step names the failure step_<name>', async () => {
    const shop = await startShop();
    const probe = probeFor({
      default: async (ctx: ScenarioContext) => {
        await ctx.step('profile', () => ctx.http.request(`${shop.url}/profile`));
        const items = await ctx.step('cart', async () => 3);
        expect(items).toBe(3);
        await ctx.step('Pay', async () => {
          const res = await ctx.http.request(`${shop.url}/fail`);
          if (res.status !== 200) throw new Error(`pay answered ${res.status}`);
        });
      },
    });
    const result = await probe.execute(never);
    expect(result).toMatchObject({ ok: false, reason: 'step_pay' });
    expect(result.samples?.map((s) => `${s.name}|${s.kind}|${s.kind === 'timing' ? 't' : s.value}`)).toEqual([
      'step.profile|timing|t',
      'step.profile.ok|counter|1',
      'step.cart|timing|t',
      'step.cart.ok|counter|1',
      'step.Pay|timing|t',
      'step.Pay.failed|counter|1',
    ]);
    for (const s of result.samples!.filter((s) => s.kind === 'timing')) expect(s.value).toBeGreaterThanOrEqual(0);
  });

  it('the innermost failed step names the failure; an error with its own reason keeps it, inside a step or not', async () => {
    const reasonFrom = async (run: (ctx: ScenarioContext) => Promise<void>) => (await probeFor({ default: run }).execute(never)).reason;
    expect(
      await reasonFrom(async (ctx) => {
        await ctx.step('outer', () => ctx.step('inner', () => Promise.reject(new Error('x'))));
      }),
    ).toBe('step_inner');
    expect(
      await reasonFrom(async (ctx) => {
        await ctx.step('cart', () => Promise.reject(Object.assign(new Error('empty'), { reason: 'empty_cart' })));
      }),
    ).toBe('empty_cart');
    expect(await reasonFrom(() => Promise.reject(Object.assign(new Error('no token'), { reason: 'no_token' })))).toBe('no_token');
    expect(await reasonFrom(() => Promise.reject(Object.assign(new Error('x'), { reason: 'Not Valid' })))).toBe('other');
    expect(await reasonFrom(() => Promise.reject(Object.assign(new Error('x'), { reason: 'aborted' })))).toBe('other');
    expect(await reasonFrom(() => Promise.reject(Object.assign(new Error('x'), { reason: 'x'.repeat(33) })))).toBe('other');
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a module may throw anything
    expect(await reasonFrom(() => Promise.reject('a string'))).toBe('other');
    expect(
      await reasonFrom(async () => {
        throw new Error('sync');
      }),
    ).toBe('other');
    // Anything thrown is data, even what cannot be printed; the first failure of each reason is logged once.
    const logger = recordingLogger();
    let k = 0;
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a module may throw anything
    const odd = probeFor({ default: () => Promise.reject([Object.create(null) as unknown, 10n, new Error('first line\nsecond')][k++ % 3]) }, {}, { logger });
    for (let i = 0; i < 6; i++) expect((await odd.execute(never)).reason).toBe('other');
    expect(logger.lines).toEqual([
      { level: 'info', msg: 'scenario execution failed (first of this reason in this run)', fields: { test: 'checkout', module: MODULE, reason: 'other', error: '{}' } },
    ]);
    // A step name becomes a reason lower-cased and cut to 32 characters.
    expect(
      await reasonFrom(async (ctx) => {
        await ctx.step('A'.repeat(40), () => Promise.reject(new Error('x')));
      }),
    ).toBe(`step_${'a'.repeat(27)}`);
  });

  it('a failed ctx.http request carries the network reason: refused outside a step, step_<name> inside one', async () => {
    const shop = await startShop();
    const closedUrl = shop.url;
    await shop.close();
    const refused = probeFor({ default: (ctx: ScenarioContext) => ctx.http.request(`${closedUrl}/x`) });
    expect(await refused.execute(never)).toMatchObject({ ok: false, reason: 'refused' });
    const inStep = probeFor({ default: (ctx: ScenarioContext) => ctx.step('login', () => ctx.http.request(`${closedUrl}/x`)) });
    expect(await inStep.execute(never)).toMatchObject({ ok: false, reason: 'step_login' });
    const creds = probeFor({ default: (ctx: ScenarioContext) => ctx.http.request('http://user:secret@127.0.0.1:1/') });
    const logger = recordingLogger();
    const credsLogged = probeFor({ default: (ctx: ScenarioContext) => ctx.http.request('http://user:secret@127.0.0.1:1/') }, {}, { logger });
    expect(await creds.execute(never)).toMatchObject({ ok: false, reason: 'other' });
    await credsLogged.execute(never);
    expect(JSON.stringify(logger.lines)).toContain('credentials in the URL are not sent');
    expect(JSON.stringify(logger.lines)).not.toContain('secret');
  });

  it('custom metrics become samples: counters add up and gauges keep the last value within an execution, timings each', async () => {
    const probe = probeFor({
      default: (ctx: ScenarioContext) => {
        ctx.count('cart_items', 3);
        ctx.count('cart_items', 2);
        ctx.count('logins');
        ctx.timing('render_ms', 12.5);
        ctx.timing('render_ms', 7);
        ctx.gauge('queue_depth', 4);
        ctx.gauge('queue_depth', 9);
      },
    });
    const result = await probe.execute(never);
    expect(result.ok).toBe(true);
    expect(result.samples).toEqual([
      { name: 'cart_items', kind: 'counter', value: 5 },
      { name: 'logins', kind: 'counter', value: 1 },
      { name: 'render_ms', kind: 'timing', value: 12.5 },
      { name: 'render_ms', kind: 'timing', value: 7 },
      { name: 'queue_depth', kind: 'gauge', value: 9 },
    ]);
    // A module without metrics gives no samples at all.
    expect((await probeFor({ default: () => undefined }).execute(never)).samples).toBeUndefined();
  });

  it('a bad metric name or value fails the execution with bad_metric, logged once per distinct name per run, never a bad path', async () => {
    const bad: [string, (ctx: ScenarioContext) => void][] = [
      ['reserved name', (ctx) => ctx.count('ok')],
      ['reserved, any case', (ctx) => ctx.timing('Latency', 1)],
      ['a dot', (ctx) => ctx.count('a.b')],
      ['a space', (ctx) => ctx.gauge('a b', 1)],
      ['empty', (ctx) => ctx.count('')],
      ['too long', (ctx) => ctx.count('x'.repeat(65))],
      ['not a string', (ctx) => ctx.count(42 as unknown as string)],
      ['NaN', (ctx) => ctx.count('n', NaN)],
      ['Infinity timing', (ctx) => ctx.timing('t', Infinity)],
      ['negative timing', (ctx) => ctx.timing('t', -1)],
      ['negative gauge', (ctx) => ctx.gauge('g', -1)],
      ['string value', (ctx) => ctx.gauge('g', '3' as unknown as number)],
      ['bad step name', (ctx) => void ctx.step('pay/now', () => undefined)],
    ];
    for (const [what, use] of bad) {
      const logger = recordingLogger();
      const probe = probeFor({ default: (ctx: ScenarioContext) => use(ctx) }, {}, { logger });
      const results = [await probe.execute(never), await probe.execute(never), await probe.execute(never)];
      expect(results.map((r) => r.reason), what).toEqual(['bad_metric', 'bad_metric', 'bad_metric']);
      for (const r of results) expect(r.samples ?? [], what).toEqual([]);
      const warnings = logger.lines.filter((l) => l.level === 'warn');
      expect(warnings, what).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/^scenario metric refused, execution counted as failed.bad_metric/);
      expect(warnings[0]!.fields).toMatchObject({ test: 'checkout', module: MODULE });
      expect(String(warnings[0]!.fields.problem)).not.toMatch(/[\n\r]/);
    }
  });

  it('a name keeps its first kind; good names still count beside a bad one; more than 100 names is bad_metric', async () => {
    const logger = recordingLogger();
    let n = 0;
    const probe = probeFor(
      {
        default: (ctx: ScenarioContext) => {
          ctx.count('items');
          if (n++ === 1) ctx.timing('items', 5);
        },
      },
      {},
      { logger },
    );
    expect(await probe.execute(never)).toEqual({ ok: true, latencyMs: expect.any(Number), samples: [{ name: 'items', kind: 'counter', value: 1 }] });
    expect(await probe.execute(never)).toMatchObject({ ok: false, reason: 'bad_metric', samples: [{ name: 'items', kind: 'counter', value: 1 }] });
    expect(logger.lines.find((l) => l.level === 'warn')?.fields.problem).toBe('"items" is already a counter in this test; use another name');

    const many = recordingLogger();
    let i = 0;
    const spender = probeFor({ default: (ctx: ScenarioContext) => ctx.count(`m${i++}`) }, {}, { logger: many });
    const results: ProbeResult[] = [];
    for (let k = 0; k < 130; k++) results.push(await spender.execute(never));
    expect(results.slice(0, 100).every((r) => r.ok)).toBe(true);
    expect(results.slice(100).every((r) => r.reason === 'bad_metric')).toBe(true);
    // Ten distinct refused names are logged, the tenth saying the rest are not.
    const warnings = many.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(10);
    expect(warnings[0]!.fields.problem).toBe('more than 100 distinct metric names in this test; "m100" refused');
    expect(warnings[9]!.msg).toContain('further refused names of this test are not logged');
  });

  it('a failed setup fails every execution of the run with reason setup, without calling the module, logged once', async () => {
    const logger = recordingLogger();
    let calls = 0;
    let teardowns = 0;
    const probe = probeFor(
      {
        setup: () => Promise.reject(new Error('login refused: 403\nstack and more')),
        default: () => void calls++,
        teardown: () => void teardowns++,
      },
      {},
      { logger },
    );
    await probe.prepare!();
    const results = await Promise.all(Array.from({ length: 4 }, () => probe.execute(never)));
    expect(results.map((r) => r.reason)).toEqual(['setup', 'setup', 'setup', 'setup']);
    expect(calls).toBe(0);
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors).toEqual([
      {
        level: 'error',
        msg: 'scenario setup failed; every execution of this test fails with reason setup until the run ends',
        fields: { test: 'checkout', module: MODULE, error: 'login refused: 403' },
      },
    ]);
    await probe.close();
    expect(teardowns).toBe(0);
  });

  it('a module that never resolves is counted timeout at the test’s timeout, its ctx.signal aborted', async () => {
    const clock = new FakeClock();
    let signal: AbortSignal | undefined;
    const probe = probeFor(
      {
        default: (ctx: ScenarioContext) => {
          signal = ctx.signal;
          return new Promise(() => undefined);
        },
      },
      { timeout: '2s' },
      { clock },
    );
    let result: ProbeResult | undefined;
    void probe.execute(never).then((r) => (result = r));
    await clock.advance(1_999);
    expect(result).toBeUndefined();
    expect(signal?.aborted).toBe(false);
    await clock.advance(1);
    expect(result).toEqual({ ok: false, latencyMs: 2_000, reason: 'timeout' });
    expect(signal?.aborted).toBe(true);
  });

  it('a hanging setup fails at the timeout: every execution then fails setup', async () => {
    const clock = new FakeClock();
    const logger = recordingLogger();
    let setupSignal: AbortSignal | undefined;
    const probe = probeFor(
      {
        setup: (ctx: SetupContext) => {
          setupSignal = ctx.signal;
          return new Promise(() => undefined);
        },
        default: () => undefined,
      },
      { timeout: '1s' },
      { clock, logger },
    );
    let prepared = false;
    void probe.prepare!().then(() => (prepared = true));
    let result: ProbeResult | undefined;
    void probe.execute(never).then((r) => (result = r));
    await clock.advance(999);
    expect(prepared).toBe(false);
    await clock.advance(1);
    expect(prepared).toBe(true);
    expect(setupSignal?.aborted).toBe(true);
    expect(result).toMatchObject({ ok: false, reason: 'setup' });
    expect(logger.lines.find((l) => l.level === 'error')?.fields.error).toBe("setup did not finish within the test's timeout (1000 ms)");
  });

  it('a run stopping mid-execution is aborted (not a failure), and so is an execution dispatched after the stop', async () => {
    const stop = new AbortController();
    let signal: AbortSignal | undefined;
    const probe = probeFor({
      default: (ctx: ScenarioContext) => {
        signal = ctx.signal;
        return new Promise(() => undefined);
      },
    });
    const pending = probe.execute(stop.signal);
    await new Promise((r) => setImmediate(r));
    stop.abort();
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    expect(signal?.aborted).toBe(true);
    expect(await probe.execute(stop.signal)).toEqual({ ok: false, latencyMs: 0, reason: 'aborted' });
  });

  it('close() runs teardown once with setup’s data, bounded by the timeout; a failing teardown is logged', async () => {
    const shop = await startShop();
    const torn: unknown[] = [];
    const probe = probeFor({
      setup: () => ({ token: 'abc' }),
      default: () => undefined,
      teardown: async (ctx: SetupContext & { data: unknown }) => {
        torn.push(ctx.data);
        await ctx.http.request(`${shop.url}/logout`, { method: 'POST' });
      },
    });
    await probe.prepare!();
    await probe.execute(never);
    await Promise.all([probe.close(), probe.close()]);
    expect(torn).toEqual([{ token: 'abc' }]);
    expect(shop.count('/logout')).toBe(1);

    const clock = new FakeClock();
    const logger = recordingLogger();
    const hanging = probeFor({ default: () => undefined, teardown: () => new Promise(() => undefined) }, { timeout: '3s' }, { clock, logger });
    await hanging.execute(never);
    let closed = false;
    void hanging.close().then(() => (closed = true));
    await clock.advance(2_999);
    expect(closed).toBe(false);
    await clock.advance(1);
    await waitFor(() => closed, 1_000);
    expect(closed).toBe(true);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([
      { level: 'warn', msg: 'scenario teardown failed', fields: { test: 'checkout', module: MODULE, error: "teardown did not finish within the test's timeout (3000 ms)" } },
    ]);

    // A probe never prepared nor executed has nothing to tear down.
    let never_ = 0;
    await probeFor({ default: () => undefined, teardown: () => void never_++ }).close();
    expect(never_).toBe(0);
  });

  it('bodies are always read to the end: sequential requests that ignore a 2 MiB body reuse one connection; text() keeps 1 MiB', async () => {
    const shop = await startShop();
    let length = 0;
    const probe = probeFor({
      default: async (ctx: ScenarioContext) => {
        await ctx.http.request(`${shop.url}/big`);
        await ctx.http.request(`${shop.url}/big`);
        const res = await ctx.http.request(`${shop.url}/big`);
        length = (await res.text()).length;
        expect(res.headers['content-length']).toBe(String(2 * 1024 * 1024));
      },
    });
    for (let i = 0; i < 3; i++) expect((await probe.execute(never)).ok).toBe(true);
    expect(shop.count('/big')).toBe(9);
    expect(shop.connections).toHaveLength(1);
    expect(length).toBe(1024 * 1024);
  });

  it('ctx.ws talks to a WebSocket server; a session left open is closed when the execution ends', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const closes: number[] = [];
    wss.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => socket.send(`echo:${data.toString('utf8')}`));
      socket.on('close', (code) => closes.push(code));
    });
    cleanup(
      () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          wss.close(() => resolve());
        }),
    );
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    let reply = '';
    const probe = probeFor({
      default: async (ctx: ScenarioContext) => {
        const session = await ctx.ws.connect(url, { headers: { 'x-probe': '1' } });
        session.send('hello');
        reply = await session.receive({ contains: 'hello' });
      },
    });
    expect(await probe.execute(never)).toMatchObject({ ok: true });
    expect(reply).toBe('echo:hello');
    expect(await waitFor(() => closes.length === 1, 2_000)).toBe(true);
    const gone = await startTarget();
    await gone.close();
    const refused = probeFor({ default: (ctx: ScenarioContext) => ctx.ws.connect(`ws://127.0.0.1:${gone.port}/`) });
    expect(await refused.execute(never)).toMatchObject({ ok: false, reason: 'refused' });
  });

  it('the shipped example (conf/types/example-login.mjs) logs in once and runs its two steps and its counter', async () => {
    const shop = await startShop();
    const ns = (await import(new URL('../../conf/types/example-login.mjs', import.meta.url).href)) as Record<string, unknown>;
    const probe = probeFor(ns, { base_url: shop.url });
    await probe.prepare!();
    const results = await Promise.all(Array.from({ length: 3 }, () => probe.execute(never)));
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.samples?.map((s) => s.name)).toEqual(['step.profile', 'step.profile.ok', 'step.cart', 'step.cart.ok', 'cart_items']);
      expect(sample(r, 'cart_items')?.value).toBe(3);
    }
    expect(shop.count('/login')).toBe(1);
    expect(shop.tokens).toEqual(['{"user":"probe"}']);
    expect([shop.count('/profile'), shop.count('/cart')]).toEqual([3, 3]);
  });
});
