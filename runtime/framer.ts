/**
 * Framer: turns the chunks read from the pipe into blocks of whole lines. Pure: no timers, no
 * I/O; the caller passes the clock and decides when to ask for an idle flush.
 *
 * Guarantees, for any input:
 * - The concatenation of every block it returns equals the bytes pushed, minus quit lines. Binary
 *   data, NUL bytes and invalid UTF-8 pass through untouched; only `\n` is looked at.
 * - No block is larger than `maxBlockBytes`.
 * - Blocks end at a line end, except for a partial line (no `\n` yet) that has waited longer than
 *   `partialLineWaitMs`, and a single line longer than `maxBlockBytes`, which is cut into pieces of
 *   `maxBlockBytes`. Consecutive blocks concatenate back to the original line.
 * - A quit line is a line equal to the quit string that starts at the start of the stream, after
 *   a `\n`, or right after a partial line flushed once it had waited `partialLineWaitMs` (its
 *   writer may have died mid-line: `echo QUIT > pipe` must still stop the copy; the flushed
 *   partial line stays in the output as it was). It is removed; bytes before and after it are
 *   kept. A partial line equal to the quit string counts too once it is flushed as a partial
 *   line (`printf QUIT > pipe`). The rest of a line cut at `maxBlockBytes` is never a quit line:
 *   its writer is still writing that line.
 */
export interface FramerOptions {
  readonly maxBlockBytes: number;
  readonly partialLineWaitMs: number;
  readonly quitString: string | null;
}

export interface PushResult {
  readonly blocks: Buffer[];
  readonly quit: boolean;
}

const NL = 0x0a;

/**
 * Where the tail (bytes after the last `\n`) begins: at a line start; right after a partial line
 * flushed on timeout (a new line may start here, or the old one go on); or inside a line cut at
 * the block cap (only that line's rest can follow).
 */
type TailStart = 'line' | 'after-flushed-partial' | 'inside-cut-line';

export class Framer {
  private readonly maxBlockBytes: number;
  private readonly partialLineWaitMs: number;
  private readonly quit: Buffer | null;
  /** Whole lines waiting to be emitted, in order. */
  private ready: Buffer[] = [];
  private readyBytes = 0;
  /** Bytes after the last `\n`: the start of a line not yet complete. */
  private tail: Buffer = Buffer.alloc(0);
  /** When the tail got its first byte, for the partial-line wait. */
  private tailSince = 0;
  private tailStart: TailStart = 'line';
  private quitSeen = false;

  constructor(options: FramerOptions) {
    if (!(options.maxBlockBytes > 0)) throw new RangeError('maxBlockBytes must be positive');
    this.maxBlockBytes = options.maxBlockBytes;
    this.partialLineWaitMs = options.partialLineWaitMs;
    this.quit = options.quitString === null ? null : Buffer.from(options.quitString, 'utf8');
  }

  get pendingBytes(): number {
    return this.readyBytes + this.tail.length;
  }

  get quitRequested(): boolean {
    return this.quitSeen;
  }

  push(chunk: Buffer, now: number): PushResult {
    const blocks: Buffer[] = [];
    if (chunk.length === 0) return { blocks, quit: this.quitSeen };
    if (this.tail.length === 0) this.tailSince = now;
    const data = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const lastNl = data.lastIndexOf(NL);
    if (lastNl < 0) {
      this.tail = data;
    } else {
      this.addLines(data.subarray(0, lastNl + 1), this.tailStart !== 'inside-cut-line');
      this.tail = data.subarray(lastNl + 1);
      this.tailStart = 'line';
      if (this.tail.length > 0) this.tailSince = now;
    }
    // Whole lines over the cap are emitted at once; a partial line over the cap is cut.
    if (this.readyBytes >= this.maxBlockBytes) blocks.push(...this.cut(this.takeReady()));
    while (this.tail.length >= this.maxBlockBytes) {
      if (this.readyBytes > 0) blocks.push(...this.cut(this.takeReady()));
      blocks.push(Buffer.from(this.tail.subarray(0, this.maxBlockBytes)));
      this.tail = this.tail.subarray(this.maxBlockBytes);
      this.tailStart = 'inside-cut-line';
      this.tailSince = now;
    }
    return { blocks, quit: this.quitSeen };
  }

  /**
   * Called when the pipe has been idle: whole lines become a block; a partial line joins it only
   * once it has waited `partialLineWaitMs` (its writer may still be finishing it).
   */
  flushIdle(now: number): Buffer[] {
    const tailDue = this.tail.length > 0 && now - this.tailSince >= this.partialLineWaitMs;
    return this.take(tailDue);
  }

  /** Everything pending, partial line included: on stop. */
  flushAll(): Buffer[] {
    return this.take(true);
  }

  private take(withTail: boolean): Buffer[] {
    if (withTail && this.tail.length > 0) {
      if (this.quit !== null && this.tailStart !== 'inside-cut-line' && this.tail.equals(this.quit)) {
        this.quitSeen = true;
      } else {
        this.keep(this.tail);
        this.tailStart = 'after-flushed-partial';
      }
      this.tail = Buffer.alloc(0);
    }
    return this.readyBytes > 0 ? this.cut(this.takeReady()) : [];
  }

  /**
   * Splits whole lines into blocks of at most `maxBlockBytes`, at the last line end that fits;
   * a single line longer than the cap is cut at the cap.
   */
  private cut(lines: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let rest = lines;
    while (rest.length > this.maxBlockBytes) {
      const nl = rest.lastIndexOf(NL, this.maxBlockBytes - 1);
      const at = nl >= 0 ? nl + 1 : this.maxBlockBytes;
      out.push(rest.subarray(0, at));
      rest = rest.subarray(at);
    }
    if (rest.length > 0) out.push(rest);
    return out;
  }

  private takeReady(): Buffer {
    const block = this.ready.length === 1 ? (this.ready[0] as Buffer) : Buffer.concat(this.ready, this.readyBytes);
    this.ready = [];
    this.readyBytes = 0;
    return block;
  }

  /**
   * `lines` ends with `\n`. Removes quit lines; copies so callers may reuse their buffers.
   * `firstIsWhole` is false when the first line continues a line cut at the cap: that line
   * cannot be a quit line. After a flushed partial line it is true: the partial line's writer
   * may be gone, and a quit line written next must still be seen.
   */
  private addLines(lines: Buffer, firstIsWhole: boolean): void {
    if (this.quit === null) {
      this.keep(lines);
      return;
    }
    const quit = this.quit;
    let keptFrom = 0;
    let lineStart = 0;
    let whole = firstIsWhole;
    while (lineStart < lines.length) {
      const nl = lines.indexOf(NL, lineStart);
      const end = nl < 0 ? lines.length : nl;
      const isQuit = whole && end - lineStart === quit.length && lines.compare(quit, 0, quit.length, lineStart, end) === 0;
      whole = true;
      if (isQuit) {
        this.keep(lines.subarray(keptFrom, lineStart));
        keptFrom = end + 1;
        this.quitSeen = true;
      }
      lineStart = end + 1;
    }
    this.keep(lines.subarray(keptFrom));
  }

  private keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.ready.push(Buffer.from(bytes));
    this.readyBytes += bytes.length;
  }
}
