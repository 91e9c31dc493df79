/** The shape of a file's status that the StrictModes check reads (a `fs.Stats` has it). */
export interface OwnerAndMode {
  uid: number;
  mode: number;
}

/**
 * StrictModes, as sshd has them: a file that decides what the agent does (the tests config, the
 * settings, a scenario module it imports and runs) must not be changeable by anyone but root and
 * the user running canihaz. Returns why `info` is unsafe, or undefined when it is safe: owned by
 * root or by the user running canihaz, and not writable by group or others (a directory with the
 * sticky bit, such as /tmp, may be writable by others: they cannot replace or remove our files in it).
 */
export function checkModes(info: OwnerAndMode, kind: 'file' | 'directory'): string | undefined {
  const uid = process.geteuid?.();
  if (uid !== undefined && info.uid !== 0 && info.uid !== uid) {
    return `is owned by uid ${info.uid}, not by root or by the user running canihaz (uid ${uid}); refused (strict_modes)`;
  }
  const sticky = kind === 'directory' && (info.mode & 0o1000) !== 0;
  if ((info.mode & 0o022) !== 0 && !sticky) {
    const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
    const who = (info.mode & 0o020) !== 0 && (info.mode & 0o002) !== 0 ? 'group and others' : (info.mode & 0o020) !== 0 ? 'group' : 'others';
    return `is writable by ${who} (mode ${mode}); refused (strict_modes): run chmod go-w on it, or set strict_modes = off`;
  }
  return undefined;
}
