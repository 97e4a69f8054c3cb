import { usageError } from '../runtime/errors.ts';
import { SOURCE_ID } from '../runtime/metadata.ts';
import type { Selection } from '../runtime/decrypt/selection.ts';
import type { PassphraseSource } from './passphrase.ts';
import type { LogKeyOptions } from './log-inputs.ts';

/** `decrypt`'s options as commander hands them over (repeatable ones as arrays). */
export interface RawDecryptOptions extends LogKeyOptions {
  readonly output?: string;
  readonly showControl?: boolean;
  readonly json?: boolean;
  readonly grep?: readonly string[];
  readonly ignore?: readonly string[];
  readonly since?: string;
  readonly until?: string;
  readonly stream?: readonly string[];
  readonly host?: readonly string[];
  readonly source?: readonly string[];
  readonly follow?: boolean;
  readonly from?: string;
  readonly log?: readonly string[];
  readonly toPipe?: string;
  readonly toPipeMode?: string;
  readonly quiet?: boolean;
  readonly gpg?: boolean;
  readonly raw?: boolean;
  readonly monitorReport?: boolean;
}

/** Resolved once, at the boundary: nothing after this re-checks an option. */
export interface DecryptOptions extends PassphraseSource {
  readonly key: readonly string[];
  readonly archiveKey: readonly string[];
  readonly archiveDir?: string;
  readonly output: { readonly kind: 'stdout' } | { readonly kind: 'file'; readonly path: string } | { readonly kind: 'pipe'; readonly path: string; readonly mode: number };
  readonly format: 'text' | 'json';
  readonly showControl: boolean;
  readonly selection: Selection;
  readonly follow: boolean;
  /** `--from nats://…`: a JetStream subject read after the files, with its --log filter. */
  readonly from: { readonly url: string; readonly logs: readonly string[] } | null;
  readonly quiet: boolean;
  /** Session keys from the local GnuPG (keyring, gpg-agent, smartcard) instead of key files. */
  readonly gpg: boolean;
  /** Control characters reach a terminal as they are (otherwise shown escaped there). */
  readonly raw: boolean;
  /** --monitor-report: only the --monitor listing and its changes. */
  readonly monitorReport: boolean;
}

export function resolveDecryptOptions(raw: RawDecryptOptions, now: Date): DecryptOptions {
  const gpg = raw.gpg === true;
  if (gpg) {
    const fileOptions = [raw.key.length > 0 && '--key', (raw.archiveKey?.length ?? 0) > 0 && '--archive-key', raw.passphraseFile !== undefined && '--passphrase-file', raw.passphraseFd !== undefined && '--passphrase-fd', raw.passphraseEnv !== undefined && '--passphrase-env'].filter((o) => o !== false);
    if (fileOptions.length > 0) throw usageError('GPG_AND_KEY', `--gpg takes the keys from GnuPG (gpg-agent asks for any passphrase): leave out ${fileOptions.join(', ')}`);
  } else if (raw.key.length === 0) throw usageError('NO_KEY', 'give --key FILE (the secret key that opens the log) or --gpg (use the local GnuPG keyring)');
  if ((raw.log?.length ?? 0) > 0 && raw.from === undefined) throw usageError('LOG_WITHOUT_FROM', '--log picks logs by the name a copy forwarded them under: give --from nats://…/subject too');
  if (raw.output !== undefined && raw.toPipe !== undefined) throw usageError('OUTPUT_TWICE', 'give --output FILE or --to-pipe PATH, not both');
  if (raw.toPipeMode !== undefined && raw.toPipe === undefined) throw usageError('TO_PIPE_MODE_ALONE', '--to-pipe-mode needs --to-pipe PATH');
  const since = raw.since === undefined ? null : parseTime('--since', raw.since, now);
  const until = raw.until === undefined ? null : parseTime('--until', raw.until, now);
  if (since !== null && until !== null && since.getTime() >= until.getTime()) {
    throw usageError('BAD_TIME_RANGE', `--since ${since.toISOString()} is not before --until ${until.toISOString()}`);
  }
  return {
    key: raw.key,
    archiveKey: raw.archiveKey !== undefined && raw.archiveKey.length > 0 ? raw.archiveKey : raw.key,
    archiveDir: raw.archiveDir,
    passphraseFile: raw.passphraseFile,
    passphraseFd: raw.passphraseFd,
    passphraseEnv: raw.passphraseEnv,
    output:
      raw.toPipe !== undefined
        ? { kind: 'pipe', path: raw.toPipe, mode: parsePipeMode(raw.toPipeMode ?? '600') }
        : raw.output !== undefined
          ? { kind: 'file', path: raw.output }
          : { kind: 'stdout' },
    format: raw.json === true ? 'json' : 'text',
    showControl: raw.showControl === true,
    selection: {
      grep: (raw.grep ?? []).map((p) => compilePattern('--grep', p)),
      ignore: (raw.ignore ?? []).map((p) => compilePattern('--ignore', p)),
      since,
      until,
      streams: (raw.stream ?? []).map(parseStreamId),
      hosts: (raw.host ?? []).map(parseHost),
      ...(raw.source === undefined ? {} : { sources: raw.source.map(parseSource) }),
    },
    follow: raw.follow === true,
    from: raw.from === undefined ? null : { url: raw.from, logs: (raw.log ?? []).map(parseLogName) },
    quiet: raw.quiet === true,
    gpg,
    raw: raw.raw === true,
    monitorReport: raw.monitorReport === true,
  };
}

