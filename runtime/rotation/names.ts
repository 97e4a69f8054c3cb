import { basename, dirname, join } from 'node:path';
import { lstatOrNull } from '../paths.ts';

/**
 * File names of a rotation, all derived from the log path, a UTC stamp and a counter:
 *
 *   <log>.<stamp>.<n>.aside            renamed aside, its rotation not finished (restart resumes it)
 *   <log>.<stamp>.<n>.aside.mailed     the encrypted e-mail went out (not sent twice after a crash)
 *   <log>.<stamp>.<n>                  rotated and kept (no remove-old)
 *   <archive dir>/<log name>.<stamp>.<n>.gz.gpg       the archive
 *   <archive dir>/.<log name>.<stamp>.<n>.gz.gpg.tmp  an archive being written
 *
 * Names sort in rotation order by (stamp, n): the decrypter relies on that. The stamp is UTC
 * to the millisecond, e.g. 20261122T070509.123Z.
 */
export interface RotationId {
  readonly stamp: string;
  readonly counter: number;
}

const STAMP = '\\d{8}T\\d{6}\\.\\d{3}Z';
const ID_AT_END = new RegExp(`\\.(${STAMP})\\.(\\d+)(?:\\.aside|\\.gz\\.gpg)?$`);
const ASIDE_SUFFIX = new RegExp(`^\\.${STAMP}\\.\\d+\\.aside$`);

/** UTC, to the millisecond (a restarted copy never shares a stamp with the run before it). */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

export function asidePath(log: string, id: RotationId): string {
  return `${log}.${id.stamp}.${id.counter}.aside`;
}

export function keptPath(log: string, id: RotationId): string {
  return `${log}.${id.stamp}.${id.counter}`;
}

export function archivePath(archiveDir: string, log: string, id: RotationId): string {
  return join(archiveDir, `${basename(log)}.${id.stamp}.${id.counter}.gz.gpg`);
}

export function mailedMarker(aside: string): string {
  return `${aside}.mailed`;
}

export function rotationIdOf(path: string): RotationId | null {
  const m = ID_AT_END.exec(path);
  return m ? { stamp: m[1] as string, counter: Number(m[2]) } : null;
}

export function compareRotation(a: RotationId, b: RotationId): number {
  return a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.counter - b.counter;
}

/** Aside files of this log left by an earlier run, oldest first. */
export function asideFilesOf(log: string, names: readonly string[]): string[] {
  const prefix = `${basename(log)}.`;
  return names
    .filter((n) => n.startsWith(prefix) && ASIDE_SUFFIX.test(n.slice(prefix.length - 1)))
    .map((n) => join(dirname(log), n))
    .sort((a, b) => compareRotation(rotationIdOf(a)!, rotationIdOf(b)!));
}

/**
 * The id of the next rotation. It must sort after every rotation before it, or the decrypter
 * would put blocks out of order: after `last` (this run's previous one) and after every rotation
 * file of this log still on disk (an earlier run's, in the log dir or the archive dir), even if
 * the clock went back. Normally that is simply (now, 1).
 */
export function nextRotationId(log: string, archiveDir: string | null, date: Date, last: RotationId | null, listDir: (dir: string) => string[]): RotationId {
  const prefix = `${basename(log)}.`;
  let newest = last;
  for (const dir of [dirname(log), ...(archiveDir === null ? [] : [archiveDir])]) {
    for (const name of listDir(dir)) {
      const id = name.startsWith(prefix) ? rotationIdOf(name) : null;
      if (id !== null && name.slice(prefix.length).startsWith(`${id.stamp}.`) && (newest === null || compareRotation(id, newest) > 0)) newest = id;
    }
  }
  const stamp = utcStamp(date);
  let next = newest !== null && newest.stamp >= stamp ? { stamp: newest.stamp, counter: newest.counter + 1 } : { stamp, counter: 1 };
  while ([asidePath(log, next), keptPath(log, next), ...(archiveDir === null ? [] : [archivePath(archiveDir, log, next)])].some((p) => lstatOrNull(p) !== null)) {
    next = { stamp: next.stamp, counter: next.counter + 1 };
  }
  return next;
}
