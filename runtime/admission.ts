import type { BakedOptions } from './baked.ts';
import { COPY_LIMITS } from './copy-limits.ts';
import { Filtering } from './filters/filtering.ts';
import type { LineFilter } from './filters/line-filter.ts';
import type { Logger } from './log.ts';
import type { ControlRecord } from './metadata.ts';
import { DropCounter } from './overload.ts';
import type { SourceLedger } from './sources/ledger.ts';
import type { Source } from './sources/source.ts';
import type { BlockOrigin, BlockWriter } from './writer.ts';

export interface AdmissionDeps {
  readonly baked: BakedOptions;
  /** The overload policy, with the bound the writer's queue is held to (--max-buffer less a drain ring). */
  readonly overload: BakedOptions['overload'];
  readonly streamId: string;
  readonly writer: BlockWriter;
  readonly ledger: SourceLedger;
  readonly log: Logger;
  /** Something was logged (the heartbeat's idle clock starts again). */
  readonly touch: () => void;
  readonly recordEvent: (event: string, detail: string) => void;
  readonly recordControl: (make: (seq: number) => ControlRecord) => void;
}

/**
 * What happens to every block a source's framer makes, between reading and the writer: the
 * line filters (--ignore / --keep) of its source, then the overload policy (under `drop`, whole
 * blocks are counted and left out while the buffer is full), then the writer's queue, counted
 * for the source's ledger. Nothing leaves here silently: filtered lines go into `filtered`
 * records, dropped ones into `overload-dropped` events.
 */
export class Admission {
  /** --ignore / --keep: null when no filter is set, so unfiltered copies look at no line. */
  readonly filtering: Filtering | null;
  readonly drops = new DropCounter();
  private readonly lineFilters = new Map<Source, LineFilter>();
  private heldMarks: unknown[] = [];
  private heldMarksTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly deps: AdmissionDeps) {
    const { baked, streamId } = deps;
    this.filtering = baked.filters === undefined ? null : new Filtering(baked.filters, (report) => deps.recordControl(() => ({ type: 'filtered', streamId, at: new Date().toISOString(), ...report })));
  }

  /** A source starts: its own filter, counted under `name` (a replaced pipe counts on under the baked path). */
  addSource(source: Source, name: string): void {
    if (this.filtering !== null) this.lineFilters.set(source, this.filtering.forSource(name));
  }

  removeSource(source: Source): void {
    this.lineFilters.delete(source);
  }

  start(): void {
    this.filtering?.start();
  }

  /** Every block a framer makes goes through here: filtered, then into the writer's queue, or counted as dropped. */
  admit(framed: Buffer, source: Source): void {
    // On the whole framed block: a watched file's position covers every byte read, kept or not.
    const origin = source.originOf(framed);
    const block = this.filtering === null ? framed : (this.lineFilters.get(source)?.apply(framed) ?? framed);
    if (block.length === 0) {
      this.holdMarks(origin);
      return;
    }
    const { policy, maxBufferBytes } = this.deps.overload;
    if (policy === 'drop' && (this.drops.dropping || this.deps.writer.queuedBytes + block.length > maxBufferBytes)) {
      this.drops.drop(block, new Date());
      this.holdMarks(origin);
      return;
    }
    this.deps.touch();
    this.deps.ledger.count(source.id, block);
    const held = this.takeHeldMarks();
    this.deps.writer.enqueueData(block, true, held.length === 0 ? origin : { ...origin, marks: [...held, ...(origin?.marks ?? [])] });
  }

  /** Marks held for the next control record, which accounts for them (see holdMarks). */
  takeHeldMarks(): unknown[] {
    if (this.heldMarks.length === 0) return [];
    const held = this.heldMarks;
    this.heldMarks = [];
    return held;
  }

  /** A drop episode ends (the buffer is half empty again, or the copy stops): said, and recorded. */
  endDropEpisode(): void {
    // Asked after every append: no Date for the common case, no episode.
    if (!this.drops.dropping) return;
    const episode = this.drops.end(new Date());
    if (episode === null) return;
    const detail = `${episode.lines} lines, ${episode.bytes} bytes dropped from ${episode.since} to ${episode.until}: writers were faster than encryption and the ${this.deps.baked.overload.maxBufferBytes}-byte buffer was full`;
    this.deps.log.warn('OVERLOAD_DROPPED', detail);
    this.deps.recordEvent('overload-dropped', detail);
  }

  /** The copy begins to stop: no more timers; held marks go with the final records. */
  beginStop(): void {
    this.stopped = true;
    if (this.heldMarksTimer !== null) clearTimeout(this.heldMarksTimer);
    this.heldMarksTimer = null;
  }

  /** At stop, after the last blocks: the drop episode and the filters' final counts are recorded. */
  finish(): void {
    this.endDropEpisode();
    this.filtering?.stop();
    this.filtering?.flush(true);
  }

  /** What stream-end says of what was left out. */
  get totals(): { droppedLines: number; droppedBytes: number; filteredLines?: number; filteredBytes?: number } {
    const dropped = { droppedLines: this.drops.total.lines, droppedBytes: this.drops.total.bytes };
    if (this.filtering === null) return dropped;
    const { lines, bytes } = this.filtering.tally.totals();
    return { ...dropped, filteredLines: lines, filteredBytes: bytes };
  }

  /**
   * Positions of a watched file's lines that a filter or an overload drop took out: they ride on
   * the next block or record (at the latest the `filtered` record or the drop event that counts
   * them, both written at stop), so the position moves past those lines, a restart does not
   * read them again, and --consume can empty the file.
   */
  private holdMarks(origin: BlockOrigin | undefined): void {
    if (origin?.marks === undefined) return;
    this.heldMarks.push(...origin.marks);
    if (this.filtering !== null && this.heldMarksTimer === null && !this.stopped) {
      this.heldMarksTimer = setTimeout(() => {
        this.heldMarksTimer = null;
        this.filtering?.flush(false);
      }, COPY_LIMITS.heldMarksFlushMs);
    }
  }
}
