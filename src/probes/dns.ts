/**
 * The `dns` probe type: one query per execution, through c-ares (`dns.promises.Resolver`, one per
 * test) to `server=` or the system's resolv.conf servers; never `dns.lookup`, which queues on
 * libuv's four-thread pool and cannot be abandoned. Its fields are in dns-params.ts.
 */
import dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import type { Clock } from '../clock.js';
import type { FailureReason, ProbeResult } from '../events.js';
import type { Logger } from '../log.js';
import { answerText, DEFAULT_DNS_CONCURRENCY, parseDnsParams, type DnsProbeOptions, type DnsRecordType } from './dns-params.js';
import type { Probe, ProbeContext, ProbeType } from './probe.js';

/** c-ares' error codes and the reasons they are counted as; any other code is `other`. */
const REASONS: ReadonlyMap<string, FailureReason> = new Map([
  ['ENOTFOUND', 'nxdomain'],
  ['ENODATA', 'nodata'],
  ['ESERVFAIL', 'servfail'],
  ['EREFUSED', 'refused'],
  // Nothing listens on the server's port (ICMP port unreachable): refused as by TCP.
  ['ECONNREFUSED', 'refused'],
  ['ETIMEOUT', 'timeout'],
  ['ECANCELLED', 'aborted'],
  ['EDESTRUCTION', 'aborted'],
]);

/** Extra time c-ares gives a query beyond the execution's own timeout, ms, so the execution's timer decides. */
const QUERY_GRACE_MS = 100;

/** One query's raw answers by record type, as Node's Resolver returns them. */
function query(resolver: dns.Resolver, type: DnsRecordType, name: string): Promise<readonly unknown[]> {
  switch (type) {
    case 'A':
      return resolver.resolve4(name);
    case 'AAAA':
      return resolver.resolve6(name);
    case 'CNAME':
      return resolver.resolveCname(name);
    case 'MX':
      return resolver.resolveMx(name);
    case 'TXT':
      return resolver.resolveTxt(name);
    case 'SRV':
      return resolver.resolveSrv(name);
    case 'NS':
      return resolver.resolveNs(name);
  }
}

/**
 * A dns probe. Its executions share one c-ares channel, and `cancel()` fails *every* query of a
 * channel, so an execution that times out is not cancelled: it returns `timeout` at its own timer
 * and leaves its query to end under c-ares' own per-try timeout (one try, slightly longer). The
 * channel is cancelled only at close() and when the run's signal aborts with no other run's
 * executions in flight (a stop aborts every execution anyway).
 */
class DnsProbe implements Probe {
  readonly #options: DnsProbeOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #test: string;
  readonly #resolver: dns.Resolver;
  /** What each execution in flight does when its caller's signal aborts, by signal: one listener per signal. */
  readonly #inFlight = new Map<AbortSignal, Set<() => void>>();
  /** The listener on each signal, removed at close() so a long-lived signal does not keep a closed probe. */
  readonly #listeners = new Map<AbortSignal, () => void>();
  #closed = false;

  constructor(options: DnsProbeOptions, context: ProbeContext) {
    this.#options = options;
    this.#clock = context.clock;
    this.#logger = context.logger;
    this.#test = context.test;
    this.#resolver = new dns.Resolver({ timeout: options.timeoutMs + QUERY_GRACE_MS, tries: 1 });
    if (options.server) this.#resolver.setServers([options.server]);
  }

