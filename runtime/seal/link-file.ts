import { constants, promises as fsp } from 'node:fs';
import type { BakedPath } from '../baked.ts';
import { errnoCode } from '../errors.ts';
import type { StreamLink } from '../metadata.ts';

/**
 * The small state file beside the log (`<log>.seal`) that links each stream to the one before it:
 * at a clean stop the copy writes where its stream ended (stream id, last sequence number, last
 * tag); the next start reads it and puts it, sealed, into its stream-start block. `verify` then
 * checks that consecutive streams on the log meet, so a stream removed between two others shows.
 *
 * Tags are not secret (knowing one does not help make another), so the file holds nothing an
 * intruder could use. It is opened once, before privileges are dropped, without following a
 * symlink, and must be a regular file with one link and the log's owner: anything else is
 * refused with a warning, and the stream starts unlinked (which `verify` reports).
 */
export interface LinkFile {
  /** What the file said at start: null when it was absent, empty or unreadable. */
  readonly previous: StreamLink | null;
  /** Replaces the content with where this stream ended, durably. */
  write(link: StreamLink): Promise<void>;
  close(): Promise<void>;
}

export const LINK_FILE_SUFFIX = '.seal';
/** Far more than one JSON link needs: a bigger file is not ours. */
const MAX_LINK_BYTES = 4096;

export function linkFilePath(logPath: string): string {
  return `${logPath}${LINK_FILE_SUFFIX}`;
}

/** Owner and group as the log's; the owner may read and write it (the copy reads it back at start). */
function linkMode(output: BakedPath): number {
  return (output.mode | 0o600) & 0o666;
}

export async function openLinkFile(output: BakedPath, warn: (why: string) => void): Promise<LinkFile | null> {
  const path = linkFilePath(output.path);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, linkMode(output));
  } catch (err) {
    warn(`cannot open ${path}: ${errnoCode(err) ?? String(err)}; this stream starts without a link to the one before`);
    return null;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.nlink !== 1) throw new Error(`not a regular file with one link`);
    if (st.size === 0) {
      // Just made (or left empty): give it the log's owner and mode.
      await handle.chown(output.owner.uid, output.owner.gid).catch(() => {});
      await handle.chmod(linkMode(output));
    } else if (st.uid !== output.owner.uid && st.uid !== process.geteuid?.()) {
      throw new Error(`owned by ${st.uid}, expected ${output.owner.uid}`);
    }
    const previous = st.size > MAX_LINK_BYTES ? null : parseLink(await readAll(handle, st.size));
    if (st.size > 0 && previous === null) warn(`${path} does not hold a stream link; this stream starts without one`);
    return {
      previous,
      async write(link) {
        const bytes = Buffer.from(`${JSON.stringify(link)}\n`, 'utf8');
        await handle.truncate(0);
        await handle.write(bytes, 0, bytes.length, 0);
        await handle.datasync();
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close().catch(() => {});
    warn(`refusing ${path}: ${(err as Error).message}; this stream starts without a link to the one before`);
    return null;
  }
}

async function readAll(handle: fsp.FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  const { bytesRead } = await handle.read(buf, 0, size, 0);
  return buf.subarray(0, bytesRead);
}

export function parseLink(bytes: Buffer): StreamLink | null {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Partial<StreamLink>;
    if (typeof v.streamId === 'string' && /^[0-9a-f]{32}$/.test(v.streamId) && Number.isSafeInteger(v.lastSeq) && typeof v.lastTag === 'string' && /^[0-9a-f]{32}$/.test(v.lastTag)) {
      return { streamId: v.streamId, lastSeq: v.lastSeq as number, lastTag: v.lastTag };
    }
  } catch {
    // not JSON: reported by the caller
  }
  return null;
}
