import type { BakedFilters } from '../baked.ts';
import { LineFilter } from './line-filter.ts';
import { FilterRules } from './rules.ts';
import { FilterTally, type FilteredSource } from './tally.ts';

/**
 * While lines are being filtered, a sealed `filtered` record says how many, at least this often;
 * a minute of silence about dropped lines is what a reader of the log may have to trust.
 */
export const FILTER_RECORD_MS = 60_000;

export interface FilteredReport {
  /** Start of the interval the counts cover. */
  readonly since: string;
  /** The last record of the stream: every source, with its totals. */
  readonly final: boolean;
  readonly sources: readonly FilteredSource[];
}

/**
 * The filters of one copy: one LineFilter per source, one tally, and the timer that turns the
 * counts into `filtered` records. Not created at all when no filter is set.
 */
export class Filtering {
  readonly tally: FilterTally;
  private readonly rules: FilterRules;
  private timer: NodeJS.Timeout | null = null;
  private since = new Date().toISOString();

  constructor(
    filters: BakedFilters,
    private readonly emit: (report: FilteredReport) => void,
    private readonly everyMs = FILTER_RECORD_MS,
  ) {
    this.rules = new FilterRules(filters);
    this.tally = new FilterTally(this.rules.patterns);
  }

  /** A filter for one source (`name`: what the records call it, e.g. the pipe's path). */
  forSource(name: string): LineFilter {
    return new LineFilter(this.rules, this.tally.of(name));
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(false), this.everyMs);
    this.timer.unref();
  }

  /** Records what changed since the last record; `final` (at stop) records every source. */
  flush(final: boolean): void {
    const sources = this.tally.take(final);
    const now = new Date().toISOString();
    if (sources.length > 0) this.emit({ since: this.since, final, sources });
    if (sources.length > 0 || final) this.since = now;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
