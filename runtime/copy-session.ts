import { hostname } from 'node:os';
import type { Appender } from './appender.ts';
import type { BakedOptions, BakedPath } from './baked.ts';
import { BurstPacer } from './burst-pacer.ts';
import { COPY_LIMITS } from './copy-limits.ts';
import { optionsDigest } from './describe.ts';
import { EXIT } from './errors.ts';
import { removeOwnFifo, sleepThread, type OpenedFifo } from './fifo.ts';
import { youngGenerationMayGrow } from './heap-tuning.ts';
import type { Logger } from './log.ts';
import { DropCounter } from './overload.ts';
import { PipeGuard } from './pipe-guard.ts';
import { PipeSource } from './sources/pipe.ts';
import { SourceLedger } from './sources/ledger.ts';
import { sourceHost } from './sources/host.ts';
import type { Source, SourceGroup, SourceHost } from './sources/source.ts';
import { resumeUnfinished, type Rotation } from './rotation/setup.ts';
import { Heartbeat } from './seal/heartbeat.ts';
import type { LinkFile } from './seal/link-file.ts';
import type { Forwarding } from './sinks/forward/setup.ts';
import type { BlockOrigin, BlockWriter } from './writer.ts';
import { Filtering } from './filters/filtering.ts';
import type { LineFilter } from './filters/line-filter.ts';
import type { ControlRecord } from './metadata.ts';

/** Something that runs beside the session (--monitor, --report-every): started with it, stopped before stream-end. */
export interface SessionPart {
  start(): void;
  stop(): Promise<void>;
}

/** One run of the copy: from stream-start to stream-end. */
export class CopySession {
  /** Everything being read: the pipes and any other sources. */
  private readonly sources: Source[] = [];
  /** Every pipe being read; the last is the one at the baked path. Older ones stay open. */
  private readonly pipes: PipeSource[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly pacer = new BurstPacer(COPY_LIMITS);
  private lastDataAt = 0;
  private pendingSince: number | null = null;
  private stopping = false;
  private ended = false;
  private paused = false;
  private pauses = 0;
  private pausesSaidAt = Number.NEGATIVE_INFINITY;
  private readonly drops = new DropCounter();
  private rotationTimer: NodeJS.Timeout | null = null;
  /** Null without a pipe (a copy for files or sessions only). */
  private readonly guard: PipeGuard | null;
  private readonly heartbeat: Heartbeat | null;
  private readonly ledger: SourceLedger;
  private finish!: (code: number) => void;
  /** --ignore / --keep: null when no filter is set, so unfiltered copies look at no line. */
  readonly filtering: Filtering | null;
  private readonly lineFilters = new Map<Source, LineFilter>();
  private readonly parts: SessionPart[] = [];
  private heldMarks: unknown[] = [];
  private heldMarksTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly baked: BakedOptions,
    private readonly log: Logger,
    /** Null when the copy has no pipe (--watch-file / --session-dir only). */
    fifo: OpenedFifo | null,
    private readonly appender: Appender,
    private readonly writer: BlockWriter,
    private readonly streamId: string,
    private readonly rotation: Rotation | null,
    private seal: { key: string; readonly linkFile: LinkFile | null },
    private readonly forwarding: Forwarding | null = null,
    /** Sources besides the pipe: watched files, a session directory. */
    private readonly groups: readonly SourceGroup[] = [],
  ) {
    this.ledger = new SourceLedger(writer, streamId);
    this.heartbeat = baked.heartbeatMs === null ? null : new Heartbeat(baked.heartbeatMs, (idleMs) => this.recordEvent('heartbeat', `idle for ${Math.round(idleMs / 1000)} s`));
    this.filtering = baked.filters === undefined ? null : new Filtering(baked.filters, (report) => this.recordControl(() => ({ type: 'filtered', streamId, at: new Date().toISOString(), ...report })));
    this.guard = baked.pipe === null || fifo === null ? null : this.guardPipe(baked.pipe, fifo);
  }

