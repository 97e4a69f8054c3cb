import type { Logger } from '../../log.ts';
import { Backoff } from './backoff.ts';
import { loadPosition, savePosition, type ForwardPosition } from './position.ts';
import { SpoolReader } from './spool-reader.ts';
import type { Connection, Transport } from './transport.ts';

/** Bounds of one forwarder, with their reasons. */
export const FORWARD_LIMITS = {
  /** Bytes of messages sent before waiting for the far side: bounds what is sent twice after a drop. */
  batchBytes: 1024 * 1024,
  /** The log is also checked on this timer (the writer's nudge covers the usual case). */
  pollMs: 500,
  /** While behind, the backlog is reported at most this often. */
  behindReportMs: 60_000,
} as const;

export interface ForwarderDeps {
  readonly transport: Transport;
  readonly logPath: string;
  readonly positionFile: string;
  /** Owner and mode of the position file: the log's. */
  readonly fileLike: { readonly mode: number; readonly uid: number; readonly gid: number };
  readonly log: Logger;
  /** An event in the encrypted log (outage began, ended): it is forwarded like any block. */
  readonly record: (event: string, detail: string) => void;
  readonly backoff?: Backoff;
}

/**
 * Ships every whole message of the local log, in order, at least once: read a batch from the
 * saved position, send it, and only when the far side confirmed it move the saved position on.
 * A failure closes the link and retries the same batch after a backoff (1 s doubling to 1 min).
 * It never touches the pipe or the writer: an outage only makes the backlog in the log grow.
 */
export class Forwarder {
  private readonly reader: SpoolReader;
  private readonly backoff: Backoff;
  private conn: Connection | null = null;
  private stopped = false;
  /** Reads of the log started, and the last one that found nothing new: "caught up" at that read. */
  private readsStarted = 0;
  private emptyRead = -1;
  /** Ends the current wait: a poll wait on `notify`, any wait on `stop`. */
  private wakeUp: (() => void) | null = null;
  private wakeIsPoll = false;
  private running: Promise<void> | null = null;
  private outageSince: number | null = null;
  private shipped = 0;

  constructor(private readonly deps: ForwarderDeps) {
    this.reader = new SpoolReader(deps.logPath, deps.log);
    this.backoff = deps.backoff ?? new Backoff();
  }

  get label(): string {
    return this.deps.transport.label;
  }

  /** Messages confirmed by the far side since start. */
  get shippedMessages(): number {
    return this.shipped;
  }

  start(): void {
    this.running ??= this.run().catch((err: unknown) => {
      this.deps.log.error('FORWARD_FAILED', `${this.label}: ${(err as Error).message}; forwarding stopped until the next start`);
      this.deps.record('forward-failed', `${this.label}: ${(err as Error).message}`);
    });
  }

  /** New data was appended: look now rather than at the next poll. */
  notify(): void {
    // Only the idle poll: a backoff after a failure is not cut short by new data.
    if (this.wakeIsPoll) this.wakeUp?.();
  }

  /** True once this forwarder has shipped the aside file (rotation may remove it). */
  doneWith(aside: string): Promise<boolean> {
    return this.reader.doneWith(aside);
  }

  /** Ships what is left for up to `waitMs`, then stops; the saved position says where it got. */
  async stop(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    // Caught up means a read that began after this call found nothing: the stream-end included.
    const wanted = this.readsStarted + 1;
    while (this.emptyRead < wanted && Date.now() < deadline && this.running !== null) {
      this.notify();
      await delay(50);
    }
    this.stopped = true;
    this.wakeUp?.();
    // Closing the link first ends a send that waits for an answer that will not come.
    await this.conn?.close().catch(() => {});
    await this.running;
    await this.conn?.close().catch(() => {});
    this.conn = null;
    await this.reader.close();
  }

  private async run(): Promise<void> {
    let opened = false;
    while (!this.stopped) {
      // Reading the log, sending, saving the position: any failure is retried the same way,
      // from the last confirmed position, after a backoff.
      try {
        if (!opened) {
          await this.openReader();
          opened = true;
        }
        const read = (this.readsStarted += 1);
        const chunk = await this.reader.next(FORWARD_LIMITS.batchBytes);
        if (chunk === null) {
          this.emptyRead = read;
          await this.wait(FORWARD_LIMITS.pollMs, true);
          continue;
        }
        if (chunk.messages.length > 0) await (await this.connection()).send(chunk.messages);
        this.save(await this.reader.commit(chunk));
        this.shipped += chunk.messages.length;
        this.backoff.reset();
        this.endOutage();
      } catch (err) {
        await this.conn?.close().catch(() => {});
        this.conn = null;
        if (this.stopped) break;
        this.beginOutage(err);
        await this.wait(this.backoff.take(), false);
      }
    }
  }

  private async openReader(): Promise<void> {
    const saved = loadPosition(this.deps.positionFile);
    const found = await this.reader.open(saved);
    if (!found) {
      const detail = `${this.label}: the saved position names a log file that is gone; forwarding starts again at the oldest file (the far side drops what it already has)`;
      this.deps.log.warn('FORWARD_POSITION_LOST', detail);
      this.deps.record('forward-position-lost', detail);
    }
  }

  private async connection(): Promise<Connection> {
    if (this.conn !== null) return this.conn;
    const conn = await this.deps.transport.connect();
    this.conn = conn;
    // A link that dies while idle is dropped at once, so the next batch reconnects.
    const forget = () => {
      if (this.conn === conn) this.conn = null;
    };
    conn.closed.then(forget, forget);
    this.deps.log.info('FORWARD_CONNECTED', this.label);
    return conn;
  }

  private save(position: ForwardPosition): void {
    savePosition(this.deps.positionFile, position, this.deps.fileLike);
  }

  private beginOutage(err: unknown): void {
    const reason = (err as Error).message ?? String(err);
    if (this.outageSince === null) {
      this.outageSince = Date.now();
      this.deps.log.warn('FORWARD_DOWN', `${this.label}: ${reason}; the log keeps every block, retrying with backoff`);
      this.deps.record('forward-down', `${this.label}: ${reason}`);
    } else {
      this.deps.log.debug('FORWARD_RETRY', `${this.label}: ${reason}`);
    }
  }

  private endOutage(): void {
    if (this.outageSince === null) return;
    const seconds = Math.round((Date.now() - this.outageSince) / 1000);
    this.outageSince = null;
    this.deps.log.warn('FORWARD_RESTORED', `${this.label}: shipping again after ${seconds} s`);
    this.deps.record('forward-restored', `${this.label}: after ${seconds} s`);
  }

  /** Sleeps up to `ms`; `stop` ends it early, and `notify` too when it is the idle poll. */
  private wait(ms: number, poll: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.wakeIsPoll = poll;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
