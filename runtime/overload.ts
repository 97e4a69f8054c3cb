import { countNewlines } from './writer.ts';

/**
 * Accounting for `--on-overload drop`. While the buffer is full the copy keeps reading (so
 * writers never wait) and drops whole blocks; blocks end at line ends, so whole lines are
 * dropped (only a line already cut into pieces — longer than a block, or a partial line that
 * waited too long — can lose some pieces and keep others). Each episode, from the first drop
 * until the buffer is half empty again, becomes one encrypted `overload-dropped` event with its
 * counts; the stream-end record carries the totals.
 */
export interface DropEpisode {
  readonly lines: number;
  readonly bytes: number;
  readonly since: string;
  readonly until: string;
}

export class DropCounter {
  readonly total = { lines: 0, bytes: 0 };
  private episode: { lines: number; bytes: number; since: string } | null = null;

  get dropping(): boolean {
    return this.episode !== null;
  }

  drop(block: Buffer, now: Date): void {
    this.episode ??= { lines: 0, bytes: 0, since: now.toISOString() };
    const lines = countNewlines(block);
    this.episode.lines += lines;
    this.episode.bytes += block.length;
    this.total.lines += lines;
    this.total.bytes += block.length;
  }

  /** Ends the current episode, if any, and returns it for the record. */
  end(now: Date): DropEpisode | null {
    const episode = this.episode;
    if (episode === null) return null;
    this.episode = null;
    return { ...episode, until: now.toISOString() };
  }
}