  private guardPipe(pipe: BakedPath, fifo: OpenedFifo): PipeGuard {
    const { log } = this;
    this.addPipe(fifo);
    return new PipeGuard({
      pipe,
      log,
      record: (event, detail) => this.recordEvent(event, detail),
      current: () => this.current.fifo,
      adopt: (fresh) => {
        if (this.stopping) return false;
        this.addPipe(fresh);
        return true;
      },
    });
  }

  /** `early`: events noticed before the stream began, recorded right after its stream-start. */
  run(early: ReadonlyArray<readonly [string, string]>): Promise<number> {
    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    this.writer.enqueueControl(() => ({
      type: 'stream-start',
      streamId: this.streamId,
      host: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
      copyVersion: this.baked.copyVersion,
      optionsDigest: optionsDigest(this.baked),
      sealKey: this.takeSealKey(),
      previous: this.seal.linkFile?.previous ?? null,
      ...(this.baked.heartbeatMs === null ? {} : { heartbeatMs: this.baked.heartbeatMs }),
    }));
    for (const [event, detail] of early) this.recordEvent(event, detail);
    if (this.baked.header.length > 0) {
      this.writer.enqueueData(Buffer.from(this.baked.header.map((line) => `${line}\n`).join(''), 'utf8'), false);
    }
    const onStop = (signal: NodeJS.Signals) => () => void this.stop(`signal ${signal}`);
    const handlers = { SIGTERM: onStop('SIGTERM'), SIGINT: onStop('SIGINT'), SIGHUP: () => this.writer.requestReopen() };
    for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
    void done.then(() => {
      for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
    });
    this.startRotation();
    for (const group of this.groups) group.start(this.host());
    this.forwarding?.start();
    this.guard?.start(COPY_LIMITS.pipeCheckMs);
    this.heartbeat?.start();
    this.filtering?.start();
    for (const part of this.parts) part.start();
    const reading = this.baked.pipe?.path ?? 'its files and sessions only (no pipe; SIGTERM or SIGINT stops it)';
    this.log.info('STARTED', `stream ${this.streamId}: reading ${reading}, appending to ${this.baked.output.path}`);
    return done;
  }

  /** k_0 for the stream-start record, handed out once and dropped here. */
  private takeSealKey(): string {
    const key = this.seal.key;
    this.seal = { key: '', linkFile: this.seal.linkFile };
    return key;
  }

  /** After a clean stop: where this stream ended, for the next stream's start to link to. */
  private async writeLink(): Promise<void> {
    const { lastSeq, lastTag } = this.writer.stats;
    if (this.seal.linkFile === null || lastTag === null) return;
    await this.seal.linkFile.write({ streamId: this.streamId, lastSeq, lastTag }).catch((err: unknown) => this.log.warn('SEAL_LINK', `could not record where this stream ended: ${(err as Error).message}`));
  }

  /** An event in the encrypted log; after stream-end only in the diagnostics. */
  recordEvent(event: string, detail: string): void {
    if (this.ended) return;
    this.heartbeat?.touch();
    this.writer.enqueueControl(() => ({ type: 'event', streamId: this.streamId, at: new Date().toISOString(), event, detail }), undefined, this.takeHeldMarks());
  }

  /** A control record in the encrypted log; after stream-end nothing more is recorded. */
  recordControl(make: (seq: number) => ControlRecord): void {
    if (this.ended) return;
    this.heartbeat?.touch();
    this.writer.enqueueControl(make, undefined, this.takeHeldMarks());
  }

  /** Before run(): a part started with the session and stopped before its stream-end. */
  attach(part: SessionPart): void {
    this.parts.push(part);
  }

