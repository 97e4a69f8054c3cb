import { hostname } from 'node:os';
import type { Appender } from './appender.ts';
import type { BakedOptions } from './baked.ts';
import { BurstPacer } from './burst-pacer.ts';
import { COPY_LIMITS } from './copy-limits.ts';
import { optionsDigest } from './describe.ts';
import { EXIT } from './errors.ts';
import { removeOwnFifo, type OpenedFifo } from './fifo.ts';
import type { Logger } from './log.ts';
import { DropCounter } from './overload.ts';
import { PipeGuard } from './pipe-guard.ts';
import { PipeSource } from './pipe-source.ts';
import { resumeUnfinished, type Rotation } from './rotation/setup.ts';
import { Heartbeat } from './seal/heartbeat.ts';
import type { LinkFile } from './seal/link-file.ts';
import type { Forwarding } from './sinks/forward/setup.ts';
import type { BlockWriter } from './writer.ts';

/** One run of the copy: from stream-start to stream-end. */
export class CopySession {
  /** Every pipe being read; the last is the one at the baked path. Older ones stay open. */
  private readonly sources: PipeSource[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private gatherTimer: NodeJS.Timeout | null = null;
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
  private readonly guard: PipeGuard;
  private readonly heartbeat: Heartbeat | null;
  private finish!: (code: number) => void;

  constructor(
    private readonly baked: BakedOptions,
    private readonly log: Logger,
    fifo: OpenedFifo,
    private readonly appender: Appender,
    private readonly writer: BlockWriter,
    private readonly streamId: string,
    private readonly rotation: Rotation | null,
    private seal: { key: string; readonly linkFile: LinkFile | null },
    private readonly forwarding: Forwarding | null = null,
  ) {
    this.heartbeat = baked.heartbeatMs === null ? null : new Heartbeat(baked.heartbeatMs, (idleMs) => this.recordEvent('heartbeat', `idle for ${Math.round(idleMs / 1000)} s`));
    this.addSource(fifo);
    this.guard = new PipeGuard({
      pipe: baked.pipe,
      log,
      record: (event, detail) => this.recordEvent(event, detail),
      current: () => this.current.fifo,
      adopt: (fresh) => {
        if (this.stopping) return false;
        this.addSource(fresh);
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
    this.forwarding?.start();
    this.guard.start(COPY_LIMITS.pipeCheckMs);
    this.heartbeat?.start();
    this.log.info('STARTED', `stream ${this.streamId}: reading ${this.baked.pipe.path}, appending to ${this.baked.output.path}`);
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
    this.writer.enqueueControl(() => ({ type: 'event', streamId: this.streamId, at: new Date().toISOString(), event, detail }));
  }

  private addSource(fifo: OpenedFifo): void {
    const source = new PipeSource(fifo, { maxBlockBytes: COPY_LIMITS.maxBlockBytes, partialLineWaitMs: COPY_LIMITS.partialLineWaitMs, quitString: this.baked.quitString });
    this.sources.push(source);
    source.onChunk((chunk) => this.onData(source, chunk));
    source.socket.on('error', (err) => {
      this.log.error('PIPE_READ', (err as NodeJS.ErrnoException).code ?? err.message);
      void this.stop('pipe read error');
    });
    if (this.paused || this.gatherTimer !== null) source.pause();
  }

  private get current(): PipeSource {
    return this.sources[this.sources.length - 1] as PipeSource;
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
      if (this.gatherTimer === null) for (const source of this.sources) source.resume();
    }
  }

  private endDropEpisode(): void {
    const episode = this.drops.end(new Date());
    if (episode === null) return;
    const detail = `${episode.lines} lines, ${episode.bytes} bytes dropped from ${episode.since} to ${episode.until}: writers were faster than encryption and the ${this.baked.overload.maxBufferBytes}-byte buffer was full`;
    this.log.warn('OVERLOAD_DROPPED', detail);
    this.recordEvent('overload-dropped', detail);
  }

  private onData(source: PipeSource, chunk: Buffer): void {
    const now = Date.now();
    this.take(source, chunk, now);
    if (source.framer.quitRequested) {
      void this.stop('quit string');
      return;
    }
    this.lastDataAt = now;
    if (!this.pacer.streaming) {
      this.startGather(now);
      return;
    }
    if (this.pendingSince === null && source.framer.pendingBytes > 0) this.pendingSince = now;
    if (this.pendingSince !== null && now - this.pendingSince >= COPY_LIMITS.maxBlockAgeMs) this.flushIdle(now);
    this.armTimer(COPY_LIMITS.idleFlushMs);
    this.applyBackpressure(now);
  }

  private startGather(now: number): void {
    if (this.gatherTimer !== null) return;
    for (const s of this.sources) s.pause();
    this.gatherTimer = setTimeout(() => this.endGather(), this.pacer.startGather(now));
  }

  /** Takes the whole burst from the pipe, seals it as one block, reads on. */
  private endGather(): void {
    this.gatherTimer = null;
    if (this.stopping) return;
    // At most the room left in --max-buffer (but enough to tell a flood): a flood's writer refills
    // the pipe as fast as this drains it, and an unbounded drain went megabytes past the buffer
    // before the first backpressure check. What is left is read as a flood, chunk by chunk.
    const room = this.baked.overload.maxBufferBytes - this.writer.queuedBytes;
    const got = this.pullEverything(Math.max(room, COPY_LIMITS.streamAfterBytes));
    if (this.quitRequested) {
      void this.stop('quit string');
      return;
    }
    const now = Date.now();
    this.flushIdle(now);
    this.pacer.endGather(now, got);
    if (this.pacer.streaming) {
      this.lastDataAt = now;
      this.armTimer(COPY_LIMITS.idleFlushMs);
    } else if (this.pendingBytes > 0) {
      // Only a partial line can still be pending: come back when its wait is over.
      this.armTimer(COPY_LIMITS.partialLineWaitMs);
    }
    this.applyBackpressure(now);
    if (!this.paused) for (const s of this.sources) s.resume();
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

  private take(source: PipeSource, chunk: Buffer, now: number): void {
    const { blocks } = source.framer.push(chunk, now);
    for (const block of blocks) this.admit(block);
  }

  /** Every block the framer makes goes through here: into the writer's queue, or counted as dropped. */
  private admit(block: Buffer): void {
    const { policy, maxBufferBytes } = this.baked.overload;
    if (policy === 'drop' && (this.drops.dropping || this.writer.queuedBytes + block.length > maxBufferBytes)) {
      this.drops.drop(block, new Date());
      return;
    }
    this.heartbeat?.touch();
    this.writer.enqueueData(block);
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
    for (const source of this.sources) for (const block of source.framer.flushIdle(now)) this.admit(block);
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
    if (this.gatherTimer !== null) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    this.guard.stop();
    this.heartbeat?.stop();
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
      for (const source of this.sources) source.socket.destroy();
      for (const source of this.sources) for (const block of source.framer.flushAll()) this.admit(block);
      this.endDropEpisode();
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
        reason,
      }));
      await this.writer.idle();
      await this.writeLink();
    } catch (err) {
      const lost = this.writer.unwritten();
      this.log.error('STOP_INCOMPLETE', `could not write everything before stopping: ${lost.lines} lines, ${lost.bytes} bytes not on disk (${(err as Error).message})`);
      code = EXIT.failed;
    }
    for (const source of this.sources) source.socket.destroy(); // no-op when already closed above
    await this.appender.close().catch(() => {});
    await this.seal.linkFile?.close().catch(() => {});
    // Ships the stream-end and what else is left, briefly; the saved position covers the rest.
    await this.forwarding?.stop().catch((err: unknown) => this.log.error('FORWARD_STOP', (err as Error).message));
    for (const source of this.sources) removeOwnFifo(this.baked.pipe.path, source.fifo, this.log);
    const dropped = this.drops.total.lines + this.drops.total.bytes > 0 ? `, ${this.drops.total.lines} lines / ${this.drops.total.bytes} bytes dropped under overload` : '';
    this.log.info('STOPPED', `${reason}: ${this.writer.stats.lines} lines, ${this.writer.stats.bytes} bytes, last sequence ${this.writer.stats.lastSeq}${dropped}`);
    this.finish(code);
  }
}
