import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Cancel, Clock } from '../clock.js';

/** How often a running copy also polls for the stop file, in case a file event is missed. */
export const STOP_FILE_POLL_MS = 100;

/** True when something exists at `path` (a file, a directory, anything an operator touched). */
export async function stopFileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    // ENOENT and ENOTDIR mean "not there"; anything else (EACCES on the parent) we cannot see
    // through, so we run: a stop file we cannot see cannot be the operator's intent.
    return false;
  }
}

/** A running watch for the stop file. */
export interface StopFileWatch {
  close(): void;
}

/**
 * Calls `onStop` once when the stop file appears: at once through an inotify watch on its parent
 * directory, and within `intervalMs` through polling when that watch is unavailable or misses it.
 */
export function watchStopFile(options: { path: string; onStop: () => void; clock: Clock; intervalMs?: number }): StopFileWatch {
  let closed = false;
  let timer: Cancel | undefined;
  let watcher: FSWatcher | undefined;
  const close = () => {
    closed = true;
    timer?.();
    watcher?.close();
  };
  const check = async () => {
    if (closed) return;
    if ((await stopFileExists(options.path)) && !closed) {
      close();
      options.onStop();
    }
  };
  const name = basename(options.path);
  try {
    watcher = watch(dirname(options.path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) void check();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    // No parent directory (yet) or no inotify: polling alone still finds the file.
  }
  const poll = async () => {
    await check();
    if (!closed) timer = options.clock.after(options.intervalMs ?? STOP_FILE_POLL_MS, () => void poll());
  };
  // Look once at once: the file may have appeared before the directory watch began.
  void poll();
  return { close };
}
