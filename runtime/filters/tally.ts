import type { FilterPattern } from './rules.ts';

/** Counts of one pattern: lines and bytes (newline included). */
interface Count {
  lines: number;
  bytes: number;
}

/** What one source's filter saw. `interval` is since the last `filtered` record; the rest since start. */
export class SourceTally {
  readonly interval: Count[];
  readonly total: Count[];
  keptLines = 0;
  /** Lines kept without being matched: longer than the match limit, or read in pieces. */
  unjudgedLines = 0;
  changed = false;

  constructor(
    readonly source: string,
    patterns: number,
  ) {
    this.interval = Array.from({ length: patterns }, () => ({ lines: 0, bytes: 0 }));
    this.total = Array.from({ length: patterns }, () => ({ lines: 0, bytes: 0 }));
  }

  dropped(pattern: number, bytes: number): void {
    const i = this.interval[pattern] as Count;
    const t = this.total[pattern] as Count;
    i.lines += 1;
    i.bytes += bytes;
    t.lines += 1;
    t.bytes += bytes;
    this.changed = true;
  }

  get totalLines(): number {
    return this.total.reduce((n, c) => n + c.lines, 0);
  }

  get totalBytes(): number {
    return this.total.reduce((n, c) => n + c.bytes, 0);
  }
}

/** One source's part of a `filtered` record (runtime/metadata.ts). */
export interface FilteredSource {
  readonly source: string;
  /** Dropped since the previous `filtered` record, and since the stream started. */
  readonly lines: number;
  readonly bytes: number;
  readonly totalLines: number;
  readonly totalBytes: number;
  readonly keptLines: number;
  readonly unjudgedLines: number;
  /** The patterns that dropped lines in this interval, with their counts. */
  readonly patterns: ReadonlyArray<FilterPattern & Count>;
}

/** Every source's tally; one per copy, shared by the sources' filters. */
export class FilterTally {
  private readonly sources = new Map<string, SourceTally>();

  constructor(readonly patterns: readonly FilterPattern[]) {}

  /** The tally of a source by its name: a replaced pipe counts on under the same name. */
  of(source: string): SourceTally {
    let tally = this.sources.get(source);
    if (tally === undefined) {
      tally = new SourceTally(source, this.patterns.length);
      this.sources.set(source, tally);
    }
    return tally;
  }

  /**
   * The sources whose counts changed since the last call (every source when `all`), and starts
   * a new interval. Empty when nothing was filtered: no record is needed.
   */
  take(all: boolean): FilteredSource[] {
    const out: FilteredSource[] = [];
    for (const t of this.sources.values()) {
      if (!t.changed && !all) continue;
      const patterns = this.patterns.flatMap((p, i) => {
        const c = t.interval[i] as Count;
        return c.lines === 0 ? [] : [{ ...p, lines: c.lines, bytes: c.bytes }];
      });
      out.push({
        source: t.source,
        lines: patterns.reduce((n, p) => n + p.lines, 0),
        bytes: patterns.reduce((n, p) => n + p.bytes, 0),
        totalLines: t.totalLines,
        totalBytes: t.totalBytes,
        keptLines: t.keptLines,
        unjudgedLines: t.unjudgedLines,
        patterns,
      });
      for (const c of t.interval) {
        c.lines = 0;
        c.bytes = 0;
      }
      t.changed = false;
    }
    return out;
  }

  /** Lines and bytes dropped since start, every source. */
  totals(): { lines: number; bytes: number } {
    let lines = 0;
    let bytes = 0;
    for (const t of this.sources.values()) {
      lines += t.totalLines;
      bytes += t.totalBytes;
    }
    return { lines, bytes };
  }

  /** Per pattern, since start, every source: for the mailed report. */
  topPatterns(): Array<FilterPattern & Count> {
    return this.patterns
      .map((p, i) => {
        let lines = 0;
        let bytes = 0;
        for (const t of this.sources.values()) {
          lines += (t.total[i] as Count).lines;
          bytes += (t.total[i] as Count).bytes;
        }
        return { ...p, lines, bytes };
      })
      .filter((p) => p.lines > 0)
      .sort((a, b) => b.lines - a.lines);
  }

  keptBySource(): Array<{ source: string; lines: number }> {
    return [...this.sources.values()].map((t) => ({ source: t.source, lines: t.keptLines }));
  }
}
