/**
 * What the StatsD and Graphite sinks share to reach their servers: the host resolved with failures
 * warned about, a reconnect backoff, a warning limiter and a bounded line queue. The TCP line
 * connection built on them is `tcp-link.ts`.
 */
import type { Cancel, Clock } from '../clock.js';
import { fdLimitCode, limitHit } from '../limits.js';
import type { Logger } from '../log.js';
import type { HostResolver } from '../net/resolve.js';

/** Least time between two warnings of one kind, ms. */
export const WARN_EVERY_MS = 10_000;
/** First and largest wait before resolving or connecting again, ms. */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5_000;
/** A socket that has taken nothing for this long means the server is not reading: a stop does not wait for it, ms. */
export const STALLED_AFTER_MS = 1_000;

/** Says yes at most once per `everyMs` of the clock. */
export class WarnLimiter {
  #clock: Clock;
  #everyMs: number;
  #last = -Infinity;

  constructor(clock: Clock, everyMs = WARN_EVERY_MS) {
    this.#clock = clock;
    this.#everyMs = everyMs;
  }

  /** True, and a new interval starts, when a warning may be said now. */
  ready(): boolean {
    const now = this.#clock.now();
    if (now - this.#last < this.#everyMs) return false;
    this.#last = now;
    return true;
  }
}

/**
 * Lines a sink lost, counted; `add` also warns, at most once per `WARN_EVERY_MS`, with how many were
 * lost since the last warning (`dropped`) and in all (`total_dropped`).
 */
export class DroppedLines {
  #limiter: WarnLimiter;
  #logger: Logger;
  #message: string;
  #destination: string;
  #total = 0;
  #sinceWarn = 0;

  constructor(clock: Clock, logger: Logger, message: string, destination: string) {
    this.#limiter = new WarnLimiter(clock);
    this.#logger = logger;
    this.#message = message;
    this.#destination = destination;
  }

  /** Lines lost so far. */
  get total(): number {
    return this.#total;
  }

  /** Counts `lines` without a warning of its own (what the sink sums up at stop). */
  count(lines: number): void {
    if (lines > 0) this.#total += lines;
  }

  /** Counts `lines` and warns (rate-limited), `fields` after the destination. */
  add(lines: number, fields: Record<string, unknown> = {}): void {
    if (lines <= 0) return;
    this.#total += lines;
    this.#sinceWarn += lines;
    if (!this.#limiter.ready()) return;
    this.#logger.warn(this.#message, { destination: this.#destination, ...fields, dropped: this.#sinceWarn, total_dropped: this.#total });
    this.#sinceWarn = 0;
  }
}

/** How a sink warns about a socket or resolution error. */
export interface ErrorWarnerOptions {
  clock: Clock;
  logger: Logger;
  /** The warning's message, e.g. `statsd send failed`. */
  message: string;
  /** Where the fd limit was hit, e.g. `statsd socket`. */
  where: string;
  /** The destination's key, logged with each warning. */
  destination: string;
  /** More fields for the warning, given how many errors were not warned about since the last one. */
  fields?(suppressed: number): Record<string, unknown>;
}

/** A warner of errors at most once per `WARN_EVERY_MS` that never throws; the fd limit is always reported. */
export function createErrorWarner(options: ErrorWarnerOptions): (err: unknown) => void {
  const limiter = new WarnLimiter(options.clock);
  let suppressed = 0;
  return (err) => {
    const code = fdLimitCode(err);
    if (code) limitHit(code, { where: options.where, destination: options.destination });
    try {
      if (!limiter.ready()) {
        suppressed += 1;
        return;
      }
      const e = err as { message?: unknown; code?: unknown } | undefined;
      options.logger.warn(options.message, {
        destination: options.destination,
        error: String(e?.message ?? err),
        code: typeof e?.code === 'string' ? e.code : undefined,
        ...options.fields?.(suppressed),
      });
      suppressed = 0;
    } catch {
      // Reporting must never take the agent down.
    }
  };
}

/** A host's address, or the error to warn about (none when the lookup was cancelled at stop). */
export type Resolution = { ok: true; address: string; family: 4 | 6 } | { ok: false; error: unknown };

/** Resolves `host`, turning a failure or a rejection into the error a sink warns about before it retries. */
export async function resolveHost(resolver: HostResolver, host: string): Promise<Resolution> {
  try {
    const resolved = await resolver.resolve(host);
    if (resolved.ok) return resolved;
    if (resolved.code === 'ECANCELLED') return { ok: false, error: undefined };
    return { ok: false, error: Object.assign(new Error(`cannot resolve ${host}: ${resolved.message}`), { code: resolved.code }) };
  } catch (err) {
    return { ok: false, error: err };
  }
}

/** Retries after a backoff that doubles from `RECONNECT_MIN_MS` to `RECONNECT_MAX_MS`, on an unref'd timer. */
export class Backoff {
  #clock: Clock;
  #resetAfterMs: number;
  #waitMs = RECONNECT_MIN_MS;
  #cancel: Cancel | undefined;

  /** `resetAfterMs`: a connection that lived this long before failing starts the backoff over. */
  constructor(clock: Clock, resetAfterMs = Infinity) {
    this.#clock = clock;
    this.#resetAfterMs = resetAfterMs;
  }

  /** True while a retry waits. */
  get pending(): boolean {
    return this.#cancel !== undefined;
  }

  /** Calls `retry` after the next wait, unless one already waits; `sinceMono` is when what failed began. */
  schedule(retry: () => void, sinceMono = this.#clock.now()): void {
    if (this.#cancel) return;
    if (this.#clock.now() - sinceMono >= this.#resetAfterMs) this.reset();
    const wait = this.#waitMs;
    this.#waitMs = Math.min(this.#waitMs * 2, RECONNECT_MAX_MS);
    this.#cancel = this.#clock.after(
      wait,
      () => {
        this.#cancel = undefined;
        retry();
      },
      { unref: true },
    );
  }

  /** The next wait is the first one again. */
  reset(): void {
    this.#waitMs = RECONNECT_MIN_MS;
  }

  /** Drops the waiting retry. */
  cancel(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }
}

/** Who waits (a stop) until a sink has nothing left to send. */
export class IdleWaiters {
  #isIdle: () => boolean;
  #waiters: (() => void)[] = [];

  constructor(isIdle: () => boolean) {
    this.#isIdle = isIdle;
  }

  /** Resolves once the sink is idle (at once if it is now). */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.settle();
    });
  }

  /** Wakes the waiters if the sink is idle now; call it whenever something was sent or dropped. */
  settle(): void {
    if (this.#waiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** A FIFO of lines with a length bound that drops from the front (the oldest) when exceeded. */
export class LineQueue {
  #items: string[] = [];
  #head = 0;
  #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends lines; returns how many of the oldest were dropped to stay within the limit. */
  push(lines: readonly string[]): number {
    for (const line of lines) this.#items.push(line);
    return this.#trim();
  }

  /** Puts lines back in front (they are the oldest); returns how many were dropped. */
  unshift(lines: readonly string[]): number {
    this.#items = [...lines, ...this.#items.slice(this.#head)];
    this.#head = 0;
    return this.#trim();
  }

  /** Removes and returns up to `n` lines from the front. */
  shift(n: number): string[] {
    const out = this.#items.slice(this.#head, this.#head + n);
    this.#head += out.length;
    this.#compact();
    return out;
  }

  #trim(): number {
    const over = Math.max(0, this.length - this.#limit);
    this.#head += over;
    this.#compact();
    return over;
  }

  /** Reclaims the space before `#head` once it is most of the array. */
  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
