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

/** Room for one read (a pipe's 64 KiB) beyond the bytes pending, so a push rarely has to grow. */
const READ_ROOM = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class Framer {
  private readonly maxBlockBytes: number;
  private readonly partialLineWaitMs: number;
  private readonly quit: Buffer | null;
  /**
   * Every pending byte, copied in once: whole lines (quit lines already taken out) in
   * [0, readyEnd), the tail (bytes after the last `\n`: a line not yet complete) in
   * [readyEnd, end). Blocks are cut from its start (see emit for when they are views of it).
   */
  private buf: Buffer;
  private readyEnd = 0;
  private end = 0;
  /** When the tail got its first byte, for the partial-line wait. */
  private tailSince = 0;
  private tailStart: TailStart = 'line';
  private quitSeen = false;

  constructor(options: FramerOptions) {
    if (!(options.maxBlockBytes > 0)) throw new RangeError('maxBlockBytes must be positive');
    this.maxBlockBytes = options.maxBlockBytes;
    this.partialLineWaitMs = options.partialLineWaitMs;
    this.quit = options.quitString === null ? null : Buffer.from(options.quitString, 'utf8');
    // Allocated with the first bytes: an idle source (a watched file, a session) holds nothing.
    this.buf = EMPTY;
  }

  get pendingBytes(): number {
    return this.end;
  }

  get quitRequested(): boolean {
    return this.quitSeen;
  }

  /**
   * Takes a copy of `chunk` before it returns: the caller may reuse its buffer for the next read
   * (runtime/fifo.ts does).
   */
  push(chunk: Buffer, now: number): PushResult {
    const blocks: Buffer[] = [];
    if (chunk.length === 0) return { blocks, quit: this.quitSeen };
    if (this.end === this.readyEnd) this.tailSince = now;
    const from = this.end;
    this.append(chunk);
    // The tail held no `\n`: only the new bytes can end a line.
    const lastNl = chunk.lastIndexOf(NL);
    if (lastNl >= 0) {
      this.addLines(this.readyEnd, from + lastNl + 1, this.tailStart !== 'inside-cut-line');
      this.tailStart = 'line';
      if (this.end > this.readyEnd) this.tailSince = now;
    }
    // Whole lines over the cap are emitted at once; a partial line over the cap is cut.
    if (this.readyEnd >= this.maxBlockBytes) blocks.push(...this.emit(this.readyEnd, true));
    while (this.end - this.readyEnd >= this.maxBlockBytes) {
      if (this.readyEnd > 0) blocks.push(...this.emit(this.readyEnd, true));
      blocks.push(...this.emit(this.maxBlockBytes, false));
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
    const tailDue = this.end > this.readyEnd && now - this.tailSince >= this.partialLineWaitMs;
    return this.take(tailDue);
  }

  /** Everything pending, partial line included: on stop. */
  flushAll(): Buffer[] {
    return this.take(true);
  }

  private take(withTail: boolean): Buffer[] {
    if (withTail && this.end > this.readyEnd) {
      const tail = this.buf.subarray(this.readyEnd, this.end);
      if (this.quit !== null && this.tailStart !== 'inside-cut-line' && tail.equals(this.quit)) {
        this.quitSeen = true;
        this.end = this.readyEnd;
      } else {
        this.readyEnd = this.end;
        this.tailStart = 'after-flushed-partial';
      }
    }
    return this.readyEnd > 0 ? this.emit(this.readyEnd, true) : [];
  }

  /** Copies `chunk` in after the pending bytes, into a larger buffer when it does not fit. */
  private append(chunk: Buffer): void {
    const needed = this.end + chunk.length;
    if (needed > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed + READ_ROOM, 2 * this.buf.length));
      this.buf.copy(grown, 0, 0, this.end);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.end);
    this.end = needed;
  }

  /**
   * Hands out the first `n` pending bytes as blocks (with `cutLines`, split at line ends to the
   * cap; else one piece) and moves the rest to the start.
   *
   * When the blocks fill at least half the buffer (a flood), they are views of it, not copies,
   * and the framer moves on to a fresh buffer: it never writes into one it handed out, so the
   * blocks stay intact however long the writer keeps them (queued, sealing, retried). Smaller
   * blocks (a trickle's lines) are copied out and the buffer is reused: a view would pin a
   * buffer many times its size. The blocks of one hand-out together fill at least half of the
   * buffer they pin. A buffer grown for a backlog is given up once only small blocks pass
   * through it, so it neither stays large nor keeps old lines in memory for the rest of the run.
   */
  private emit(n: number, cutLines: boolean): Buffer[] {
    const region = this.buf.subarray(0, n);
    const pieces = cutLines ? this.cut(region) : [region];
    const rest = this.end - n;
    let blocks: Buffer[];
    if (2 * n >= this.buf.length) {
      blocks = pieces;
      // Sized for a block like this one plus a read, so the next view fills it as well.
      const next = Buffer.allocUnsafe(Math.max(READ_ROOM, Math.min(this.maxBlockBytes, n + (n >> 2)) + READ_ROOM, rest + READ_ROOM));
      this.buf.copy(next, 0, n, this.end);
      this.buf = next;
    } else {
      blocks = pieces.map((piece) => Buffer.from(piece));
      if (this.buf.length > 2 * READ_ROOM && rest + READ_ROOM <= this.buf.length / 4) {
        const smaller = Buffer.allocUnsafe(rest + READ_ROOM);
        this.buf.copy(smaller, 0, n, this.end);
        this.buf = smaller;
      } else {
        this.buf.copyWithin(0, n, this.end);
      }
    }
    this.end = rest;
    this.readyEnd = Math.max(0, this.readyEnd - n);
    return blocks;
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

  /**
   * The bytes in [from, to) of the buffer are lines (the last ends with `\n`) that follow the
   * ready ones: they become ready, quit lines taken out (the bytes after them move down).
   * `firstIsWhole` is false when the first line continues a line cut at the cap: that line
   * cannot be a quit line. After a flushed partial line it is true: the partial line's writer
   * may be gone, and a quit line written next must still be seen.
   *
   * Quit lines are found by searching for the quit string itself (native, over the whole range)
   * and checking that a hit is a whole line, not by walking every line: a flood has millions.
   */
  private addLines(from: number, to: number, firstIsWhole: boolean): void {
    const quit = this.quit;
    // A quit string holding `\n` can never equal a line.
    if (quit === null || quit.includes(NL)) {
      this.readyEnd = to;
      return;
    }
    const buf = this.buf;
    let write = from;
    let keptFrom = from;
    let search = from;
    while (search < to) {
      const found = quit.length === 0 ? buf.subarray(search, to).indexOf(NL) : buf.subarray(search, to).indexOf(quit);
      if (found < 0) break;
      const at = search + found;
      const startsLine = at === from ? firstIsWhole : buf[at - 1] === NL;
      const endsLine = at + quit.length < to && buf[at + quit.length] === NL;
      if (startsLine && endsLine) {
        buf.copyWithin(write, keptFrom, at);
        write += at - keptFrom;
        keptFrom = at + quit.length + 1;
        search = keptFrom;
        this.quitSeen = true;
      } else {
        search = at + 1;
      }
    }
    if (keptFrom === from) {
      this.readyEnd = to;
      return;
    }
    // Everything after the last quit line, the tail too, moves down over the removed lines.
    buf.copyWithin(write, keptFrom, this.end);
    this.end -= keptFrom - write;
    this.readyEnd = write + (to - keptFrom);
  }
}