/** JavaScript regular expressions, as `grep -E` reads most of them; no flags (`(?i)` is not JS). */
function compilePattern(option: string, pattern: string): RegExp {
  if (pattern === '') throw usageError('BAD_REGEX', `${option} needs a regular expression, got an empty one`);
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw usageError('BAD_REGEX', `${option} ${JSON.stringify(pattern)} is not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

function parseStreamId(value: string): string {
  const id = value.toLowerCase();
  if (!/^[0-9a-f]{4,32}$/.test(id)) throw usageError('BAD_STREAM', `--stream must be a stream id (32 hex digits, or at least its first 4), got ${JSON.stringify(value)}`);
  return id;
}

function parseHost(value: string): string {
  if (value === '' || /[\s\x00-\x1f]/.test(value)) throw usageError('BAD_HOST', `--host must be a host name, got ${JSON.stringify(value)}`);
  return value;
}

/** A source id (f1, s2), `pipe`, or the absolute path a source-start record names. */
function parseSource(value: string): string {
  if (value.startsWith('/') ? /[\x00-\x1f]/.test(value) : !SOURCE_ID.test(value)) {
    throw usageError('BAD_SOURCE', `--source must be a source id like f1, "pipe", or the absolute path of a watched file or session pipe, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseLogName(value: string): string {
  if (value === '' || value.includes('/') || /[\s\x00-\x1f]/.test(value)) throw usageError('BAD_LOG', `--log must be a log's file name (as on its host, without a directory), got ${JSON.stringify(value)}`);
  return value;
}

function parsePipeMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw usageError('BAD_MODE', `--to-pipe-mode must be an octal mode like 600, got ${JSON.stringify(value)}`);
  const mode = Number.parseInt(value, 8);
  // Plaintext flows through it: only its owner and group may ever read, and nobody may execute.
  if ((mode & 0o007) !== 0 || (mode & 0o111) !== 0 || (mode & 0o600) !== 0o600) {
    throw usageError('BAD_MODE', `--to-pipe-mode ${value}: must give the owner read and write and others nothing (600, 640 or 660)`);
  }
  return mode;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A point in time: ISO 8601 (`2026-11-24`, `2026-11-24 02:00`, `2026-11-24T02:00:00Z`,
 * `…+01:00`) read as local time when it has no zone (as `date` and journalctl read it), `now`,
 * or a time ago: `90s`, `15m`, `2h`, `7d`.
 */
export function parseTime(option: string, value: string, now: Date): Date {
  const bad = () => usageError('BAD_TIME', `${option} must be a time like 2026-11-24T02:00, "2026-11-24 02:00:00Z", now or 2h (ago), got ${JSON.stringify(value)}`);
  const v = value.trim();
  if (v === 'now') return now;
  const ago = /^(\d+)([smhd])$/.exec(v);
  if (ago) return new Date(now.getTime() - Number(ago[1]) * (UNITS[ago[2] as string] as number));
  const m = ISO.exec(v);
  if (!m) throw bad();
  const [year, month, day, hour, minute, second, ms] = [1, 2, 3, 4, 5, 6, 7].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number, number];
  const zone = m[8];
  const fields: [number, number, number, number, number, number, number] = [year, month - 1, day, hour, minute, second, ms * 10 ** (3 - (m[7]?.length ?? 3))];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) throw bad();
  // Day 31 of a 30-day month: Date would roll it over into the next month silently.
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) throw bad();
  if (zone === undefined) return new Date(...fields);
  const utc = Date.UTC(...fields);
  if (zone === 'Z') return new Date(utc);
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return new Date(utc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000);
}
