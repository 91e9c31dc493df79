/**
 * The journal's latency histogram: the same log-linear layout as the live sinks' histogram
 * (metrics/histogram.ts: each power-of-two octave of microseconds from 1 µs to 2^32 µs cut into 64
 * equal slices, so a bucket's midpoint is within 1/128 = 0.78 % of every value in it), but whose
 * buckets can be written out and read back, so intervals merge into hours and days losslessly. A
 * percentile of merged histograms is the percentile of all their values, within that 0.78 %.
 */

/** Linear slices per power-of-two octave (as metrics/histogram.ts). */
const SUB_BUCKETS = 64;
/** Octaves of microseconds: 2^32 µs ≈ 71.6 minutes. */
const OCTAVES = 32;
/** Largest value kept, ms (1 hour); larger values are clamped to it. */
const MAX_MS = 3_600_000;
/** One past the largest bucket index. */
export const JOURNAL_HISTOGRAM_BUCKETS = 1 + OCTAVES * SUB_BUCKETS;
/** Relative error of a percentile: half a slice of an octave. */
export const JOURNAL_HISTOGRAM_RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);

/**
 * A histogram as a journal record holds it: count, sum, exact min and max (ms), and the buckets,
 * run-length coded: `b[0]` is the first non-empty bucket's index; then each positive number is the
 * count of the next bucket, and a negative number `-g` skips `g` empty buckets.
 */
export interface EncodedHistogram {
  n: number;
  sum: number;
  min: number;
  max: number;
  b: number[];
}

/** A mergeable latency distribution in ms that encodes to `EncodedHistogram`. */
export class JournalHistogram {
  #buckets = new Map<number, number>();
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Adds one value in ms: negative counts as 0, above 1 hour as 1 hour, NaN is ignored. */
  record(ms: number): void {
    if (Number.isNaN(ms)) return;
    const v = ms <= 0 ? 0 : ms > MAX_MS ? MAX_MS : ms;
    const index = bucketIndex(v);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count += 1;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** Adds every value of `other`. */
  merge(other: JournalHistogram): void {
    if (other.#count === 0) return;
    for (const [index, n] of other.#buckets) this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + n);
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  /**
   * The value at or below which `p` percent of the values fall (0..100), as metrics/histogram.ts
   * computes it: the midpoint of the bucket holding rank ⌈p·n/100⌉, kept within [min, max]; 0 when empty.
   */
  percentile(p: number): number {
    return this.percentiles([p])[0]!;
  }

  /** Several percentiles in one pass over the buckets (`ps` ascending is fastest, any order is right). */
  percentiles(ps: readonly number[]): number[] {
    const out = ps.map((p) => (this.#count === 0 || Number.isNaN(p) ? 0 : p <= 0 ? this.#min : p >= 100 ? this.#max : NaN));
    const pending = ps
      .map((p, i) => ({ i, rank: Math.max(1, Math.ceil((p / 100) * this.#count)) }))
      .filter(({ i }) => Number.isNaN(out[i]!))
      .sort((a, b) => a.rank - b.rank);
    if (pending.length === 0) return out;
    let next = 0;
    let seen = 0;
    for (const index of [...this.#buckets.keys()].sort((a, b) => a - b)) {
      seen += this.#buckets.get(index) ?? 0;
      while (next < pending.length && seen >= pending[next]!.rank) {
        out[pending[next]!.i] = Math.min(this.#max, Math.max(this.#min, bucketMidpoint(index)));
        next += 1;
      }
      if (next === pending.length) return out;
    }
    for (; next < pending.length; next++) out[pending[next]!.i] = this.#max;
    return out;
  }

  get count(): number {
    return this.#count;
  }
  get sum(): number {
    return this.#sum;
  }
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }
  get max(): number {
    return this.#count === 0 ? 0 : this.#max;
  }
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** The record form; sum, min and max rounded to 1 µs. */
  encode(): EncodedHistogram {
    const indexes = [...this.#buckets.keys()].sort((a, b) => a - b);
    const b: number[] = [];
    let next = 0;
    for (const index of indexes) {
      if (b.length === 0) b.push(index);
      else if (index > next) b.push(next - index);
      b.push(this.#buckets.get(index) ?? 0);
      next = index + 1;
    }
    return { n: this.#count, sum: micro(this.#sum), min: micro(this.min), max: micro(this.max), b };
  }

  /** Reads the record form back; undefined when it is not one (a damaged or foreign record). */
  static decode(value: unknown): JournalHistogram | undefined {
    if (typeof value !== 'object' || value === null) return undefined;
    const { n, sum, min, max, b } = value as Partial<EncodedHistogram>;
    if (!isCount(n) || !isMs(sum) || !isMs(min) || !isMs(max) || !Array.isArray(b)) return undefined;
    const h = new JournalHistogram();
    let index = -1;
    let total = 0;
    for (let i = 0; i < b.length; i++) {
      const x = b[i];
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
      h.#buckets.set(index, x);
      total += x;
      index += 1;
    }
    if (total !== n || (n > 0 && min > max)) return undefined;
    h.#count = n;
    h.#sum = sum;
    if (n > 0) {
      h.#min = min;
      h.#max = max;
    }
    return h;
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Rounded to 3 decimals of a ms. */
function micro(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Bucket 0 holds values under 1 µs; bucket 1 + k·SUB_BUCKETS + s is slice s of octave [2^k, 2^(k+1)) µs. */
function bucketIndex(ms: number): number {
  const us = ms * 1000;
  if (us < 1) return 0;
  let octave = Math.floor(Math.log2(us));
  // Math.log2 may round across a power of two; settle on the octave that really holds `us`.
  if (2 ** octave > us) octave -= 1;
  else if (2 ** (octave + 1) <= us) octave += 1;
  octave = Math.min(octave, OCTAVES - 1);
  const slice = Math.min(SUB_BUCKETS - 1, Math.floor((us / 2 ** octave - 1) * SUB_BUCKETS));
  return 1 + octave * SUB_BUCKETS + slice;
}

/** The middle of a bucket's range, in ms. */
function bucketMidpoint(index: number): number {
  if (index === 0) return 0.0005;
  const octave = Math.floor((index - 1) / SUB_BUCKETS);
  const slice = (index - 1) % SUB_BUCKETS;
  return (2 ** octave * (1 + (slice + 0.5) / SUB_BUCKETS)) / 1000;
}
