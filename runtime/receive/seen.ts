import { nextPiece } from '../format/split.ts';
import { openReadOnlyOrNull } from '../paths.ts';
import { messageId } from '../sinks/forward/message-id.ts';

/**
 * Ids (SHA-256) of messages a collector file already holds, to drop a message sent again after
 * a reconnect. A sender repeats at most its last unconfirmed batch (1 MiB), so the newest
 * messages are the ones that matter: the set is filled from the file's last `TAIL_BYTES` at
 * start and keeps the newest `MAX_IDS`. A repeat older than that is still dropped at decryption,
 * by its (stream, sequence) pair.
 */
export const SEEN_LIMITS = { tailBytes: 64 * 1024 * 1024, maxIds: 200_000 } as const;

export class SeenMessages {
  private readonly ids = new Set<string>();

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > SEEN_LIMITS.maxIds) {
      const oldest = this.ids.values().next().value as string;
      this.ids.delete(oldest);
    }
  }

  /** Reads the ids of the whole messages in the last part of `path` (none when it is missing). */
  static async fromFileTail(path: string): Promise<SeenMessages> {
    const seen = new SeenMessages();
    const handle = await openReadOnlyOrNull(path);
    if (handle === null) return seen;
    try {
      const size = (await handle.stat()).size;
      const start = Math.max(0, size - SEEN_LIMITS.tailBytes);
      const buf = Buffer.alloc(size - start);
      const { bytesRead } = await handle.read(buf, 0, buf.length, start);
      const view = buf.subarray(0, bytesRead);
      // Starting mid-file, the first piece may be the end of a message: it is not one, and the
      // walk goes on at the next message start.
      for (let piece = nextPiece(view, 0); piece !== null; piece = nextPiece(view, piece.end)) {
        if (piece.kind === 'message') seen.add(messageId(view.subarray(piece.offset, piece.end)));
      }
    } finally {
      await handle.close();
    }
    return seen;
  }
}
