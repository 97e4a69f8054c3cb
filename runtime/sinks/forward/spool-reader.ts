import { promises as fsp, readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { nextPiece } from '../../format/split.ts';
import { errnoCode } from '../../errors.ts';
import { openReadOnlyOrNull } from '../../paths.ts';
import type { Logger } from '../../log.ts';
import { asideFilesOf, compareRotation, rotationIdOf } from '../../rotation/names.ts';
import { HEAD_BYTES, headDigest, type ForwardPosition } from './position.ts';

/**
 * Reads the local encrypted log as a spool: whole OpenPGP messages from a byte position on,
 * never a message still being written. It follows rotation: a log renamed aside is read to its
 * end, then the next aside file, then the live log from its start. It needs no key: it moves
 * ciphertext.
 */
export interface SpoolMessage {
  readonly bytes: Buffer;
  readonly armored: boolean;
}

export interface SpoolChunk {
  readonly messages: readonly SpoolMessage[];
  /** Offset after the last whole message (or skipped torn piece) of this chunk. */
  readonly endOffset: number;
  /** Torn or foreign bytes stepped over (a copy killed mid-write, then restarted). */
  readonly skippedBytes: number;
}

interface OpenFile {
  readonly handle: fsp.FileHandle;
  readonly dev: number;
  readonly ino: number;
  /** The name it had when found; a live log later renamed aside keeps the log's name here. */
  readonly name: string;
  offset: number;
}

/** Bytes read at once; doubled (up to the max) while one message does not fit. */
const READ_BYTES = 4 * 1024 * 1024;
const MAX_READ_BYTES = 64 * 1024 * 1024;

export class SpoolReader {
  private cur: OpenFile | null = null;

  constructor(
    private readonly logPath: string,
    private readonly log: Logger,
  ) {}

  /** The file being read, by its current name if it can be told, for messages. */
  get currentName(): string | null {
    return this.cur?.name ?? null;
  }

  /**
   * Finds the file of a saved position among the aside files and the live log. Returns false
   * when the position names a file that is gone: reading starts at the oldest file then.
   */
  async open(position: ForwardPosition | null): Promise<boolean> {
    const files = this.chain();
    if (position !== null) {
      for (const name of files) {
        const found = await this.tryOpen(name);
        if (found === null) continue;
        if (found.dev === position.dev && found.ino === position.ino && (await this.headOf(found.handle, position.headBytes)) === position.head) {
          found.offset = position.offset;
          this.cur = found;
          return true;
        }
        await found.handle.close();
      }
    }
    const first = files[0];
    if (first !== undefined) this.cur = await this.tryOpen(first);
    return position === null;
  }

  /** Whole messages after the current position, up to about `maxBytes`; null when none yet. */
  async next(maxBytes: number): Promise<SpoolChunk | null> {
    for (let guard = 0; guard < 1000; guard += 1) {
      if (this.cur === null) {
        const first = this.chain()[0];
        if (first === undefined) return null;
        this.cur = await this.tryOpen(first);
        if (this.cur === null) return null;
      }
      const cur = this.cur;
      const size = (await cur.handle.stat()).size;
      if (size < cur.offset) {
        // The appender cut a failed batch back to its start, a message boundary; its retry writes
        // the same messages again. Go back there: what is sent twice is dropped by the far side.
        this.log.warn('FORWARD_LOG_SHRANK', `${basename(cur.name)} is ${size} bytes, shorter than the position ${cur.offset}; reading on from its end`);
        cur.offset = size;
      }
      if (size > cur.offset) {
        const chunk = await this.readChunk(cur, size, maxBytes);
        if (chunk !== null) return chunk;
      }
      if (await this.isLive(cur)) return null;
      // Renamed aside (or away): nothing is appended to it any more. A last append may have
      // landed between the size check and the rename: look once more before leaving it.
      if ((await cur.handle.stat()).size > size) continue;
      if (size > cur.offset) {
        this.log.warn('FORWARD_TORN_TAIL', `${basename(cur.name)} ends in ${size - cur.offset} bytes that are no whole message (a copy killed mid-write); not forwarded`);
      }
      if (!(await this.advance())) return null;
    }
    return null;
  }

  /** The position after `chunk`, to save once the far side has it. */
  async commit(chunk: SpoolChunk): Promise<ForwardPosition> {
    if (this.cur === null) throw new Error('commit without an open file');
    this.cur.offset = chunk.endOffset;
    return this.position();
  }

  async position(): Promise<ForwardPosition> {
    const cur = this.cur;
    if (cur === null) throw new Error('no file open');
    const headBytes = Math.min(HEAD_BYTES, (await cur.handle.stat()).size);
    return { dev: cur.dev, ino: cur.ino, head: await this.headOf(cur.handle, headBytes), headBytes, offset: cur.offset };
  }

  get opened(): boolean {
    return this.cur !== null;
  }

  /**
   * True once this reader is past `aside`: rotation may remove or rename it. The order of files
   * is the aside files by rotation id, then the live log.
   */
  async doneWith(aside: string): Promise<boolean> {
    const cur = this.cur;
    if (cur === null) return false;
    const st = await fsp.lstat(aside).catch(() => null);
    if (st === null) return true;
    if (st.ino === cur.ino && st.dev === cur.dev) return false;
    if (await this.isLive(cur)) return true;
    const curId = rotationIdOf(await this.nameOf(cur));
    const asideId = rotationIdOf(aside);
    return curId !== null && asideId !== null && compareRotation(asideId, curId) < 0;
  }

  async close(): Promise<void> {
    await this.cur?.handle.close().catch(() => {});
    this.cur = null;
  }

  /** Aside files oldest first, then the live log. */
  private chain(): string[] {
    let names: string[];
    try {
      names = readdirSync(dirname(this.logPath));
    } catch {
      return [];
    }
    return [...asideFilesOf(this.logPath, names), ...(names.includes(basename(this.logPath)) ? [this.logPath] : [])];
  }

  private async readChunk(cur: OpenFile, size: number, maxBytes: number): Promise<SpoolChunk | null> {
    for (let want = READ_BYTES; ; want *= 2) {
      const length = Math.min(size - cur.offset, want);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await cur.handle.read(buf, 0, length, cur.offset);
      const view = buf.subarray(0, bytesRead);
      const messages: SpoolMessage[] = [];
      let taken = 0;
      let skipped = 0;
      let pos = 0;
      let total = 0;
      for (let piece = nextPiece(view, 0); piece !== null && total < maxBytes; piece = nextPiece(view, pos)) {
        // A piece reaching the end of what was read may be a message still being written.
        if (piece.kind !== 'message' && piece.end >= view.length) break;
        if (piece.kind === 'message') {
          const bytes = Buffer.from(view.subarray(piece.offset, piece.end));
          messages.push({ bytes, armored: piece.armored });
          total += bytes.length;
        } else {
          skipped += piece.end - piece.offset;
          this.log.warn('FORWARD_SKIPPED', `${piece.end - piece.offset} bytes at offset ${cur.offset + piece.offset} of ${basename(cur.name)} are no whole message (${piece.reason}); not forwarded`);
        }
        pos = piece.end;
        taken = pos;
      }
      if (taken > 0) return { messages, endOffset: cur.offset + taken, skippedBytes: skipped };
      // Nothing whole: either the tail is still being written, or one message is bigger than
      // what was read.
      if (cur.offset + bytesRead >= size || want >= MAX_READ_BYTES) return null;
    }
  }

  private async isLive(cur: OpenFile): Promise<boolean> {
    const st = await fsp.lstat(this.logPath).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return null;
      throw err;
    });
    return st !== null && st.ino === cur.ino && st.dev === cur.dev;
  }

  /** The current name of an open file: found among the aside files by its inode. */
  private async nameOf(file: OpenFile): Promise<string> {
    for (const name of this.chain()) {
      const st = await fsp.lstat(name).catch(() => null);
      if (st !== null && st.ino === file.ino && st.dev === file.dev) return name;
    }
    return file.name;
  }

  /** Moves on to the file after the current one; false when there is none yet. */
  private async advance(): Promise<boolean> {
    const cur = this.cur as OpenFile;
    const files = this.chain();
    const stats = await Promise.all(files.map((f) => fsp.lstat(f).catch(() => null)));
    const at = stats.findIndex((st) => st !== null && st.ino === cur.ino && st.dev === cur.dev);
    let next: string | undefined;
    if (at >= 0) {
      next = files[at + 1];
    } else {
      // Gone from the chain (moved elsewhere by hand, or removed): the first file after its
      // old name, or the live log.
      const curId = rotationIdOf(cur.name);
      next = files.find((f) => {
        const id = rotationIdOf(f);
        return f === this.logPath || (curId !== null && id !== null && compareRotation(id, curId) > 0);
      });
    }
    if (next === undefined) return false;
    const opened = await this.tryOpen(next);
    if (opened === null) return false;
    await cur.handle.close().catch(() => {});
    this.cur = opened;
    this.log.info('FORWARD_NEXT_FILE', `finished ${basename(cur.name)}; now reading ${basename(next)}`);
    return true;
  }

  private async tryOpen(name: string): Promise<OpenFile | null> {
    const handle = await openReadOnlyOrNull(name);
    if (handle === null) return null;
    const st = await handle.stat();
    return { handle, dev: st.dev, ino: st.ino, name, offset: 0 };
  }

  private async headOf(handle: fsp.FileHandle, bytes: number): Promise<string> {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return headDigest(buf.subarray(0, bytesRead));
  }
}