  /** Counts for --report-every, since start. */
  get counts(): { written: { lines: number; bytes: number }; dropped: { lines: number; bytes: number } } {
    return { written: { lines: this.writer.stats.lines, bytes: this.writer.stats.bytes }, dropped: { ...this.drops.total } };
  }

  private addPipe(fifo: OpenedFifo): void {
    const pipe = new PipeSource(fifo, { maxBlockBytes: COPY_LIMITS.maxBlockBytes, partialLineWaitMs: COPY_LIMITS.partialLineWaitMs, quitString: this.baked.quitString });
    this.pipes.push(pipe);
    pipe.onFailure((err) => {
      this.log.error('PIPE_READ', (err as NodeJS.ErrnoException).code ?? err.message);
      void this.stop('pipe read error');
    });
    this.addSource(pipe);
  }

  /** Starts taking a source's chunks; it is paused at once when reading is paused. */
  private addSource(source: Source): void {
    this.sources.push(source);
    // Filters count per source; a replaced pipe counts on under the baked path, as before.
    if (this.filtering !== null) this.lineFilters.set(source, this.filtering.forSource(source.id ?? this.baked.pipe?.path ?? 'pipe'));
    source.onChunk((chunk) => this.onData(source, chunk));
    if (this.paused) source.pause();
  }

  /** What a group of sources may do with the session. */
  private host(): SourceHost {
    return sourceHost({
      log: this.log,
      ledger: this.ledger,
      stopping: () => this.stopping,
      ended: () => this.ended,
      add: (source) => this.addSource(source),
      remove: (source) => {
        const at = this.sources.indexOf(source);
        if (at >= 0) this.sources.splice(at, 1);
        this.lineFilters.delete(source);
        return at >= 0;
      },
      take: (source, chunk, now) => this.take(source, chunk, now),
      admit: (block, source) => this.admit(block, source),
      record: (event, detail) => this.recordEvent(event, detail),
    });
  }

  private get current(): PipeSource {
    return this.pipes[this.pipes.length - 1] as PipeSource;
  }

  private startRotation(): void {
    if (this.rotation === null) return;
    const { trigger, intervalMs } = this.rotation;
    resumeUnfinished(this.rotation, this.baked.output.path);
    if (intervalMs !== null) {
      this.rotationTimer = setInterval(() => this.writer.runBetweenBatches(() => trigger.onTimer()), intervalMs);
    }
  }

  /** Reading resumes, and a drop episode ends, once the buffer is half empty again. */
  onWriterProgress(): void {
    if (this.writer.queuedBytes > this.baked.overload.maxBufferBytes / 2) return;
    this.endDropEpisode();
    if (this.paused && !this.stopping) {
      this.paused = false;
      for (const source of this.sources) source.resume();
    }
  }

  private endDropEpisode(): void {
    const episode = this.drops.end(new Date());
    if (episode === null) return;
    const detail = `${episode.lines} lines, ${episode.bytes} bytes dropped from ${episode.since} to ${episode.until}: writers were faster than encryption and the ${this.baked.overload.maxBufferBytes}-byte buffer was full`;
    this.log.warn('OVERLOAD_DROPPED', detail);
    this.recordEvent('overload-dropped', detail);
  }

  private onData(source: Source, chunk: Buffer): void {
    const now = Date.now();
    this.take(source, chunk, now);
    if (source.framer.quitRequested) {
      void this.stop('quit string');
      return;
    }
    this.lastDataAt = now;
    if (!this.pacer.streaming) {
      this.gather(now);
      return;
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
      const room = this.baked.overload.maxBufferBytes - this.writer.queuedBytes;
      const n = this.pullEverything(Math.max(room, COPY_LIMITS.streamAfterBytes - got));
      got += n;
      if (n === 0 && step < ms) break; // a quiet step: the burst is complete
    }
    this.endGather(got);
  }

