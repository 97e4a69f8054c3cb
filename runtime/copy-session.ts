import { hostname } from 'node:os';
import type { Appender } from './appender.ts';
import type { BakedOptions, BakedPath } from './baked.ts';
import { COPY_LIMITS } from './copy-limits.ts';
import { optionsDigest } from './describe.ts';
import { EXIT } from './errors.ts';
import { removeOwnFifo, type OpenedFifo } from './fifo.ts';
import type { Logger } from './log.ts';
import { PipeGuard } from './pipe-guard.ts';
import { PipeSource } from './sources/pipe.ts';
import { SourceLedger } from './sources/ledger.ts';
import { sourceHost } from './sources/host.ts';
import type { Source, SourceGroup, SourceHost } from './sources/source.ts';
import { resumeUnfinished, type Rotation } from './rotation/setup.ts';
import { Heartbeat } from './seal/heartbeat.ts';
import type { LinkFile } from './seal/link-file.ts';
import type { Forwarding } from './sinks/forward/setup.ts';
import type { BlockWriter } from './writer.ts';
import type { ControlRecord } from './metadata.ts';
import { Admission } from './admission.ts';
import { Reading } from './reading.ts';
import { DrainThread, drainRingBytes } from './drain-thread.ts';

/** Something that runs beside the session (--monitor, --report-every): started with it, stopped before stream-end. */
export interface SessionPart {
  start(): void;
  stop(): Promise<void>;
}

