import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Appender } from '../appender.ts';
import type { BakedRotation } from '../baked.ts';
import { errnoCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { asidePath, nextRotationId, type RotationId } from './names.ts';

/**
 * Decides when to rotate and moves the live log aside. Runs inside the block writer's worker,
 * between two appends, so no block is ever written while the log changes hands; reading the
 * pipe goes on meanwhile (blocks wait in the writer's queue for a rename and an open).
 */
export class RotationTrigger {
  private appends = 0;
  private last: RotationId | null = null;
  private stopped = false;

  constructor(
    private readonly rotation: BakedRotation,
    private readonly appender: Appender,
    private readonly onAside: (aside: string) => void,
    private readonly logger: Logger,
    private readonly record: (event: string, detail: string) => void,
  ) {}

  /**
   * At stop: the last appends (stream-end, rotation records) must not start a rotation that
   * nothing is left to finish.
   */
  stop(): void {
    this.stopped = true;
  }

  /** After every append batch: every `checkEvery` appends, look at the size. */
  async afterAppend(): Promise<void> {
    this.appends += 1;
    if (this.appends % this.rotation.checkEvery === 0) await this.check(false);
  }

  /** The interval timer: check now; with no size limit, rotate whatever was written. */
  async onTimer(): Promise<void> {
    await this.check(true);
  }

  private async check(timer: boolean): Promise<void> {
    if (this.stopped) return;
    const size = await this.appender.size();
    if (size === 0) return;
    const due = this.rotation.maxBytes === null ? timer : size >= this.rotation.maxBytes;
    if (!due) return;
    const id = nextRotationId(this.appender.path, this.rotation.archive?.path ?? null, new Date(), this.last, (dir) => readdirSync(dir));
    this.last = id;
    const aside = asidePath(this.appender.path, id);
    try {
      await this.appender.moveAside(aside);
    } catch (err) {
      // The log stays where it was and keeps growing; the next check tries again.
      this.logger.error('ROTATION_RENAME_FAILED', `${basename(this.appender.path)} in ${dirname(this.appender.path)}: ${errnoCode(err) ?? (err as Error).message}`);
      return;
    }
    this.logger.info('ROTATING', `${basename(aside)} (${size} bytes)`);
    this.record('rotation-started', `${basename(aside)}: ${size} bytes`);
    this.onAside(aside);
  }
}
