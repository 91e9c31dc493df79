import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { FSWatcher } from 'chokidar';
import { withDeadline, type Cancel, type Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** How long after the last file event the config is re-read (editors and Puppet write in bursts). */
export const CONFIG_DEBOUNCE_MS = 50;
/** Longest wait for the directory watch to be ready before the run goes on without it. */
const READY_TIMEOUT_MS = 1_000;
/** How often the config is re-checked by `stat`, beside the watch, in case an event is missed. */
export const CONFIG_POLL_MS = 1_000;

/** What the config watcher needs. */
export interface ConfigWatchOptions {
  /** The config path: a file, or a directory of config files; need not exist yet. */
  path: string;
  /** Which file names in a config directory are part of the config (e.g. `*.conf`, not hidden). */
  isConfigFile: (name: string) => boolean;
  /** Called (debounced) whenever the config may have changed. */
  onChange: () => void;
  logger: Logger;
  /** Times the debounce, the wait for the watch to be ready and the `stat` re-check. */
  clock: Clock;
  debounceMs?: number;
  pollMs?: number;
}

/** A running watch on the config. */
export interface ConfigWatch {
  close(): Promise<void>;
}

/**
 * A cheap fingerprint of what is at `path`: identity, size and mtime of the file, or of every
 * config file (as `isConfigFile` tells) in the directory. Any rename-replace, edit, creation or
 * removal changes it.
 */
export async function configSignature(path: string, isConfigFile: (name: string) => boolean): Promise<string> {
  try {
    const s = await stat(path);
    if (!s.isDirectory()) return `f:${s.ino}:${s.size}:${s.mtimeMs}`;
    const names = (await readdir(path)).filter(isConfigFile).sort();
    const parts = await Promise.all(
      names.map(async (n) => {
        try {
          const f = await stat(join(path, n));
          return `${n}:${f.ino}:${f.size}:${f.mtimeMs}`;
        } catch {
          return `${n}:gone`;
        }
      }),
    );
    return `d:${parts.join('|')}`;
  } catch (err) {
    return `x:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/**
 * Watches the config with chokidar on its parent directory (Puppet and Chef replace files by
 * rename, editors write temporary files beside them), debounced, plus a `stat` re-check every
 * `pollMs` for an event the watch loses and for when the watch cannot be had (no parent directory
 * yet, a watch error, the directory gone). Resolves once the watch is set up and the starting
 * signature is taken, so a change made after it resolves is never missed.
 */
export async function watchConfig(options: ConfigWatchOptions): Promise<ConfigWatch> {
  const target = resolve(options.path);
  const parent = dirname(target);
  const { clock } = options;
  const debounceMs = options.debounceMs ?? CONFIG_DEBOUNCE_MS;
  let signature = await configSignature(target, options.isConfigFile);
  let debounce: Cancel | undefined;
  let closed = false;

  const fire = () => {
    if (closed) return;
    debounce?.();
    debounce = clock.after(debounceMs, () => {
      debounce = undefined;
      void configSignature(target, options.isConfigFile).then((now) => {
        signature = now;
        if (!closed) options.onChange();
      });
    });
  };

  let stopPolling: Cancel | undefined;
  const startPolling = () => {
    if (closed || stopPolling) return;
    stopPolling = clock.every(
      options.pollMs ?? CONFIG_POLL_MS,
      () =>
        void configSignature(target, options.isConfigFile).then((now) => {
          if (now !== signature && !debounce) {
            signature = now;
            if (!closed) options.onChange();
          }
        }),
      { unref: true },
    );
  };

  // Relevant: the config path itself, or a config file directly inside it when it is a directory.
  const relevant = (p: string) => p === target || (dirname(p) === target && options.isConfigFile(basename(p)));
  let watcher: FSWatcher | undefined;
  try {
    await stat(parent);
    // chokidar (and the modules it needs) is loaded here, when a run starts following its config.
    const { watch } = await import('chokidar');
    watcher = watch(parent, {
      ignoreInitial: true,
      depth: 1,
      persistent: false,
      ignored: (p: string) => p !== parent && p !== target && !relevant(p),
    });
    watcher.on('all', (event, p) => {
      const path = resolve(p);
      if (relevant(path)) fire();
      // The directory itself gone: its watch sees nothing more; the stat check takes over.
      if (event === 'unlinkDir' && path === parent) startPolling();
    });
    watcher.on('error', (err) => {
      options.logger.debug('config watch error; the stat check takes over', { error: String(err) });
      startPolling();
    });
    // Events before 'ready' are not seen; wait for it (bounded: a scan that is slower is polled for).
    const ready = watcher;
    await withDeadline(clock, new Promise<boolean>((resolve) => ready.once('ready', () => resolve(true))), READY_TIMEOUT_MS, false);
  } catch (err) {
    options.logger.debug('config watch unavailable; the stat check stands in', { error: String(err) });
  }
  // The stat check runs beside a healthy watch too: an inotify event can be lost (seen on Node 26
  // under load: an edit made a few hundred ms after 'ready' never arrived), and "a written config
  // starts load within a second" must not depend on it. One stat a second costs ~3 ms of CPU a minute.
  startPolling();

  return {
    async close() {
      closed = true;
      stopPolling?.();
      debounce?.();
      await watcher?.close().catch(() => undefined);
    },
  };
}
