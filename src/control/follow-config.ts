/**
 * Following the config through a run: a watch (debounced events plus a periodic re-check, see
 * watch.ts), the first read once the watch is set up, and re-reads one at a time, each handed on in
 * order. Knows nothing of the config's format: the caller reads it and acts on it.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { watchConfig } from './watch.js';

/** What following the config needs. */
export interface FollowConfigOptions<T> {
  /** The config path: a file, or a directory of config files; need not exist yet. */
  path: string;
  /** Which file names in a config directory are part of the config. */
  isConfigFile: (name: string) => boolean;
  logger: Logger;
  /** Times the watch's debounce and re-check. */
  clock: Clock;
  /** Reads (and validates) the config; must not throw. */
  load(): Promise<T>;
  /** Takes one re-read config; never called again before the previous call has settled. */
  reload(loaded: T): Promise<void>;
  /** Once aborted, a change seen during a reload no longer starts another. */
  signal: AbortSignal;
  debounceMs?: number;
  pollMs?: number;
}

/** The config being followed. */
export interface ConfigFollower<T> {
  /** The config as first read, after the watch was set up: a change made after that read is never missed. */
  readonly initial: T;
  /** Starts handing on re-reads; a change seen before this call is re-read at once. */
  follow(): void;
  /** Stops watching, then waits for a re-read under way. */
  close(): Promise<void>;
}

/** Watches the config, then reads it; re-reads follow changes once `follow()` is called. */
export async function followConfig<T>(options: FollowConfigOptions<T>): Promise<ConfigFollower<T>> {
  let following = false;
  // Re-reads run one at a time; a change during one (or before `follow()`) triggers one more.
  let reloading: Promise<void> | undefined;
  let again = false;
  const onChange = () => {
    if (reloading || !following) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        await options.reload(await options.load());
      } while (again && !options.signal.aborted);
    })().finally(() => (reloading = undefined));
  };

  // Watch first, then read: a change made after the read is never missed.
  const watch = await watchConfig({
    path: options.path,
    isConfigFile: options.isConfigFile,
    logger: options.logger,
    clock: options.clock,
    onChange,
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
  const initial = await options.load();
  return {
    initial,
    follow() {
      following = true;
      if (again) onChange();
    },
    async close() {
      await watch.close();
      await reloading;
    },
  };
}
