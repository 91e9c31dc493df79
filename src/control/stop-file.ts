import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Cancel, Clock } from '../clock.js';

/** How often a copy polls for the stop file while it cannot watch its directory (no directory yet, no inotify). */
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
 * Calls `onStop` once when the stop file appears, through an inotify watch on its parent directory,
 * which costs nothing while nothing happens there. While that watch cannot be had (the directory does
 * not exist yet, no inotify) or once it is lost (the directory was removed or replaced: each event
 * checks the directory is still the one watched), the file is polled every `intervalMs` instead,
 * and the watch tried again at each poll.
 */
export function watchStopFile(options: { path: string; onStop: () => void; clock: Clock; intervalMs?: number }): StopFileWatch {
  let closed = false;
  let timer: Cancel | undefined;
  let watcher: FSWatcher | undefined;
  const parent = dirname(options.path);
  const name = basename(options.path);
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
  const lost = () => {
    watcher?.close();
    watcher = undefined;
    if (!closed && timer === undefined) void poll();
  };
  /** The watch, when the directory is there to watch; the directory's identity, to tell when it is replaced. */
  const startWatch = async () => {
    let identity: string;
    try {
      const s = await stat(parent);
      if (closed) return false;
      identity = `${s.dev}:${s.ino}`;
      watcher = watch(parent, { persistent: false }, (_event, file) => {
        if (file === null || file === name) void check();
        // A directory removed or renamed away tells its watch nothing more: check it is still there.
        void stat(parent).then(
          (now) => (`${now.dev}:${now.ino}` === identity ? undefined : lost()),
          () => lost(),
        );
      });
      watcher.on('error', lost);
      return true;
    } catch {
      watcher = undefined;
      return false;
    }
  };
  let polling = false;
  const poll = async () => {
    if (polling || closed) return;
    polling = true;
    timer = undefined;
    try {
      await check();
      if (closed) return;
      if (await startWatch()) {
        // Watching from here on; one more look covers a file made before the watch began.
        await check();
        return;
      }
      if (!closed) timer = options.clock.after(options.intervalMs ?? STOP_FILE_POLL_MS, () => void poll());
    } finally {
      polling = false;
    }
  };
  void poll();
  return { close };
}
