/**
 * A file read into the reader's window (reader.ts): shared memory, so a worker thread reads a
 * message where it lies instead of a copy of it. Bytes once read there are never written over
 * while anything may still read them: when the window is nearly full, what is still needed moves
 * to another one.
 *
 * The next read is started as soon as the one before it ends, into the window's free part (bytes
 * no piece refers to), so the reader rarely waits for the disk: a 16 MiB read in one go kept the
 * main thread waiting about 15 ms four times in a flood, and the workers ran out of blocks.
 *
 * A window left behind is used again for the one after next once nothing reads it any more
 * (`hold`): a fresh window costs a page fault per 4 KiB (a 16 MiB one was a tenth of a flood's).
 */
export type ReadInto = (target: Buffer, offset: number) => Promise<number>;

/**
 * The window's size (plus what is kept when moving): several reads, many blocks. Each window is
 * read into again and again, so only the first two cost page faults (2,048 each).
 */
export const WINDOW_BYTES = 8 * 1024 * 1024;
/** One read: a flood's first block is split after this much rather than after the whole window. */
const READ_BYTES = 4 * 1024 * 1024;

export class FileWindow {
  private window: Buffer = Buffer.alloc(0);
  private filled = 0;
  /** The window left behind at the last move, for the next move. */
  private spare: Buffer | null = null;
  /** Opens still reading a window's bytes, by window. */
  private readonly readers = new Map<ArrayBufferLike, number>();
  private reading: Promise<number> | null = null;

  constructor(
    private readonly readInto: ReadInto,
    private readonly size = WINDOW_BYTES,
  ) {}

  /** What was read and is still kept: the reader splits it. */
  get bytes(): Buffer {
    return this.window.subarray(0, this.filled);
  }

  /** `opened` may read this window's bytes until it settles: until then the window is not used again. */
  hold(opened: Promise<unknown>): void {
    const key = this.window.buffer;
    this.readers.set(key, (this.readers.get(key) ?? 0) + 1);
    const done = () => {
      const left = (this.readers.get(key) ?? 1) - 1;
      if (left === 0) this.readers.delete(key);
      else this.readers.set(key, left);
    };
    opened.then(done, done);
  }

  /**
   * Waits for more input. `keepFrom` is the first byte of `bytes` still needed. Returns how many
   * bytes were read (0 at the end of the file) and how many were dropped from the front of
   * `bytes` (when what is kept moved to another window).
   */
  async more(keepFrom: number): Promise<{ readonly read: number; readonly dropped: number }> {
    let dropped = 0;
    if (this.reading === null) {
      // The window is full (or this is the first read): what is kept moves now, when the reader
      // has split all it could, so it is little, and this read is waited for.
      dropped = this.roomFor(keepFrom);
      this.startRead();
    }
    const read = await (this.reading as Promise<number>);
    this.reading = null;
    this.filled += read;
    // Read on into the rest of the window while the reader splits and opens what came.
    if (read > 0 && this.filled < this.window.length) this.startRead();
    return { read, dropped };
  }

  private startRead(): void {
    const end = Math.min(this.window.length, this.filled + READ_BYTES);
    const reading = this.readInto(this.window.subarray(0, end), this.filled);
    // A read may fail while the reader is busy elsewhere (or has stopped): the failure reaches
    // whoever awaits it next, and is no unhandled rejection meanwhile.
    reading.catch(() => {});
    this.reading = reading;
  }

  /** Makes room to read into, moving what is kept (from `keepFrom`) when the window is nearly full; returns the bytes dropped. */
  private roomFor(keepFrom: number): number {
    if (this.window.length - this.filled >= this.size / 4) return 0;
    const kept = this.filled - keepFrom;
    const spare = this.spare;
    const next = spare !== null && spare.length - kept >= this.size / 2 && !this.readers.has(spare.buffer) ? spare : Buffer.from(new SharedArrayBuffer(kept + this.size));
    this.window.copy(next, 0, keepFrom, this.filled);
    this.spare = this.window.length > 0 ? this.window : null;
    this.window = next;
    this.filled = kept;
    return keepFrom;
  }
}