  /** Seals what the gather took as one block, reads on. */
  private endGather(got: number): void {
    if (this.quitRequested) {
      void this.stop('quit string');
      return;
    }
    const now = Date.now();
    this.flushIdle(now);
    this.pacer.endGather(now, got);
    youngGenerationMayGrow(this.pacer.streaming);
    if (this.pacer.streaming) {
      this.lastDataAt = now;
      this.armTimer(COPY_LIMITS.idleFlushMs);
    } else if (this.pendingBytes > 0) {
      // Only a partial line can still be pending: come back when its wait is over.
      this.armTimer(COPY_LIMITS.partialLineWaitMs);
    }
    this.applyBackpressure(now);
  }

  private applyBackpressure(now: number): void {
    if (this.baked.overload.policy === 'block' && !this.paused && this.writer.queuedBytes > this.baked.overload.maxBufferBytes) {
      // Backpressure: the kernel pipe buffer fills and writers block; nothing is dropped.
      this.paused = true;
      for (const s of this.sources) s.pause();
      // A flood pauses reading many times a second: say so once per interval, with a count.
      this.pauses += 1;
      if (now - this.pausesSaidAt >= COPY_LIMITS.backpressureReportMs) {
        this.log.warn('BACKPRESSURE', `writers are faster than encryption: reads paused ${this.pauses} time(s) since the last report (${this.writer.queuedBytes} bytes waiting)`);
        this.pausesSaidAt = now;
        this.pauses = 0;
      }
    }
  }

  private take(source: Source, chunk: Buffer, now: number): void {
    const { blocks } = source.framer.push(chunk, now);
    for (const block of blocks) this.admit(block, source);
  }

  /** Every block a framer makes goes through here: filtered, then into the writer's queue, or counted as dropped. */
  private admit(framed: Buffer, source: Source): void {
    // On the whole framed block: a watched file's position covers every byte read, kept or not.
    const origin = source.originOf(framed);
    const block = this.filtering === null ? framed : (this.lineFilters.get(source)?.apply(framed) ?? framed);
    if (block.length === 0) {
      this.holdMarks(origin);
      return;
    }
    const { policy, maxBufferBytes } = this.baked.overload;
    if (policy === 'drop' && (this.drops.dropping || this.writer.queuedBytes + block.length > maxBufferBytes)) {
      this.drops.drop(block, new Date());
      this.holdMarks(origin);
      return;
    }
    this.heartbeat?.touch();
    this.ledger.count(source.id, block);
    const held = this.takeHeldMarks();
    this.writer.enqueueData(block, true, held.length === 0 ? origin : { ...origin, marks: [...held, ...(origin?.marks ?? [])] });
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
    if (this.filtering !== null && this.heldMarksTimer === null && !this.stopping) {
      this.heldMarksTimer = setTimeout(() => {
        this.heldMarksTimer = null;
        this.filtering?.flush(false);
      }, COPY_LIMITS.heldMarksFlushMs);
    }
  }

  private takeHeldMarks(): unknown[] {
    if (this.heldMarks.length === 0) return [];
    const held = this.heldMarks;
    this.heldMarks = [];
    return held;
  }