  async execute(signal: AbortSignal): Promise<ProbeResult> {
    const clock = this.#clock;
    const started = clock.now();
    if (signal.aborted || this.#closed) return { ok: false, latencyMs: 0, reason: 'aborted' };
    let gaveUp!: (reason: 'aborted' | 'timeout') => void;
    const stopped = new Promise<'aborted' | 'timeout'>((resolve) => (gaveUp = resolve));
    const onAbort = () => gaveUp('aborted');
    const waiters = this.#waitersOf(signal);
    waiters.add(onAbort);
    const cancelTimer = clock.after(this.#options.timeoutMs, () => gaveUp('timeout'));
    try {
      const outcome = await Promise.race([this.#ask(), stopped]);
      const latencyMs = clock.now() - started;
      if (typeof outcome === 'string') return { ok: false, latencyMs, reason: outcome };
      if ('code' in outcome) {
        const reason = REASONS.get(outcome.code) ?? 'other';
        if (reason === 'other' || reason === 'refused') this.#logger.debug('dns query failed', { test: this.#test, code: outcome.code });
        return { ok: false, latencyMs, reason: signal.aborted ? 'aborted' : reason };
      }
      if (outcome.answers.length === 0) return { ok: false, latencyMs, reason: 'nodata' };
      const expected = this.#options.expect;
      if (expected === undefined) return { ok: true, latencyMs };
      const texts = outcome.answers.map((a) => answerText(this.#options.type, a));
      if (texts.includes(expected)) return { ok: true, latencyMs };
      this.#logger.debug('dns answers did not include expect', { test: this.#test, answers: texts.slice(0, 5).join(' ').slice(0, 200) });
      return { ok: false, latencyMs, reason: 'mismatch' };
    } finally {
      cancelTimer();
      waiters.delete(onAbort);
    }
  }

  /** The query's answers or its error code; never rejects, so a query left running fails quietly. */
  async #ask(): Promise<{ answers: readonly unknown[] } | { code: string }> {
    try {
      return { answers: await query(this.#resolver, this.#options.type, this.#options.name) };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { code: typeof code === 'string' ? code : 'EOTHER' };
    }
  }

  /** The waiters of `signal`, listening on it once per probe (not once per execution). */
  #waitersOf(signal: AbortSignal): Set<() => void> {
    let waiters = this.#inFlight.get(signal);
    if (!waiters) {
      const set = new Set<() => void>();
      waiters = set;
      this.#inFlight.set(signal, set);
      const onAbort = () => {
        this.#inFlight.delete(signal);
        this.#listeners.delete(signal);
        for (const f of [...set]) f();
        // Cancelling would also fail executions of another signal still running.
        if (![...this.#inFlight.values()].some((other) => other.size > 0)) this.#resolver.cancel();
      };
      this.#listeners.set(signal, onAbort);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return waiters;
  }

  /** Abandons every query still running (they fail as cancelled); called once the executions have settled. */
  close(): Promise<void> {
    this.#closed = true;
    for (const [signal, onAbort] of this.#listeners) signal.removeEventListener('abort', onAbort);
    this.#listeners.clear();
    this.#inFlight.clear();
    this.#resolver.cancel();
    return Promise.resolve();
  }
}

let warmedUp: Promise<void> | undefined;

/**
 * Warms the query path (c-ares' first socket, the JIT) with a few queries to a throwaway responder
 * of our own on 127.0.0.1 that answers NXDOMAIN, so the first real execution does not pay 4-9 ms
 * more than the next. Sends nothing to any target; once per process; bounded by its own timeout.
 */
function warmUpDns(context: Pick<ProbeContext, 'clock' | 'logger'>): Promise<void> {
  warmedUp ??= (async () => {
    const socket = dgram.createSocket('udp4');
    socket.on('error', () => {});
    socket.on('message', (query, from) => {
      if (query.length < 12) return;
      const reply = Buffer.from(query);
      reply[2] = 0x80 | (query[2]! & 0x79); // QR, with the query's opcode and RD
      reply[3] = 0x80 | 3; // RA, NXDOMAIN
      socket.send(reply, from.port, from.address);
    });
    try {
      await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(0, '127.0.0.1', resolve));
      const server = `127.0.0.1:${socket.address().port}`;
      const probe = createDnsProbe({ name: 'warm-up.invalid', type: 'A', server, expect: undefined, timeoutMs: 500 }, { ...context, test: 'warm-up' });
      const signal = new AbortController().signal;
      try {
        for (let i = 0; i < 5; i++) if ((await probe.execute(signal)).reason === 'timeout') break;
      } finally {
        await probe.close();
      }
    } catch {
      // A warm-up that fails costs only a slower first execution.
    } finally {
      socket.close();
    }
  })();
  return warmedUp;
}

/** Builds a dns probe from validated options, timed on `context.clock`. */
export function createDnsProbe(options: DnsProbeOptions, context: ProbeContext): Probe {
  return new DnsProbe(options, context);
}

/** The `dns` probe type. */
export const dnsProbeType: ProbeType<DnsProbeOptions> = {
  name: 'dns',
  defaultConcurrency: DEFAULT_DNS_CONCURRENCY,
  parse: parseDnsParams,
  create: createDnsProbe,
  prepare: warmUpDns,
};
