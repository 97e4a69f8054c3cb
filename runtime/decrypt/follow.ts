import { promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `--follow` on a log file, as `tail -F` does it: by path. The file is read to its end, then
 * polled; when another file appears at the path (the copy rotated: its log renamed aside and a
 * fresh one created), what is left of the old file is read and its reader ends, so the caller
 * finishes it and opens the new one.
 *
 * Plain polling with a bounded interval rather than inotify (fs.watch): it behaves the same on
 * every file system (NFS, overlay, a bind mount in a container), cannot miss a rename between
 * two events or run out of watches, and costs one fstat/stat every interval. A line is printed
 * at most POLL_INTERVAL_MS after its block reached the log.
 */
export const POLL_INTERVAL_MS = 200;
/** How much is read at once from a followed file. */
const FOLLOW_CHUNK = 4 * 1024 * 1024;

/** Thrown by a reader when the admin stopped the follow (SIGINT, SIGTERM). */
export class FollowStopped extends Error {
  constructor() {
    super('follow stopped');
    this.name = 'FollowStopped';
  }
}

export interface FollowedFile {
  /** The reader's `read`: the next bytes, waiting for them; null once the file was rotated away. */
  readonly read: () => Promise<Buffer | null>;
  readonly close: () => Promise<void>;
}

/** Waits (polling) until `path` exists and opens it; throws FollowStopped when stopped first. */
export async function openFollowed(path: string, signal: AbortSignal, onWait: () => void): Promise<FollowedFile> {
  let waited = false;
  for (;;) {
    if (signal.aborted) throw new FollowStopped();
    const handle = await fsp.open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      return null;
    });
    if (handle !== null) return followHandle(handle, path, signal);
    if (!waited) onWait();
    waited = true;
    await pause(signal);
  }
}

function followHandle(handle: fsp.FileHandle, path: string, signal: AbortSignal): FollowedFile {
  let position = 0;
  let identity: { dev: number; ino: number } | null = null;
  let ending = false; // a new file is at the path: read the old one to its end, then stop
  const readSome = async (): Promise<Buffer | null> => {
    const chunk = Buffer.allocUnsafe(FOLLOW_CHUNK);
    const { bytesRead } = await handle.read(chunk, 0, FOLLOW_CHUNK, position);
    position += bytesRead;
    return bytesRead === 0 ? null : chunk.subarray(0, bytesRead);
  };
  const read = async (): Promise<Buffer | null> => {
    if (identity === null) {
      const st = await handle.stat();
      identity = { dev: st.dev, ino: st.ino };
    }
    const self: { dev: number; ino: number } = identity;
    for (;;) {
      if (signal.aborted) throw new FollowStopped();
      const chunk = await readSome();
      if (chunk !== null) return chunk;
      if (ending) return null;
      const now = await fsp.stat(path).catch(() => null); // missing for a moment during a rotation
      if (now !== null && (now.ino !== self.ino || now.dev !== self.dev)) {
        // The copy writes its last block to the old file before it creates the new one; one
        // more interval lets an append already under way land before the old file is ended.
        ending = true;
        await pause(signal);
        continue;
      }
      if (now !== null && now.size < position) position = 0; // truncated in place: read it again
      await pause(signal);
    }
  };
  return { read, close: () => handle.close() };
}

async function pause(signal: AbortSignal): Promise<void> {
  await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => {
    throw new FollowStopped();
  });
}
