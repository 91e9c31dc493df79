/**
 * A latency histogram with log-linear buckets (HdrHistogram's layout): each power-of-two octave of
 * microseconds from 1 µs to 2^32 µs is cut into `SUB_BUCKETS` equal slices, so a bucket's midpoint
 * is within 1/(2·SUB_BUCKETS) = 0.78% of every value in it. Buckets are held sparsely, so memory
 * depends on how spread the values are, never on how many were recorded.
 */

/** Linear slices per power-of-two octave; 64 keeps the relative error under 1%. */
const SUB_BUCKETS = 64;
/** Octaves of microseconds: 2^32 µs ≈ 71.6 minutes covers the 1 hour range. */
const OCTAVES = 32;
/** Largest value kept, in ms (1 hour); larger values are clamped to it. */
export const HISTOGRAM_MAX_MS = 3_600_000;
/** Smallest value resolved with ≤ 1% error, in ms (1 µs); smaller values share one bucket. */
export const HISTOGRAM_MIN_MS = 0.001;
/** Upper bound on the number of buckets one histogram can hold (one underflow bucket + octaves). */
export const HISTOGRAM_MAX_BUCKETS = 1 + OCTAVES * SUB_BUCKETS;

/** A latency distribution in milliseconds with bounded memory. */
export interface Histogram {
  /** Adds one value in ms. Negative values count as 0, values above 1 hour as 1 hour, NaN is ignored. */
  record(ms: number): void;
  /** Adds every value recorded in `other` (which must come from `createHistogram`). */
  merge(other: Histogram): void;
  /** The value below which `p` percent of the values fall (0..100), within 1%; 0 when empty. */
  percentile(p: number): number;
  /** Number of values recorded. */
  readonly count: number;
  /** Sum of the values recorded, ms. */
  readonly sum: number;
  /** Mean of the values, ms; 0 when empty. */
  readonly mean: number;
  /** Largest value recorded (exact), ms; 0 when empty. */
  readonly max: number;
  /** Smallest value recorded (exact), ms; 0 when empty. */
  readonly min: number;
  /** Number of non-empty buckets held; never above `HISTOGRAM_MAX_BUCKETS`. */
  readonly bucketCount: number;
}

/** Creates an empty histogram. */
export function createHistogram(): Histogram {
  return new LogLinearHistogram();
}

class LogLinearHistogram implements Histogram {
  #buckets = new Map<number, number>();
  #sortedIndexes: number[] | undefined;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  record(ms: number): void {
    if (Number.isNaN(ms)) return;
    const v = clamp(ms);
    const index = bucketIndex(v);
    const prev = this.#buckets.get(index);
    if (prev === undefined) this.#sortedIndexes = undefined;
    this.#buckets.set(index, (prev ?? 0) + 1);
    this.#count += 1;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  merge(other: Histogram): void {
    if (!(other instanceof LogLinearHistogram)) {
      throw new TypeError('Expected `other` to be a histogram from createHistogram()');
    }
    if (other.#count === 0) return;
    for (const [index, n] of other.#buckets) {
      const prev = this.#buckets.get(index);
      if (prev === undefined) this.#sortedIndexes = undefined;
      this.#buckets.set(index, (prev ?? 0) + n);
    }
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  percentile(p: number): number {
    if (this.#count === 0 || Number.isNaN(p)) return 0;
    if (p <= 0) return this.#min;
    if (p >= 100) return this.#max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    this.#sortedIndexes ??= [...this.#buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const index of this.#sortedIndexes) {
      seen += this.#buckets.get(index) ?? 0;
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, bucketMidpoint(index)));
    }
    return this.#max;
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
  get bucketCount(): number {
    return this.#buckets.size;
  }
}

function clamp(ms: number): number {
  if (ms <= 0) return 0;
  return ms > HISTOGRAM_MAX_MS ? HISTOGRAM_MAX_MS : ms;
}

/** 2^k for each octave k, so no power is computed per value. */
const OCTAVE_BASE: readonly number[] = Array.from({ length: OCTAVES + 1 }, (_, k) => 2 ** k);

/**
 * Bucket 0 holds values under 1 µs; bucket 1 + k·SUB_BUCKETS + s is slice s of octave [2^k, 2^(k+1)) µs.
 * Values are clamped to HISTOGRAM_MAX_MS (3.6·10^9 µs < 2^32), so the octave is the top bit of the
 * whole microseconds: 2^k ≤ us < 2^(k+1) exactly when 2^k ≤ floor(us) < 2^(k+1).
 */
function bucketIndex(ms: number): number {
  const us = ms * 1000;
  if (us < 1) return 0;
  const octave = Math.min(31 - Math.clz32(Math.floor(us)), OCTAVES - 1);
  const slice = Math.min(SUB_BUCKETS - 1, Math.floor((us / OCTAVE_BASE[octave]! - 1) * SUB_BUCKETS));
  return 1 + octave * SUB_BUCKETS + slice;
}

/** The middle of a bucket's range, in ms. */
function bucketMidpoint(index: number): number {
  if (index === 0) return 0.0005;
  const octave = Math.floor((index - 1) / SUB_BUCKETS);
  const slice = (index - 1) % SUB_BUCKETS;
  const base = OCTAVE_BASE[octave]!;
  return (base * (1 + (slice + 0.5) / SUB_BUCKETS)) / 1000;
}
