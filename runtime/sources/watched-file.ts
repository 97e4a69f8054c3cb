import { closeSync, fstatSync, ftruncateSync, readSync } from 'node:fs';
import { Framer } from '../framer.ts';
import type { BlockOrigin } from '../writer.ts';
import { TAIL_BYTES, tailHash, type PositionMark } from './positions.ts';
import type { Source } from './source.ts';

/** One read: small enough to stay cheap, large enough that a backlog goes quickly. */
const READ_CHUNK = 64 * 1024;
/** Bytes one poll (or one pull) reads at most per file: memory stays bounded whatever the backlog. */
export const MAX_READ_PER_TURN = 1024 * 1024;
/**
 * A last line without its newline waits this long for the rest: a file's writer may be slow, and
 * the next start can read the line whole. After that it is logged as it is (its writer may have
 * died mid-line), and what follows continues it, as for the pipe.
 */
const PARTIAL_LINE_WAIT_MS = 30_000;

export interface OpenedFile {
  readonly fd: number;
  readonly dev: number;
  readonly ino: number;
  /** Where the file was found (a rotated one: its new name). */
  readonly path: string;
}

/**
 * One open watched file, read from an offset on, by descriptor: a rename does not stop it (it
 * reads on in the rotated file), and the group (file-watch.ts) decides when it is done. A
 * partial last line waits in the framer for its newline (PARTIAL_LINE_WAIT_MS); at stop it stays
 * in the file and the next start reads it whole.
 */
export class WatchedFile implements Source {
  readonly framer: Framer;
  /** Bytes read from the file so far, counted from 0. */
  private readAt: number;
  /** Bytes of the file in blocks handed to the session. */
  private framedAt: number;
  /** The last bytes framed, for the tail hash of a position. */
  private recent: Buffer;
  /** The last bytes read, for finding a truncated file's copy. */
  private lastRead: Buffer;
  private deliver: ((chunk: Buffer) => void) | null = null;
  private paused = false;
  private reading = true;
  private closed = false;
  /** Set when the group reads this file for the last time (rotated away or gone): a partial line is then final. */
  finishing = false;
  /** Last time a read found new bytes, for deciding a rotated-away file is quiet. */
  lastGrowthAt = Date.now();
  /** The last read reached the end of the file. */
  atEnd = false;
  /** The last read stopped at its bound with more to read. */
  behind = false;
  /** A predecessor (the rotated file of the same path) whose rest must be read first. */
  after: WatchedFile | null = null;

  constructor(
    readonly id: string,
    public file: OpenedFile,
    offset: number,
    recent: Buffer,
    /** The position store's key for this reader. */
    readonly key: number,
    maxBlockBytes: number,
  ) {
    this.readAt = offset;
    this.framedAt = offset;
    this.recent = recent;
    this.lastRead = recent;
    // No quit string: a file is not a control channel.
    this.framer = new Framer({ maxBlockBytes, partialLineWaitMs: PARTIAL_LINE_WAIT_MS, quitString: null });
  }

  /** Read to its end and closed, or being finished and at its end. */
  get done(): boolean {
    return this.closed || (this.finishing && this.atEnd);
  }

  /** The hash of the last TAIL_BYTES read (positions.ts tailHashAt gives the same for the file). */
  get tailHash(): string {
    return tailHash(this.lastRead);
  }

  get offset(): number {
    return this.readAt;
  }

  /** Every byte read is in a block handed to the session (none waits in the framer). */
  get allFramed(): boolean {
    return this.framedAt === this.readAt;
  }

  onChunk(deliver: ((chunk: Buffer) => void) | null): void {
    this.deliver = deliver;
  }

  onFailure(): void {
    // Read errors surface in poll() and are reported by the group.
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Reads what is new (bounded) and hands it on; the group calls it on its timer. */
  poll(): number {
    if (this.paused || this.deliver === null) return 0;
    const deliver = this.deliver;
    return this.read(deliver);
  }

  /**
   * What is new, within the session's bound (the room left in --max-buffer) and never while
   * reading is paused: unlike a pipe, the file itself holds what is not read yet.
   */
  pullEverything(take: (chunk: Buffer) => void, maxBytes = Number.POSITIVE_INFINITY): number {
    if (this.paused || maxBytes <= 0) return 0;
    return this.read(take, maxBytes);
  }

  /** The file's size now: less than what was read means it was truncated. */
  size(): number {
    return fstatSync(this.file.fd).size;
  }

  /** From here reads return nothing: the rest of the file waits for the next start. */
  stopReading(): void {
    this.reading = false;
  }

  /** A partial last line is logged as it is only when nothing can follow it: a finished rotated file. */
  finalBlocks(now: number): Buffer[] {
    return this.finishing && this.atEnd ? this.framer.flushAll() : this.framer.flushIdle(now);
  }

  originOf(block: Buffer): BlockOrigin {
    this.framedAt += block.length;
    this.recent = block.length >= TAIL_BYTES ? block.subarray(block.length - TAIL_BYTES) : Buffer.concat([this.recent, block]).subarray(-TAIL_BYTES);
    const mark: PositionMark = { key: this.key, offset: this.framedAt, tail: tailHash(this.recent) };
    return { source: this.id, marks: [mark] };
  }

  /**
   * --consume: empties the file once everything read from it is in blocks, and the file has
   * not grown since (checked right before; bytes appended between that check and the truncate
   * are lost: docs/sources.md). Returns whether it truncated.
   */
  consume(): boolean {
    if (!this.allFramed || this.framer.pendingBytes > 0 || this.readAt === 0) return false;
    if (fstatSync(this.file.fd).size !== this.readAt) return false;
    ftruncateSync(this.file.fd, 0);
    this.readAt = 0;
    this.framedAt = 0;
    this.recent = Buffer.alloc(0);
    this.lastRead = Buffer.alloc(0);
    return true;
  }

  /** A truncated file's copy holds the rest: read on there, from the same offset. */
  switchTo(file: OpenedFile): void {
    if (!this.closed) closeSync(this.file.fd);
    this.file = file;
  }

  stop(): void {
    this.reading = false;
    if (this.closed) return;
    this.closed = true;
    closeSync(this.file.fd);
  }

  private read(take: (chunk: Buffer) => void, maxBytes = Number.POSITIVE_INFINITY): number {
    const limit = Math.min(MAX_READ_PER_TURN, maxBytes);
    if (!this.reading || this.closed) return 0;
    // The rotated file's last bytes come first: read it once more right before this one, and
    // wait while it has more than one turn's worth left (a long backlog).
    if (this.after !== null && !this.after.done) this.after.poll();
    if (this.after !== null && !this.after.done && this.after.behind) return 0;
    let total = 0;
    this.atEnd = false;
    while (total < limit) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const n = readSync(this.file.fd, buf, 0, Math.min(READ_CHUNK, limit - total), this.readAt);
      if (n === 0) {
        this.atEnd = true;
        break;
      }
      this.readAt += n;
      total += n;
      this.lastRead = n >= TAIL_BYTES ? Buffer.from(buf.subarray(n - TAIL_BYTES, n)) : Buffer.concat([this.lastRead, buf.subarray(0, n)]).subarray(-TAIL_BYTES);
      take(buf.subarray(0, n));
    }
    if (total > 0) this.lastGrowthAt = Date.now();
    this.behind = total >= limit;
    return total;
  }
}