  private get quitRequested(): boolean {
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
      youngGenerationMayGrow(false);
      this.flushIdle(now);
      if (this.quitRequested) {
        void this.stop('quit string');
        return;
      }
      // Only a partial line can still be pending: come back when its wait is over.
      if (this.pendingBytes > 0) this.armTimer(COPY_LIMITS.partialLineWaitMs);
    }, ms);
  }

  private flushIdle(now: number): void {
    for (const source of this.sources) for (const block of source.framer.flushIdle(now)) this.admit(block, source);
    this.pendingSince = this.pendingBytes > 0 ? now : null;
  }

  /** Takes every byte in every pipe (at most `maxBytes` in all), synchronously; returns how many. */
  private pullEverything(maxBytes = Number.POSITIVE_INFINITY): number {
    let total = 0;
    for (const source of this.sources) total += source.pullEverything((chunk) => this.take(source, chunk, Date.now()), maxBytes - total);
    return total;
  }

  private async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.heldMarksTimer !== null) clearTimeout(this.heldMarksTimer);
    this.guard?.stop();
    this.heartbeat?.stop();
    for (const group of this.groups) group.stop();
    for (const source of this.sources) {
      // From here the stop loop alone takes data.
      source.onChunk(null);
      source.pause();
    }
    let code: number = EXIT.ok;
    this.writer.boundRetries(COPY_LIMITS.stopAttempts);
    try {
      // Lines already in the kernel's pipe buffer were written before the stop: keep them.
      // Writers may go on writing while we wait for the disk, so drain again until a drain finds
      // nothing, and close in that same synchronous step: from then on a write fails with EPIPE
      // (the writer knows) instead of landing in a buffer nobody will read.
      while (this.pullEverything() > 0) {
        await this.writer.idle();
      }
      for (const source of this.sources) source.stop();
      for (const source of this.sources) for (const block of source.finalBlocks(Date.now())) this.admit(block, source);
      this.ledger.endAll(`copy stopped: ${reason}`);
      this.endDropEpisode();
      this.filtering?.stop();
      this.filtering?.flush(true);
      await this.writer.idle();
      // Once everything read is written: a final report counts it all; the parts' records precede the stream-end.
      await Promise.all(this.parts.map((part) => part.stop().catch((err: unknown) => this.log.error('STOP_PART', (err as Error).message))));
      await this.writer.idle();
      if (this.rotationTimer !== null) clearInterval(this.rotationTimer);
      if (this.rotation !== null) {
        this.rotation.trigger.stop();
        const settled = await this.rotation.rotator.settle(COPY_LIMITS.stopRotationWaitMs);
        this.rotation.rotator.stop();
        if (!settled) this.log.warn('ROTATION_UNFINISHED', `${this.rotation.rotator.pending} rotation(s) left as .aside files; the next start finishes them`);
        await this.writer.idle();
      }
      this.ended = true;
      this.writer.enqueueControl((seq) => ({
        type: 'stream-end',
        streamId: this.streamId,
        endedAt: new Date().toISOString(),
        lastSeq: seq,
        lines: this.writer.stats.lines,
        bytes: this.writer.stats.bytes,
        droppedLines: this.drops.total.lines,
        droppedBytes: this.drops.total.bytes,
        ...(this.filtering === null ? {} : { filteredLines: this.filtering.tally.totals().lines, filteredBytes: this.filtering.tally.totals().bytes }),
        reason,
      }));
      await this.writer.idle();
      for (const group of this.groups) group.settled();
      await this.writeLink();
    } catch (err) {
      const lost = this.writer.unwritten();
      this.log.error('STOP_INCOMPLETE', `could not write everything before stopping: ${lost.lines} lines, ${lost.bytes} bytes not on disk (${(err as Error).message})`);
      code = EXIT.failed;
    }
    for (const source of this.sources) source.stop(); // no-op when already closed above
    await this.appender.close().catch(() => {});
    await this.seal.linkFile?.close().catch(() => {});
    // Ships the stream-end and what else is left, briefly; the saved position covers the rest.
    await this.forwarding?.stop().catch((err: unknown) => this.log.error('FORWARD_STOP', (err as Error).message));
    const pipePath = this.baked.pipe?.path;
    if (pipePath !== undefined) for (const pipe of this.pipes) removeOwnFifo(pipePath, pipe.fifo, this.log);
    const dropped = this.drops.total.lines + this.drops.total.bytes > 0 ? `, ${this.drops.total.lines} lines / ${this.drops.total.bytes} bytes dropped under overload` : '';
    this.log.info('STOPPED', `${reason}: ${this.writer.stats.lines} lines, ${this.writer.stats.bytes} bytes, last sequence ${this.writer.stats.lastSeq}${dropped}`);
    this.finish(code);
  }
}
