import type { Appender, AppendOptions } from './appender.ts';
import { errnoCode } from './errors.ts';
import type { Encryptor } from './encryptor.ts';
import type { Logger } from './log.ts';
import { encodeControl, kindLetter, type BlockKind, type BlockMetadata, type ControlRecord } from './metadata.ts';
import { sealSeconds, type SealChain } from './seal/chain.ts';
import { countNewlines, marksOf, sourceOf, takeBatch, type BlockOrigin, type Item } from './writer-queue.ts';

export { countNewlines, type BlockOrigin } from './writer-queue.ts';

/**
 * The block writer: a FIFO queue of blocks, sealed and appended in order.
 *
 * - Two stages overlap: while one batch is appended and fdatasync'd, the next is being sealed
 *   (its blocks side by side: compression runs on the thread pool), so a flood keeps every
 *   core busy and the disk never waits for the CPU or the other way round.
 * - Adaptive batching: while the worker is busy, data blocks queue up; when it comes back it
 *   merges consecutive queued data blocks up to `maxBlockBytes`, so a flood becomes few large
 *   messages and a trickle stays one small message per line.
 * - Sequence numbers are given when sealing starts, in queue order, so a stream's numbers have
 *   no gaps; a batch put back after a give-up gets the same numbers again.
 * - A failed seal or append is retried with backoff; the batch is kept. A retried append may
 *   repeat messages already on disk: the decrypter drops a repeated (stream, sequence) pair.
 *   So a line is on disk at least once and decrypted exactly once.
 * - With a seal chain, each block's tag is made when its sequence number is given (in order,
 *   one position at a time) and kept with the batch, so a retried seal reuses it.
 */
