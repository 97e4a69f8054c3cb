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
 * Names sort in rotation order by (stamp, n): the decrypter relies on that.
 */
export interface RotationId {
  readonly stamp: string;
  readonly counter: number;
}

const ID_AT_END = /\.(\d{8}T\d{6}Z)\.(\d+)(?:\.aside|\.gz\.gpg)?$/;

export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
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
    .filter((n) => n.startsWith(prefix) && n.endsWith('.aside') && rotationIdOf(n) !== null && /^\.\d{8}T\d{6}Z\.\d+\.aside$/.test(n.slice(prefix.length - 1)))
    .map((n) => join(dirname(log), n))
    .sort((a, b) => compareRotation(rotationIdOf(a)!, rotationIdOf(b)!));
}

/** The next free id for this stamp: no aside, kept file or archive may already carry it. */
export function nextRotationId(log: string, archiveDir: string | null, date: Date, after: number): RotationId {
  const stamp = utcStamp(date);
  for (let counter = after + 1; ; counter += 1) {
    const id = { stamp, counter };
    const taken = [asidePath(log, id), keptPath(log, id), ...(archiveDir === null ? [] : [archivePath(archiveDir, log, id)])].some((p) => lstatOrNull(p) !== null);
    if (!taken) return id;
  }
}
