/**
 * How the copy reads the pipe, decided from what it has seen (pure: the caller passes the clock
 * and owns the timers).
 *
 * - Bursts (the common case: a server writes a few lines at a time): the first chunk after a
 *   pause starts a gather; reading stops until it ends, then everything in the pipe is taken at
 *   once and becomes one block. A burst of lines written one write(2) each then costs one
 *   wake-up. A shortest gather looks at the pipe every `quietMs` and ends as soon as one such
 *   step brought nothing: the burst is over, and a lone line waits only one step.
 * - Single lines arriving back to back (the next chunk within half of `gatherMinMs` after a
 *   gather ended: the data never really stopped): each gather doubles, up to `gatherMaxMs`, so
 *   blocks stay few while a line still waits at most that long. Any pause longer than that, as
 *   between lone lines a few milliseconds apart, is back to `gatherMinMs`: their latency is not
 *   traded for CPU.
 * - A flood (a gather found `streamAfterBytes` or more): reading goes on continuously, so a
 *   writer never waits on a gather, until the pipe has been idle and `idle()` is called.
 */
export interface PacerLimits {
  readonly gatherMinMs: number;
  readonly gatherMaxMs: number;
  readonly streamAfterBytes: number;
  /** A shortest gather ends early after this long with nothing new in the pipe. */
  readonly gatherQuietMs: number;
}

export class BurstPacer {
  private streamingNow = false;
  private gatherMs: number;
  private lastGatherEnd = Number.NEGATIVE_INFINITY;

  constructor(private readonly limits: PacerLimits) {
    this.gatherMs = limits.gatherMinMs;
  }

  /** Reading continuously: blocks are cut on idle, age and size as chunks come. */
  get streaming(): boolean {
    return this.streamingNow;
  }

  /** A chunk came and no gather runs: how long to gather (reading paused) before taking all. */
  startGather(now: number): number {
    const steady = now - this.lastGatherEnd < this.limits.gatherMinMs / 2;
    this.gatherMs = steady ? Math.min(this.gatherMs * 2, this.limits.gatherMaxMs) : this.limits.gatherMinMs;
    return this.gatherMs;
  }

  /**
   * Whether the gather just started may end after a quiet step. A doubled gather (lines coming
   * back to back) always runs its full length: ending it at every short pause would make a
   * block of nearly every line.
   */
  get mayEndQuiet(): boolean {
    return this.gatherMs === this.limits.gatherMinMs;
  }

  /** The gather ended and took `bytes` from the pipe. */
  endGather(now: number, bytes: number): void {
    this.lastGatherEnd = now;
    if (bytes >= this.limits.streamAfterBytes) this.streamingNow = true;
  }

  /** A flood goes on without a gather (a drain thread read ahead: runtime/drain-thread.ts). */
  stream(now: number): void {
    this.lastGatherEnd = now;
    this.streamingNow = true;
  }

  /** The pipe has been idle: a flood is over; the next chunk starts a gather. */
  idle(): void {
    this.streamingNow = false;
  }
}