/** One run of the copy: from stream-start to stream-end. */
export class CopySession {
  /** Every pipe being read; the last is the one at the baked path. Older ones stay open. */
  private readonly pipes: PipeSource[] = [];
  private stopping = false;
  private ended = false;
  private rotationTimer: NodeJS.Timeout | null = null;
  /** Null without a pipe (a copy for files or sessions only). */
  private readonly guard: PipeGuard | null;
  private readonly heartbeat: Heartbeat | null;
  private readonly ledger: SourceLedger;
  private finish!: (code: number) => void;
  private readonly parts: SessionPart[] = [];
  /** Sources → blocks (bursts, floods, backpressure). */
  private readonly reading: Reading;
  /** Blocks → the writer (filters, overload policy). */
  readonly admission: Admission;
  /** --max-buffer less the drain thread's ring (runtime/drain-thread.ts): ring and writer's queue together stay within it. */
  private readonly overload: BakedOptions['overload'];
  private readonly drainRing: number;

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
    this.drainRing = baked.pipe === null || fifo === null ? 0 : drainRingBytes(baked.overload.maxBufferBytes);
    this.overload = { ...baked.overload, maxBufferBytes: baked.overload.maxBufferBytes - this.drainRing };
    this.ledger = new SourceLedger(writer, streamId);
    this.heartbeat = baked.heartbeatMs === null ? null : new Heartbeat(baked.heartbeatMs, (idleMs) => this.recordEvent('heartbeat', `idle for ${Math.round(idleMs / 1000)} s`));
    this.admission = new Admission({
      baked,
      overload: this.overload,
      streamId,
      writer,
      ledger: this.ledger,
      log,
      touch: () => this.heartbeat?.touch(),
      recordEvent: (event, detail) => this.recordEvent(event, detail),
      recordControl: (make) => this.recordControl(make),
    });
    this.reading = new Reading({ overload: this.overload, writer, log, admit: (block, source) => this.admission.admit(block, source), quit: () => void this.stop('quit string') });
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
    this.admission.start();
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
    this.writer.enqueueControl(() => ({ type: 'event', streamId: this.streamId, at: new Date().toISOString(), event, detail }), undefined, this.admission.takeHeldMarks());
  }

  /** A control record in the encrypted log; after stream-end nothing more is recorded. */
  recordControl(make: (seq: number) => ControlRecord): void {
    if (this.ended) return;
    this.heartbeat?.touch();
    this.writer.enqueueControl(make, undefined, this.admission.takeHeldMarks());
  }

  /** Before run(): a part started with the session and stopped before its stream-end. */
  attach(part: SessionPart): void {
    this.parts.push(part);
  }

  /** Counts for --report-every, since start. */
  get counts(): { written: { lines: number; bytes: number }; dropped: { lines: number; bytes: number } } {
    return { written: { lines: this.writer.stats.lines, bytes: this.writer.stats.bytes }, dropped: { ...this.admission.drops.total } };
  }

  private addPipe(fifo: OpenedFifo): void {
    // The first pipe only: a pipe put back after a replacement is read by the loop, so at most one ring is ever held.
    const drain = this.pipes.length > 0 || this.drainRing === 0 ? null : new DrainThread(fifo.fd, this.drainRing, COPY_LIMITS.drain, this.log);
    const pipe = new PipeSource(fifo, { maxBlockBytes: COPY_LIMITS.maxBlockBytes, partialLineWaitMs: COPY_LIMITS.partialLineWaitMs, quitString: this.baked.quitString }, drain);
    this.pipes.push(pipe);
    pipe.onFailure((err) => {
      this.log.error('PIPE_READ', (err as NodeJS.ErrnoException).code ?? err.message);
      void this.stop('pipe read error');
    });
    this.addSource(pipe);
  }

  private addSource(source: Source): void {
    // Filters count per source; a replaced pipe counts on under the baked path, as before.
    this.admission.addSource(source, source.id ?? this.baked.pipe?.path ?? 'pipe');
    this.reading.add(source);
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
        this.admission.removeSource(source);
        return this.reading.remove(source);
      },
      take: (source, chunk, now) => this.reading.take(source, chunk, now),
      admit: (block, source) => this.admission.admit(block, source),
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
    if (this.writer.queuedBytes > this.overload.maxBufferBytes / 2) return;
    this.admission.endDropEpisode();
    if (!this.stopping) this.reading.resume();
  }

  private async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.admission.beginStop();
    this.guard?.stop();
    this.heartbeat?.stop();
    for (const group of this.groups) group.stop();
    // From here the stop loop alone takes data.
    this.reading.stop();
    const { sources } = this.reading;
    let code: number = EXIT.ok;
    this.writer.boundRetries(COPY_LIMITS.stopAttempts);
    try {
      // Lines already in the kernel's pipe buffer were written before the stop: keep them.
      // Writers may go on writing while we wait for the disk, so drain again until a drain finds
      // nothing, and close in that same synchronous step: from then on a write fails with EPIPE
      // (the writer knows) instead of landing in a buffer nobody will read.
      while (this.reading.pullEverything() > 0) {
        await this.writer.idle();
      }
      for (const source of sources) source.stop();
      for (const source of sources) for (const block of source.finalBlocks(Date.now())) this.admission.admit(block, source);
      this.ledger.endAll(`copy stopped: ${reason}`);
      this.admission.finish();
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
        ...this.admission.totals,
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
    for (const source of sources) source.stop(); // no-op when already closed above
    await this.appender.close().catch(() => {});
    await this.seal.linkFile?.close().catch(() => {});
    // Ships the stream-end and what else is left, briefly; the saved position covers the rest.
    await this.forwarding?.stop().catch((err: unknown) => this.log.error('FORWARD_STOP', (err as Error).message));
    const pipePath = this.baked.pipe?.path;
    if (pipePath !== undefined) for (const pipe of this.pipes) removeOwnFifo(pipePath, pipe.fifo, this.log);
    const { total } = this.admission.drops;
    const dropped = total.lines + total.bytes > 0 ? `, ${total.lines} lines / ${total.bytes} bytes dropped under overload` : '';
    this.log.info('STOPPED', `${reason}: ${this.writer.stats.lines} lines, ${this.writer.stats.bytes} bytes, last sequence ${this.writer.stats.lastSeq}${dropped}`);
    this.finish(code);
  }
}
