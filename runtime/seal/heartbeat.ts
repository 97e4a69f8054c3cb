/**
 * `--heartbeat`: when no block was queued for `intervalMs`, one sealed heartbeat block is. An
 * idle stream then still gains a block at least every 1.25 intervals (verify allows two, plus
 * slack for a busy disk), so a log that stops early
 * (a killed copy, a cut tail, a frozen process) shows as a silence `verify` can measure, and
 * an unterminated stream ended no earlier than its last heartbeat.
 */
export class Heartbeat {
  private lastBlockAt = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly beat: (idleMs: number) => void,
  ) {}

  /** Any block queued: the next heartbeat is due an interval from now. */
  touch(): void {
    this.lastBlockAt = Date.now();
  }

  start(): void {
    // Checked four times an interval: a block follows at most 1.25 intervals of silence, and a
    // timer that fires a millisecond early never skips a whole interval.
    this.timer = setInterval(() => {
      const idle = Date.now() - this.lastBlockAt;
      if (idle < this.intervalMs) return;
      this.touch();
      this.beat(idle);
    }, Math.max(1, Math.floor(this.intervalMs / 4)));
    // The heartbeat alone never keeps the copy alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
