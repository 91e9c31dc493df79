/**
 * V8 flags for a process that lives a minute at most, set by the entry before the program is compiled
 * (a compile cache is accepted only under the flags it was made with, so they never change after).
 * Each was measured (README, Benchmark; 2 cores, Node 20, `/usr/bin/time`, medians of runs) and kept
 * only because it helped without hurting a busy run:
 *
 * - `--liftoff-only`: undici's HTTP parser is WebAssembly; V8 compiles it at once with its baseline
 *   compiler (Liftoff) and then again, hot functions, with TurboFan on background threads. A copy
 *   lives too short for that to pay: a 1 s run cost 0.21 CPU-s with it and 0.14 without; at
 *   60,000/min for 5 s, 1.27 CPU-s and 100 MB peak RSS became 1.25 CPU-s and 82 MB.
 * - `--semi-space-growth-factor=1`: the young generation stays at its first size instead of doubling
 *   up to 16 MB a half under load; at 60,000/min, 82 MB peak RSS became 71 MB at the same CPU (1.28 s).
 * - `--no-memory-reducer-for-small-heaps`: V8 shrinks a small heap with full collections 8 s after
 *   start (two mark-compacts, about 12 ms, in every quiet run); the heap is freed at exit anyway.
 *
 * - `--max-inlined-bytecode-size-cumulative=460` (half of V8's 920): at 300,000/min for 5 s, TurboFan on
 *   its four background threads took 60 % of the copy's CPU (`perf record`: 430 functions optimized,
 *   2.3 s of compile by `--trace-opt`) and the copy's CPU swung from 1.3 to 3.4 s run to run; with the
 *   smaller inlining budget the same runs cost 1.41–1.55 CPU-s (3 runs, each rate) and 60,000/min for
 *   5 s 1.35–1.45 → 1.03–1.07 (`node rig.mjs`, the README's Benchmark section). 230 measured the same;
 *   `--no-opt` 2.0–2.1 s at 300,000/min (the code runs slower); `--interrupt-budget` ×4–×32 1.8–2.1 s.
 *
 * Tried and left out: `--min-semi-space-size=4` (was here until 2026-11-23: set at run time it does not
 * size the young generation, which V8 sets up before the entry runs — `v8.getHeapSpaceStatistics()`
 * shows a 1 MB new space at start either way, 4 MB only when the flag is on node's command line; cold
 * start 128–133 ms with it and 130–136 without, two alternating runs of 9), `--min-semi-space-size=8`
 * (measured as dearer, 0.26 CPU-s for a 1 s run against 0.21: noise, as it had no effect either),
 * `--max-semi-space-size=4` (no change), `--no-memory-reducer` (read only at start: no effect here),
 * `--single-threaded-gc` (no change).
 */

/** The flags, in the order they are set. */
export const V8_FLAGS: readonly string[] = [
  '--liftoff-only',
  '--semi-space-growth-factor=1',
  '--no-memory-reducer-for-small-heaps',
  '--max-inlined-bytecode-size-cumulative=460',
];

/** Sets V8_FLAGS; once, before anything else is compiled. */
export function tuneV8(): void {
  // Not imported: the entry, an ES module, would pay a module facade for it (see compile-cache.ts).
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
}
