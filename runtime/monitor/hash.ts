import { createHash } from 'node:crypto';
import { constants, promises as fsp, type Stats } from 'node:fs';
import type { MonitorEntry } from './entry.ts';

/** Read size per step: memory stays at this however big the file. */
const CHUNK_BYTES = 64 * 1024;

/**
 * SHA-256 and stat of one file, read in chunks on the thread pool. Opened without following a
 * symlink and without blocking (a file swapped for a FIFO since the walk must not hang the
 * check); anything but a regular file at open time counts as unreadable.
 */
export async function hashFile(path: string, buffer: Buffer = Buffer.allocUnsafe(CHUNK_BYTES)): Promise<MonitorEntry> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return unreadable(path, await fsp.lstat(path).catch(() => null), (err as NodeJS.ErrnoException).code ?? String(err));
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return unreadable(path, st, 'not a regular file');
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { path, sha256: hash.digest('hex'), size, ...statFields(st) };
  } catch (err) {
    return unreadable(path, await fh.stat().catch(() => null), (err as NodeJS.ErrnoException).code ?? String(err));
  } finally {
    await fh.close().catch(() => {});
  }
}

function statFields(st: Stats): Pick<MonitorEntry, 'mode' | 'uid' | 'gid' | 'mtime'> {
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime.toISOString() };
}

function unreadable(path: string, st: Stats | null, error: string): MonitorEntry {
  if (st === null) return { path, sha256: null, size: 0, mode: 0, uid: -1, gid: -1, mtime: new Date(0).toISOString(), error };
  return { path, sha256: null, size: st.size, ...statFields(st), error };
}
