import type { RunAs } from './baked.ts';
import { PipesError, refusal } from './errors.ts';
import type { Logger } from './log.ts';

/**
 * Drops to the baked run-as user once the pipe and the output are open, before any byte is read.
 * Order matters: supplementary groups and gid first, while still root; uid last.
 */
export function dropPrivileges(runAs: RunAs, log: Logger): void {
  const uid = process.getuid?.();
  if (uid === undefined) return; // not POSIX; paranoid-pipes only supports Linux, kept for typing
  if (uid !== 0) {
    if (uid !== runAs.uid) {
      throw refusal(
        'RUN_AS_MISMATCH',
        `started as uid ${uid}, but this copy is baked to run as ${runAs.label} (${runAs.uid}); start it as root or as that user`,
      );
    }
    return;
  }
  if (runAs.uid === 0) {
    log.warn('RUN_AS_ROOT', 'baked run-as user is root: keeping root privileges while reading the pipe');
    return;
  }
  const groups = runAs.groups.length > 0 ? [...runAs.groups] : [runAs.gid];
  process.setgroups?.(groups);
  process.setgid?.(runAs.gid);
  process.setuid?.(runAs.uid);
  const now = { uid: process.getuid?.(), euid: process.geteuid?.(), gid: process.getgid?.(), egid: process.getegid?.() };
  if (now.uid !== runAs.uid || now.euid !== runAs.uid || now.gid !== runAs.gid || now.egid !== runAs.gid) {
    throw new PipesError('PRIVILEGE_DROP', `could not drop privileges to ${runAs.label}: now ${JSON.stringify(now)}`);
  }
  log.info('PRIVILEGES_DROPPED', `running as ${runAs.label} (${runAs.uid}:${runAs.gid}), groups ${groups.join(',')}`);
}
