import { basename } from 'node:path';
import { promises as fsp } from 'node:fs';
import type { BakedRotation } from '../baked.ts';
import type { RecipientKeys } from '../recipients.ts';
import { errnoCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { lstatOrNull } from '../paths.ts';
import { archiveInMemory, writeArchive } from './archive.ts';
import type { Mailer } from './mail.ts';
import { archivePath, keptPath, mailedMarker, rotationIdOf } from './names.ts';

/** Backoff for a failing rotation action: quick first retries, then at most every 5 minutes. */
export const ROTATION_RETRY = { minMs: 1000, maxMs: 300_000 } as const;

export interface RotatorDeps {
  readonly rotation: BakedRotation;
  readonly log: string;
  readonly keys: RecipientKeys;
  readonly mailer: Mailer | null;
  /** The newest sealed block on disk, as an off-host anchor for the mail; null when none. */
  readonly anchor?: () => string | null;
  readonly logger: Logger;
  /** Records an event in the encrypted log (a control block). */
  readonly record: (event: string, detail: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Forwarding: resolves once every forwarder has shipped the aside file (it is read, not moved, before). */
  readonly holdAside?: (aside: string) => Promise<void>;
}

/**
 * Finishes rotations in the background, one aside file at a time, oldest first. Every step can
 * be repeated after a crash without harm: an archive already in place is not written again, a
 * mail already sent (marker file) is not sent again, and the aside file is removed or kept only
 * after every requested action succeeded. A failed action is retried with backoff and recorded.
 */
export class Rotator {
  private readonly queue: string[] = [];
  private running: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: RotatorDeps) {
    this.sleep =
      deps.sleep ??
      ((ms) =>
        new Promise((resolve) => {
          const t = setTimeout(resolve, ms);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        }));
  }

  get pending(): number {
    return this.queue.length;
  }

  enqueue(aside: string): void {
    if (!this.queue.includes(aside)) this.queue.push(aside);
    this.running ??= this.work().finally(() => {
      this.running = null;
    });
  }

  /** Waits up to `ms` for the queue to empty; true when it did. Used at stop. */
  async settle(ms: number): Promise<boolean> {
    const done = this.running ?? Promise.resolve();
    // A referenced timer: a stalled action must not leave the event loop empty (the copy would
    // exit without its stream-end record); the bound has to fire.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), ms);
    });
    const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    return outcome === 'done';
  }

  /** Stops retrying: what is left stays as aside files for the next start. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async work(): Promise<void> {
    let delay: number = ROTATION_RETRY.minMs;
    while (this.queue.length > 0 && !this.stopped) {
      const aside = this.queue[0] as string;
      try {
        await this.finish(aside);
        this.queue.shift();
        delay = ROTATION_RETRY.minMs;
      } catch (err) {
        // The code alone can be generic (nodemailer: EMESSAGE); the message carries the server's
        // reply or the path. Neither holds log content: the archive is ciphertext.
        const reason = [errnoCode(err), err instanceof Error ? err.message : String(err)].filter(Boolean).join(': ');
        this.deps.logger.error('ROTATION_ACTION_FAILED', `${basename(aside)}: ${reason}; retrying in ${delay} ms`);
        if (delay === ROTATION_RETRY.minMs) this.deps.record('rotation-action-failed', `${basename(aside)}: ${reason}`);
        await this.sleep(delay);
        delay = Math.min(delay * 2, ROTATION_RETRY.maxMs);
      }
    }
  }

  private async finish(aside: string): Promise<void> {
    const { rotation, log } = this.deps;
    const id = rotationIdOf(aside);
    if (id === null) throw new Error(`not an aside file name: ${aside}`);
    if (lstatOrNull(aside) === null) return; // finished by an earlier run just before it died
    const archive = rotation.archive === null ? null : archivePath(rotation.archive.path, log, id);
    const done: string[] = [];
    if (archive !== null && rotation.archive !== null) {
      if (lstatOrNull(archive) === null) {
        const info = await writeArchive(aside, archive, this.deps.keys, rotation.archive);
        done.push(`archived to ${basename(archive)} (${info.bytes} bytes, sha256 ${info.sha256})`);
      } else {
        done.push(`archive ${basename(archive)} was already complete`);
      }
    }
    if (this.deps.mailer !== null) {
      const marker = mailedMarker(aside);
      if (lstatOrNull(marker) === null) {
        const name = basename(archivePath('/', log, id));
        const content = archive !== null ? await fsp.readFile(archive) : await archiveInMemory(aside, this.deps.keys);
        await this.deps.mailer.sendArchive(name, content, this.deps.anchor?.() ?? null);
        await (await fsp.open(marker, 'wx', 0o600)).close();
        done.push(`mailed ${name}`);
      }
    }
    await this.deps.holdAside?.(aside);
    if (rotation.actions.includes('remove-old')) {
      await fsp.unlink(aside);
      done.push(`removed ${basename(aside)}`);
    } else {
      await fsp.rename(aside, keptPath(log, id));
      done.push(`kept as ${basename(keptPath(log, id))}`);
    }
    await fsp.unlink(mailedMarker(aside)).catch(() => {});
    this.deps.logger.info('ROTATED', done.join('; '));
    this.deps.record('rotation-finished', done.join('; '));
  }
}
