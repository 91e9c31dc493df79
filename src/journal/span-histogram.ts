/**
 * A summing form of the journal's latency histogram for readers that merge many records: the encoded
 * buckets of each record are added straight into one typed array covering only the span of buckets
 * seen (no per-record decode into a map), with count, sum and exact min and max. Same layout,
 * same validation and same percentiles as `JournalHistogram` (histogram.ts): a record it would refuse
 * to decode adds nothing here either.
 */
import { JOURNAL_HISTOGRAM_BUCKETS, type EncodedHistogram } from './histogram.js';
import type { Distribution } from './records.js';

/** Linear slices per power-of-two octave (as histogram.ts). */
const SUB_BUCKETS = 64;

/** A mergeable latency distribution in ms, added to from encoded histograms. */
export class SpanHistogram {
  #lo = 0;
  #counts: Float64Array = new Float64Array(0);
  count = 0;
  sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Adds an encoded histogram; returns false (adding nothing) when `JournalHistogram.decode` would refuse it. */
  addEncoded(value: unknown): boolean {
    const span = validSpan(value);
    if (!span) return false;
    const { n, sum, min, max, b } = value as EncodedHistogram;
    if (n === 0) return true;
    this.#reserve(span[0], span[1]);
    const counts = this.#counts;
    let index = b[0]! - this.#lo;
    for (let i = 1; i < b.length; i++) {
      const x = b[i]!;
      if (x < 0) index -= x;
      else counts[index++]! += x;
    }
    this.count += n;
    this.sum += sum;
    if (min < this.#min) this.#min = min;
    if (max > this.#max) this.#max = max;
    return true;
  }

  get max(): number {
    return this.count === 0 ? 0 : this.#max;
  }

  /** As `JournalHistogram.percentiles`: the midpoint of the bucket holding rank ⌈p·n/100⌉, kept within [min, max]; 0 when empty. */
  percentiles(ps: readonly number[]): number[] {
    const out = ps.map((p) => (this.count === 0 || Number.isNaN(p) ? 0 : p <= 0 ? this.#min : p >= 100 ? this.#max : NaN));
    const pending = ps
      .map((p, i) => ({ i, rank: Math.max(1, Math.ceil((p / 100) * this.count)) }))
      .filter(({ i }) => Number.isNaN(out[i]!))
      .sort((a, b) => a.rank - b.rank);
    let next = 0;
    let seen = 0;
    const counts = this.#counts;
    for (let k = 0; k < counts.length && next < pending.length; k++) {
      if (counts[k] === 0) continue;
      seen += counts[k]!;
      while (next < pending.length && seen >= pending[next]!.rank) {
        out[pending[next]!.i] = Math.min(this.#max, Math.max(this.#min, bucketMidpoint(this.#lo + k)));
        next += 1;
      }
    }
    for (; next < pending.length; next++) out[pending[next]!.i] = this.#max;
    return out;
  }

  /** Grows the covered span to include buckets [first, last]. */
  #reserve(first: number, last: number): void {
    const hi = this.#lo + this.#counts.length - 1;
    if (this.#counts.length > 0 && first >= this.#lo && last <= hi) return;
    const lo = this.#counts.length === 0 ? first : Math.min(first, this.#lo);
    const top = this.#counts.length === 0 ? last : Math.max(last, hi);
    const grown = new Float64Array(top - lo + 1);
    if (this.#counts.length > 0) grown.set(this.#counts, this.#lo - lo);
    this.#lo = lo;
    this.#counts = grown;
  }
}

/** A distribution as `distributionOf` (intervals.ts) gives it for a `JournalHistogram` of the same values. */
export function spanDistribution(h: SpanHistogram): Distribution {
  const [p50, p90, p99] = h.percentiles([50, 90, 99]);
  return { mean: round3(h.count === 0 ? 0 : h.sum / h.count), p50: round3(p50!), p90: round3(p90!), p99: round3(p99!), max: round3(h.max) };
}

export function round3(n: number): number {
  return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : 0;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The first and last bucket index of a histogram `JournalHistogram.decode` accepts ([0, -1] when empty); undefined otherwise. */
function validSpan(value: unknown): [number, number] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { n, sum, min, max, b } = value as Partial<EncodedHistogram>;
  if (!isCount(n) || !isMs(sum) || !isMs(min) || !isMs(max) || !Array.isArray(b)) return undefined;
  let index = -1;
  let total = 0;
  let first = -1;
  let last = -1;
  for (let i = 0; i < b.length; i++) {
    const x: unknown = b[i];
    if (typeof x !== 'number' || !Number.isSafeInteger(x)) return undefined;
    if (i === 0) {
      if (x < 0) return undefined;
      index = x;
      continue;
    }
    if (x < 0) {
      index -= x;
      continue;
    }
    if (x === 0 || index >= JOURNAL_HISTOGRAM_BUCKETS) return undefined;
    if (first < 0) first = index;
    last = index;
    total += x;
    index += 1;
  }
  if (total !== n || (n > 0 && min > max)) return undefined;
  return n === 0 ? [0, -1] : [first, last];
}

/** The middle of a bucket's range, in ms (as histogram.ts). */
function bucketMidpoint(index: number): number {
  if (index === 0) return 0.0005;
  const octave = Math.floor((index - 1) / SUB_BUCKETS);
  const slice = (index - 1) % SUB_BUCKETS;
  return (2 ** octave * (1 + (slice + 0.5) / SUB_BUCKETS)) / 1000;
}
