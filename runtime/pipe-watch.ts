import { renameSync } from 'node:fs';
import type { OpenedFifo } from './fifo.ts';
import { describeFileType, lstatOrNull } from './paths.ts';

/**
 * Why the pipe path no longer names the FIFO the copy reads, or null when it still does.
 * Deleted, a plain file put in its place (writers would log into it in the clear), a symlink, or
 * another FIFO (someone else may read it): each is a reason to put our own pipe back.
 */
export function pipeChange(path: string, reading: OpenedFifo): string | null {
  const st = lstatOrNull(path);
  if (st === null) return `${path} was deleted`;
  if (st.dev === reading.dev && st.ino === reading.ino) return null;
  return `${path} was replaced by ${st.isFIFO() ? 'another named pipe' : describeFileType(st)}`;
}

/**
 * Moves whatever now sits at the pipe path out of the way, keeping it as evidence (it may hold
 * lines written in the clear, or be a trap) under a name that says what happened. Returns the
 * new name, or null when nothing was there.
 */
export function moveIntruderAside(path: string, now: Date): string | null {
  if (lstatOrNull(path) === null) return null;
  const aside = `${path}.replaced-${now.toISOString().replace(/[-:]/g, '')}-${process.pid}`;
  renameSync(path, aside);
  return aside;
}
