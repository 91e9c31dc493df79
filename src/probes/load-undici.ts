/**
 * undici, loaded when the first pool or WebSocket session needs it rather than with the config
 * parser: a copy that only parses the config (`check`, or a `run` that finds every lock slot busy)
 * never pays its ~60 ms.
 */
import { createRequire } from 'node:module';

let undiciModule: typeof import('undici') | undefined;

/** The undici module, required on the first call. */
export function undici(): typeof import('undici') {
  return (undiciModule ??= createRequire(import.meta.url)('undici') as typeof import('undici'));
}
