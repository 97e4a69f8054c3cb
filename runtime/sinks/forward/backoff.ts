/**
 * Reconnect delays of a forwarder: 1 s, doubling, at most 1 min. A collector that is down for
 * an hour is retried once a minute; one that blinked is back within a second or two.
 */
export const FORWARD_BACKOFF = { minMs: 1000, maxMs: 60_000 } as const;

export class Backoff {
  private next: number;

  constructor(
    private readonly minMs: number = FORWARD_BACKOFF.minMs,
    private readonly maxMs: number = FORWARD_BACKOFF.maxMs,
  ) {
    this.next = minMs;
  }

  /** The delay to wait now; the one after it is twice as long, up to the cap. */
  take(): number {
    const delay = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return delay;
  }

  /** After a success: the next failure waits the shortest delay again. */
  reset(): void {
    this.next = this.minMs;
  }
}
