import { dirname } from 'node:path';
import { ROTATE_ACTIONS, type BakedMail, type BakedRecipient, type BakedRotation, type MailTransport, type Owner, type RotateAction } from '../runtime/baked.ts';
import { usageError } from '../runtime/errors.ts';
import { loadRecipients } from './keys.ts';
import type { RawEncrypterOptions } from './options.ts';
import { resolveOwner } from './owners.ts';
import { suggest } from './suggest.ts';
import type { SystemPort } from './system.ts';

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Below this a rotated file holds a handful of blocks; it would only churn archives. */
const MIN_ROTATE_BYTES = 4096;
const EMAIL = /^[^\s@<>,]+@[^\s@<>,]+$/;

export function parseSize(option: string, value: string, bounds: { min: number; minText: string; max?: number; maxText?: string } = { min: MIN_ROTATE_BYTES, minText: '4K' }): number {
  const m = /^([1-9][0-9]*)([KMG]?)$/i.exec(value);
  if (!m) throw usageError('BAD_SIZE', `${option} must be a size like 8M, 512K or 1G, got ${JSON.stringify(value)}`);
  const bytes = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  if (bytes < bounds.min) throw usageError('BAD_SIZE', `${option} must be at least ${bounds.minText}, got ${JSON.stringify(value)}`);
  if (bounds.max !== undefined && bytes > bounds.max) throw usageError('BAD_SIZE', `${option} must be at most ${bounds.maxText ?? bounds.max}, got ${JSON.stringify(value)}`);
  return bytes;
}

export function parseDuration(option: string, value: string): number {
  const m = /^([1-9][0-9]*)([smhd])$/.exec(value);
  if (!m) throw usageError('BAD_DURATION', `${option} must be a duration like 30s, 10m, 1h or 1d, got ${JSON.stringify(value)}`);
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] ?? 1);
}

export function parseActions(value: string): RotateAction[] {
  const actions: RotateAction[] = [];
  for (const part of value.split(',').map((p) => p.trim())) {
    if (!(ROTATE_ACTIONS as readonly string[]).includes(part)) {
      const near = suggest(part, ROTATE_ACTIONS);
      throw usageError(
        'BAD_ACTION',
        `--rotate-actions: unknown action ${JSON.stringify(part)}; allowed: ${ROTATE_ACTIONS.join(', ')}${near === null ? '' : ` (did you mean ${near}?)`}`,
      );
    }
    if (!actions.includes(part as RotateAction)) actions.push(part as RotateAction);
  }
  if (actions.includes('remove-old') && !actions.includes('compress-encrypt') && !actions.includes('encrypted-email')) {
    throw usageError('REMOVE_WITHOUT_COPY', '--rotate-actions: remove-old needs compress-encrypt or encrypted-email, or rotated logs would just be deleted');
  }
  return actions;
}

export function parseTransport(value: string): MailTransport {
  if (value === 'sendmail') return { kind: 'sendmail', path: '/usr/sbin/sendmail' };
  if (value.startsWith('/')) return { kind: 'sendmail', path: value };
  if (/^smtps?:\/\/[^\s/]+(:[0-9]+)?\/?$/.test(value)) return { kind: 'smtp', url: value };
  throw usageError('BAD_TRANSPORT', `--mail-transport must be sendmail, an absolute sendmail path, or smtp://host:port, got ${JSON.stringify(value)}`);
}

/** --mail-to, --mail-from, --mail-transport: `who` needs them (rotation mail, the mailed report). */
export function resolveMail(raw: RawEncrypterOptions, who: string): BakedMail {
  if (raw.mailTo.length === 0 || raw.mailFrom === undefined) throw usageError('MISSING_OPTION', `${who} needs --mail-to and --mail-from`);
  for (const [option, address] of [...raw.mailTo.map((a) => ['--mail-to', a] as const), ['--mail-from', raw.mailFrom] as const]) {
    if (!EMAIL.test(address)) throw usageError('BAD_EMAIL', `${option} must be an address like ops@example.org, got ${JSON.stringify(address)}`);
  }
  return { to: raw.mailTo, from: raw.mailFrom, transport: parseTransport(raw.mailTransport ?? 'sendmail') };
}

