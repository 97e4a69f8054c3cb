import { accessSync, constants, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Appender } from '../appender.ts';
import type { BakedOptions } from '../baked.ts';
import { refusal } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RecipientKeys } from '../recipients.ts';
import { createMailer } from './mail.ts';
import { asideFilesOf } from './names.ts';
import { Rotator } from './rotator.ts';
import { RotationTrigger } from './trigger.ts';

/** The rotation parts of a running copy: the trigger in the writer, the rotator in the background. */
export interface Rotation {
  readonly rotator: Rotator;
  readonly trigger: RotationTrigger;
  readonly intervalMs: number | null;
}

export function createRotation(
  baked: BakedOptions,
  appender: Appender,
  archiveKeys: RecipientKeys,
  log: Logger,
  record: (event: string, detail: string) => void,
  anchor?: () => string | null,
  holdAside?: (aside: string) => Promise<void>,
): Rotation | null {
  if (baked.rotation === null) return null;
  const rotator = new Rotator({
    rotation: baked.rotation,
    log: baked.output.path,
    keys: archiveKeys,
    mailer: baked.rotation.mail === null ? null : createMailer(baked.rotation.mail),
    anchor,
    logger: log,
    record,
    ...(holdAside === undefined ? {} : { holdAside }),
  });
  const trigger = new RotationTrigger(baked.rotation, appender, (aside) => rotator.enqueue(aside), log, record);
  return { rotator, trigger, intervalMs: baked.rotation.intervalMs };
}

/** Rotations an earlier run left unfinished (killed mid-rotation) are finished first, oldest first. */
export function resumeUnfinished(rotation: Rotation, logPath: string): void {
  for (const aside of asideFilesOf(logPath, readdirSync(dirname(logPath)))) rotation.rotator.enqueue(aside);
}

/**
 * Rotation creates files as the run-as user: in the log's directory (the fresh log, the aside
 * rename) and in the archive dir. Found out at start, not at the first rotation hours later.
 */
export function assertRotationDirsWritable(baked: BakedOptions): void {
  const dirs = [dirname(baked.output.path), ...(baked.rotation?.archive ? [baked.rotation.archive.path] : [])];
  for (const dir of dirs) {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw refusal(
        'ROTATION_DIR_ACCESS',
        `rotation needs to create files in ${JSON.stringify(dir)} as ${baked.runAs.label}, who cannot (${(err as NodeJS.ErrnoException).code ?? String(err)}); give that user write access to it`,
      );
    }
  }
}