export interface WriterLimits {
  readonly maxBlockBytes: number;
  /** Bytes sealed per append + fdatasync: bounds the memory of one batch. */
  readonly maxBatchBytes: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

interface Batch {
  readonly items: Item[];
  readonly dataBytes: number;
  readonly firstSeq: number;
  /** The seal under way (started ahead, while the batch before was appended), or null. */
  sealing: Promise<Uint8Array[]> | null;
  messages: Uint8Array[];
  /** Bytes, metadata (with the tag) and seal time, fixed on the first attempt. */
  prepared: Prepared | null;
}

interface Prepared {
  readonly date: Date;
  readonly blocks: ReadonlyArray<{ readonly bytes: Uint8Array; readonly meta: BlockMetadata }>;
}

export interface WriterStats {
  /** Newlines in counted data blocks that reached the disk. */
  lines: number;
  bytes: number;
  /** Sequence number of the last block on disk, -1 before the first. */
  lastSeq: number;
  /** Its seal tag (null when unsealed or before the first). */
  lastTag: string | null;
}

export interface BlockWriterDeps {
  readonly encryptor: Encryptor;
  readonly appender: Appender;
  readonly streamId: string;
  /** Forward-secure tags for every block; without it blocks are written unsealed (pp1). */
  readonly chain?: SealChain;
  readonly limits: WriterLimits;
  readonly log: Logger;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called whenever queued bytes drop, so the reader can resume. */
  readonly onProgress?: () => void;
  /** Runs in the worker after every successful append batch (rotation checks). */
  readonly afterAppend?: () => Promise<void>;
  /**
   * Position marks (BlockOrigin) of a batch: told before each attempt to append it (with the
   * bytes it will add to the log) and once it is durable, so a watched file's saved position
   * never runs ahead of the log nor lags behind it after a kill.
   */
  readonly marks?: WriterMarks;
}

export interface WriterMarks {
  readonly beforeAppend: (marks: readonly unknown[], bytes: number) => void;
  readonly durable: (marks: readonly unknown[]) => void;
}

const IN_A_TRICKLE: AppendOptions = Object.freeze({ syncOnLoop: true });
const IN_A_FLOOD: AppendOptions = Object.freeze({ syncOnLoop: false });

export class BlockWriter {
  readonly stats: WriterStats = { lines: 0, bytes: 0, lastSeq: -1, lastTag: null };
  private readonly queue: Item[] = [];
  private queued = 0;
  private running: Promise<void> | null = null;
  /** Work that must not overlap an append (reopen, rotation checks), run between batches. */
  private readonly tasks: Array<() => Promise<void>> = [];
  /** After stop, retries are bounded so a dead disk cannot hold the process forever. */
  private maxAttempts = Number.POSITIVE_INFINITY;
  private failure: Error | null = null;
  /** How batches are appended: see readingFlood. */
  private appendOptions: AppendOptions = IN_A_TRICKLE;
  private readonly deps: BlockWriterDeps;
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(deps: BlockWriterDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get queuedBytes(): number {
    return this.queued;
  }

  /**
   * Reading says whether it reads a flood. Outside one, a small batch is made durable on the
   * event loop's thread (runtime/appender.ts says why); in one, on the thread pool, so reading
   * goes on while the disk works.
   */
  readingFlood(flood: boolean): void {
    this.appendOptions = flood ? IN_A_FLOOD : IN_A_TRICKLE;
  }

  enqueueData(bytes: Buffer, counted = true, origin?: BlockOrigin): void {
    if (bytes.length === 0) return;
    this.queue.push(origin === undefined ? { kind: 'data', bytes, counted } : { kind: 'data', bytes, counted, origin });
    this.queued += bytes.length;
    this.kick();
  }

  /**
   * `source`: the record belongs to that source (source-start, source-end): its block names it.
   * `marks`: positions this record accounts for (lines a filter or an overload drop took out of
   * a watched file), handed back like a data block's once the record is durable.
   */
  enqueueControl(make: (seq: number) => ControlRecord, source?: string, marks?: readonly unknown[]): void {
    const item: Item = { kind: 'control', make, ...(source === undefined ? {} : { source }), ...(marks === undefined || marks.length === 0 ? {} : { marks }) };
    this.queue.push(item);
    this.kick();
  }

  requestReopen(): void {
    this.runBetweenBatches(async () => {
      await this.withRetry('OUTPUT_REOPEN', () => this.deps.appender.reopen());
      this.deps.log.info('OUTPUT_REOPENED', `reopened ${this.deps.appender.path}`);
    });
  }

  runBetweenBatches(task: () => Promise<void>): void {
    this.tasks.push(task);
    this.kick();
  }

  /** Resolves when everything queued so far is on disk; rejects if the writer gave up. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
    if (this.failure !== null) throw this.failure;
  }

  /** From now on, give up a batch after `attempts` failures instead of retrying forever. */
  boundRetries(attempts: number): void {
    this.maxAttempts = attempts;
  }

  private kick(): void {
    if (this.running !== null) return;
    this.running = this.work().finally(() => {
      this.running = null;
      if ((this.queue.length > 0 || this.tasks.length > 0) && this.failure === null) this.kick();
    });
  }

  private async work(): Promise<void> {
    let next: Batch | null = null;
    while (next !== null || this.queue.length > 0 || this.tasks.length > 0) {
      const task = next === null ? this.tasks.shift() : undefined;
      if (task !== undefined) {
        await task();
        continue;
      }
      const batch: Batch = next ?? this.startBatch(this.stats.lastSeq + 1);
      next = null;
      const sealed = await this.withRetry('SEAL_FAILED', async () => {
        batch.messages = await (batch.sealing ?? this.seal(batch));
        batch.sealing = null;
      }, () => {
        batch.sealing = null;
      });
      // Start sealing what queued up meanwhile, then append this batch while that runs. Not when
      // a task (reopen, rotation) waits: it runs after this append, before anything is sealed ahead.
      if (sealed && this.queue.length > 0 && this.tasks.length === 0) next = this.startBatch(batch.firstSeq + batch.items.length);
      const marks = this.deps.marks === undefined ? [] : marksOf(batch.items);
      const appended =
        sealed &&
        (await this.withRetry('APPEND_FAILED', (attempt) => {
          if (marks.length > 0) this.deps.marks?.beforeAppend(marks, batch.messages.reduce((n, m) => n + m.length, 0));
          // A retry means a failing disk, whose fdatasync can hang for the device's timeouts: it
          // goes to the thread pool, so reading goes on meanwhile (and --on-overload applies).
          return this.deps.appender.append(batch.messages, attempt === 1 ? this.appendOptions : IN_A_FLOOD);
        }));
      if (!appended) {
        // Put everything back so a caller can count what is lost; stop working.
        if (next !== null) this.queue.unshift(...next.items);
        this.queue.unshift(...batch.items);
        return;
      }
      if (marks.length > 0) this.deps.marks?.durable(marks);
      this.stats.lastSeq = batch.firstSeq + batch.items.length - 1;
      this.stats.lastTag = batch.prepared?.blocks.at(-1)?.meta.tag ?? null;
      for (const item of batch.items) {
        if (item.kind === 'data' && item.counted) {
          this.stats.bytes += item.bytes.length;
          this.stats.lines += countNewlines(item.bytes);
        }
      }
      this.queued -= batch.dataBytes;
      this.deps.onProgress?.();
      if (this.deps.afterAppend !== undefined) {
        await this.deps.afterAppend().catch((err: unknown) => this.deps.log.error('AFTER_APPEND', (err as Error).message));
      }
    }
  }

  /** Takes a batch off the queue and starts sealing it; a failure is picked up by the awaiter. */
  private startBatch(firstSeq: number): Batch {
    // Built with all its fields at once: one object shape for every batch (a spread into a
    // literal took V8's slow property-definition path at every block).
    const { items, dataBytes } = takeBatch(this.queue, this.deps.limits);
    const batch: Batch = { items, dataBytes, firstSeq, messages: [], sealing: null, prepared: null };
    batch.sealing = this.seal(batch);
    // Awaited later, inside a retry: do not let a failure count as unhandled meanwhile.
    batch.sealing.catch(() => {});
    return batch;
  }

  private seal(batch: Batch): Promise<Uint8Array[]> {
    const { date, blocks } = (batch.prepared ??= this.prepare(batch));
    return Promise.all(blocks.map(({ bytes, meta }) => this.deps.encryptor.seal(bytes, meta, date)));
  }

  /** Runs synchronously, batch after batch in sequence order: the chain takes positions in turn. */
  private prepare(batch: Batch): Prepared {
    const date = this.now();
    const time = sealSeconds(date);
    const { chain, streamId } = this.deps;
    const blocks = batch.items.map((item, index) => {
      const seq = batch.firstSeq + index;
      const bytes = item.kind === 'data' ? item.bytes : encodeControl(item.make(seq));
      const kind: BlockKind = item.kind === 'control' ? 'control' : item.counted ? 'data' : 'header';
      const source = sourceOf(item);
      // Plain literals, no spreads: this runs for every block.
      if (chain === undefined) return { bytes, meta: { streamId, seq, kind } };
      const letter = kindLetter(kind);
      if (source === undefined) return { bytes, meta: { streamId, seq, kind, tag: chain.tag({ seq, kind: letter, time, plaintext: bytes }) } };
      return { bytes, meta: { streamId, seq, kind, tag: chain.tag({ seq, kind: letter, time, plaintext: bytes, source }), source } };
    });
    return { date, blocks };
  }

  /** Pending bytes and lines that never reached the disk (after a give-up). */
  unwritten(): { bytes: number; lines: number } {
    let bytes = 0;
    let lines = 0;
    for (const item of this.queue) {
      if (item.kind === 'data') {
        bytes += item.bytes.length;
        lines += countNewlines(item.bytes);
      }
    }
    return { bytes, lines };
  }

  private async withRetry(code: string, op: (attempt: number) => Promise<void>, onFailure?: () => void): Promise<boolean> {
    let delay = this.deps.limits.retryMinMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await op(attempt);
        if (attempt > 1) this.deps.log.warn(`${code}_RECOVERED`, `succeeded after ${attempt} attempts`);
        return true;
      } catch (err) {
        onFailure?.();
        // The message names the errno or the library's reason; it never carries block bytes.
        this.deps.log.error(code, `attempt ${attempt}: ${errnoCode(err) ?? (err as Error).message}`);
        if (attempt >= this.maxAttempts) {
          this.failure = err instanceof Error ? err : new Error(String(err));
          return false;
        }
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.deps.limits.retryMaxMs);
      }
    }
  }
}