/**
 * Rotation options, checked together: each needs the others it depends on, and nothing is
 * accepted that the copy would ignore.
 */
export async function resolveRotation(
  raw: RawEncrypterOptions,
  ctx: { system: SystemPort; now: Date; resolvePath: (option: string, value: string) => string; parseMode: (option: string, value: string) => number },
  logRecipients: readonly BakedRecipient[],
  outputOwner: Owner,
  outputPath: string,
): Promise<BakedRotation | null> {
  // --report-every uses the mail options too: then they do not ask for rotation.
  const mailForReport = raw.reportEvery !== undefined;
  const mailGiven = [raw.mailFrom, raw.mailTransport].some((v) => v !== undefined) || raw.mailTo.length > 0;
  const given = [raw.rotateCheckEvery, raw.rotateInterval, raw.rotateActions, raw.archiveDir, raw.archiveOwner, raw.archiveMode].some((v) => v !== undefined) ||
    raw.rotateRecipientKey.length + raw.rotateRecipient.length > 0 ||
    (mailGiven && !mailForReport);
  if (raw.rotateSize === undefined && raw.rotateInterval === undefined) {
    if (given) throw usageError('ROTATION_OFF', 'rotation options need --rotate-size (or --rotate-interval) to turn rotation on');
    return null;
  }
  const maxBytes = raw.rotateSize === undefined ? null : parseSize('--rotate-size', raw.rotateSize);
  const intervalMs = raw.rotateInterval === undefined ? null : parseDuration('--rotate-interval', raw.rotateInterval);
  const checkEvery = raw.rotateCheckEvery === undefined ? 100 : Number(raw.rotateCheckEvery);
  if (!Number.isInteger(checkEvery) || checkEvery < 1 || checkEvery > 1_000_000) {
    throw usageError('BAD_NUMBER', `--rotate-check-every must be a whole number from 1 to 1000000, got ${JSON.stringify(raw.rotateCheckEvery)}`);
  }
  const actions = parseActions(raw.rotateActions ?? 'compress-encrypt,remove-old');

  let archive = null;
  if (actions.includes('compress-encrypt')) {
    if (raw.archiveDir === undefined) throw usageError('MISSING_OPTION', '--archive-dir is required by the compress-encrypt action');
    const dir = ctx.resolvePath('--archive-dir', raw.archiveDir);
    if (dir === dirname(outputPath)) throw usageError('SAME_PATH', '--archive-dir must not be the directory of --output: archives and logs would mix');
    const owner = raw.archiveOwner === undefined ? outputOwner : await resolveOwner('--archive-owner', raw.archiveOwner, ctx.system);
    archive = { path: dir, owner, mode: ctx.parseMode('--archive-mode', raw.archiveMode ?? '640') };
  } else if (raw.archiveDir !== undefined || raw.archiveOwner !== undefined || raw.archiveMode !== undefined) {
    throw usageError('UNUSED_OPTION', '--archive-dir, --archive-owner and --archive-mode go with the compress-encrypt action');
  }

  let mail: BakedMail | null = null;
  if (actions.includes('encrypted-email')) {
    mail = resolveMail(raw, 'the encrypted-email action');
  } else if (mailGiven && !mailForReport) {
    throw usageError('UNUSED_OPTION', '--mail-to, --mail-from and --mail-transport go with the encrypted-email action');
  }

  const ownKeys = raw.rotateRecipientKey.length + raw.rotateRecipient.length > 0;
  const recipients = ownKeys
    ? await loadRecipients(raw.rotateRecipientKey, raw.rotateRecipient, ctx.system, ctx.now, { file: '--rotate-recipient-key', gpg: '--rotate-recipient' })
    : logRecipients;
  return { maxBytes, checkEvery, intervalMs, actions, recipients, archive, mail };
}
