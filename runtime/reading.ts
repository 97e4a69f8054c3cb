import type { BakedOptions } from './baked.ts';
import { BurstPacer } from './burst-pacer.ts';
import { COPY_LIMITS } from './copy-limits.ts';
import { sleepThread } from './fifo.ts';
import { oldGenerationMayGrow, youngGenerationMayGrow } from './heap-tuning.ts';
import type { Logger } from './log.ts';
import type { Source } from './sources/source.ts';
import type { BlockWriter } from './writer.ts';

export interface ReadingDeps {
  readonly overload: BakedOptions['overload'];
  readonly writer: BlockWriter;
  readonly log: Logger;
  /** Where every framed block goes (runtime/admission.ts). */
  readonly admit: (block: Buffer, source: Source) => void;
  /** A quit string was read. */
  readonly quit: () => void;
}

/** A flood's read shorter than this is topped up (topUp). */
const TOP_UP_BELOW_BYTES = 16 * 1024;

/**
 * Reading every source into blocks: bursts gathered into one block each (runtime/burst-pacer.ts),
 * a flood read continuously with blocks sealed at least every `maxBlockAgeMs`, partial lines
 * waited for, and reading paused (backpressure) while the writer holds more than --max-buffer
 * under `--on-overload block`.
 */
export class Reading {
  /** Everything being read: the pipes and any other sources. */
  readonly sources: Source[] = [];
  private readonly pacer = new BurstPacer(COPY_LIMITS);
  private idleTimer: NodeJS.Timeout | null = null;
  private lastDataAt = 0;
  private pendingSince: number | null = null;
  private paused = false;
  private stopped = false;
  private pauses = 0;
  private pausesSaidAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: ReadingDeps) {}

  /** Starts taking a source's chunks; it is paused at once when reading is paused. */
  add(source: Source): void {
    this.sources.push(source);
    source.onChunk((chunk) => this.onData(source, chunk));
    if (this.paused) source.pause();
  }

  remove(source: Source): boolean {
    const at = this.sources.indexOf(source);
    if (at >= 0) this.sources.splice(at, 1);
    return at >= 0;
  }

  /** Reading goes on once the writer has caught up (the session decides when). */
  resume(): void {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    for (const source of this.sources) source.resume();
  }

  /** Frames a chunk of `source` and admits the blocks it completes. */
  take(source: Source, chunk: Buffer, now: number): void {
    const { blocks } = source.framer.push(chunk, now);
    for (const block of blocks) this.deps.admit(block, source);
  }

  /** Takes every byte in every source (at most `maxBytes` in all), synchronously; returns how many. */
  pullEverything(maxBytes = Number.POSITIVE_INFINITY): number {
    let total = 0;
    for (const source of this.sources) total += source.pullEverything((chunk) => this.take(source, chunk, Date.now()), maxBytes - total);
    return total;
  }

  /** From here only the stop loop takes data (pullEverything). */
  stop(): void {
    this.stopped = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    for (const source of this.sources) {
      source.onChunk(null);
      source.pause();
      source.holdStill?.();
    }
  }

  private onData(source: Source, chunk: Buffer): void {
    const now = Date.now();
    this.take(source, chunk, now);
    // A short read in a flood: the writers write a line per write(2) and the loop reads faster
    // than they write, so a busy loop, not its throughput, is what makes them wait. A pipe's
    // drain thread takes over (from the next read on); else the read is topped up. Floods of
    // large writes (reads of 64 KiB) never need the thread and never pay for it.
    const short = this.pacer.streaming && source.readAhead !== true && chunk.length < TOP_UP_BELOW_BYTES;
    if (short && !(source.flood?.() ?? false)) this.topUp();
    if (source.framer.quitRequested) {
      this.deps.quit();
      return;
    }
    this.lastDataAt = now;
    if (!this.pacer.streaming) {
      // Read ahead by the drain thread, the chunk is a flood's (the thread stops once the pipe
      // is quiet): no gather, which would wait while the ring fills.
      if (source.readAhead !== true) {
        this.gather(now);
        return;
      }
      this.pacer.stream(now);
      this.floodMode();
    }
    if (this.pendingSince === null && source.framer.pendingBytes > 0) this.pendingSince = now;
    if (this.pendingSince !== null && now - this.pendingSince >= COPY_LIMITS.maxBlockAgeMs) this.flushIdle(now);
    this.armTimer(COPY_LIMITS.idleFlushMs);
    this.applyBackpressure(now);
  }

  /**
   * A burst began: waits for the rest of it right here, on the event loop's own thread, takes
   * everything from the pipe and seals it as one block.
   *
   * Why block the thread: the gather exists to wait for the writer, and the loop has nothing
   * else to do meanwhile that cannot wait 2 ms (a signal, a timer, the previous block's sync are
   * handled right after). Sleeping in place costs no timer, no pause and resume of the socket
   * (two epoll_ctl calls and a spurious wake-up per burst) and no extra trip through the loop:
   * a burst costs the copy one wake-up. Nothing is read meanwhile; the kernel's 64 KiB pipe
   * buffer holds what comes.
   */
  private gather(start: number): void {
    const ms = this.pacer.startGather(start);
    const step = this.pacer.mayEndQuiet ? COPY_LIMITS.gatherQuietMs : ms;
    const until = performance.now() + ms;
    let got = 0;
    for (let left = ms; left > 0; left = until - performance.now()) {
      sleepThread(Math.min(step, left));
      // At most the room left in --max-buffer (but enough to tell a flood): a flood's writer
      // refills the pipe as fast as it is drained, and an unbounded drain went megabytes past the
      // buffer before the first backpressure check. What is left is read as a flood.
      const room = this.deps.overload.maxBufferBytes - this.deps.writer.queuedBytes;
      const n = this.pullEverything(Math.max(room, COPY_LIMITS.streamAfterBytes - got));
      got += n;
      if (n === 0 && step < ms) break; // a quiet step: the burst is complete
    }
    this.endGather(got);
  }

  /**
   * A short read in a flood: the writer writes a line per write(2) and each read took a few
   * lines. Every read costs a wake-up, a read(2) and a trip through the loop (~15 µs of CPU), a
   * few KiB at a time. Waiting a fraction of a millisecond right here lets the writer fill the
   * pipe meanwhile (at 100 MB/s, 30 KiB: less than the pipe's 64 KiB, so the writer does not
   * block), and one read takes it all.
   */
  private topUp(): void {
    sleepThread(COPY_LIMITS.floodTopUpMs);
    this.pullEverything(Math.max(0, this.deps.overload.maxBufferBytes - this.deps.writer.queuedBytes));
  }

  /** Seals what the gather took as one block, reads on. */
  private endGather(got: number): void {
    if (this.quitRequested) {
      this.deps.quit();
      return;
    }
    const now = Date.now();
    this.flushIdle(now);
    this.pacer.endGather(now, got);
    this.floodMode();
    if (this.pacer.streaming) {
      this.lastDataAt = now;
      this.armTimer(COPY_LIMITS.idleFlushMs);
    } else if (this.pendingBytes > 0) {
      // Only a partial line can still be pending: come back when its wait is over.
      this.armTimer(COPY_LIMITS.partialLineWaitMs);
    }
    this.applyBackpressure(now);
  }

  /** The writer and the heap follow the pacer: a flood or not. */
  private floodMode(): void {
    this.deps.writer.readingFlood(this.pacer.streaming);
    youngGenerationMayGrow(this.pacer.streaming);
    oldGenerationMayGrow(this.pacer.streaming);
  }

  private applyBackpressure(now: number): void {
    const { overload, writer, log } = this.deps;
    if (overload.policy === 'block' && !this.paused && writer.queuedBytes > overload.maxBufferBytes) {
      // Backpressure: the kernel pipe buffer fills and writers block; nothing is dropped.
      this.paused = true;
      for (const s of this.sources) s.pause();
      // A flood pauses reading many times a second: say so once per interval, with a count.
      this.pauses += 1;
      if (now - this.pausesSaidAt >= COPY_LIMITS.backpressureReportMs) {
        log.warn('BACKPRESSURE', `writers are faster than encryption: reads paused ${this.pauses} time(s) since the last report (${writer.queuedBytes} bytes waiting)`);
        this.pausesSaidAt = now;
        this.pauses = 0;
      }
    }
  }

  get quitRequested(): boolean {
    return this.sources.some((source) => source.framer.quitRequested);
  }

  private get pendingBytes(): number {
    return this.sources.reduce((sum, source) => sum + source.framer.pendingBytes, 0);
  }

  private armTimer(ms: number): void {
    if (this.idleTimer !== null) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      const now = Date.now();
      if (now - this.lastDataAt < COPY_LIMITS.idleFlushMs) {
        this.armTimer(COPY_LIMITS.idleFlushMs);
        return;
      }
      this.pacer.idle();
      this.deps.writer.readingFlood(false);
      youngGenerationMayGrow(false);
      oldGenerationMayGrow(false);
      this.flushIdle(now);
      if (this.quitRequested) {
        this.deps.quit();
        return;
      }
      // Only a partial line can still be pending: come back when its wait is over.
      if (this.pendingBytes > 0) this.armTimer(COPY_LIMITS.partialLineWaitMs);
    }, ms);
  }

  private flushIdle(now: number): void {
    for (const source of this.sources) for (const block of source.framer.flushIdle(now)) this.deps.admit(block, source);
    this.pendingSince = this.pendingBytes > 0 ? now : null;
  }
}
