import type { FilteredReport } from './filters/filtering.ts';
import type { MonitorReport } from './monitor/entry.ts';

/**
 * Per-block metadata, carried in the literal data packet's filename field (inside the
 * encryption, so only the key holder sees it). Layout, dot separated:
 *
 *   pp2.<stream id: 32 hex>.<sequence number: decimal>.<kind: d = data, h = header, c = control>.<tag: 32 hex>[.<source id>]
 *   pp1.<stream id>.<sequence number>.<kind>            (before sealing: read, reported as unsealed)
 *
 * The source id (runtime/sources/) names the watched file or session a block's lines come from;
 * blocks of the baked pipe carry none, as before sources existed, and older decrypters ignore
 * the extra part. The seal covers it, so the host cannot re-label a past block.
 *
 * The tag is the block's forward-secure seal (runtime/seal/chain.ts); the literal packet's date
 * field holds the seal time it covers. The field holds at most 255 bytes; pp2 uses under 100.
 */
export const METADATA_TAG = 'pp2';
const UNSEALED_TAG = 'pp1';

export type BlockKind = 'data' | 'header' | 'control';

const KIND_LETTER: Record<BlockKind, string> = { data: 'd', header: 'h', control: 'c' };
const LETTER_KIND: Record<string, BlockKind> = { d: 'data', h: 'header', c: 'control' };

export interface BlockMetadata {
  readonly streamId: string;
  readonly seq: number;
  readonly kind: BlockKind;
  /** The seal (32 hex digits); absent in a pp1 block, which was never sealed. */
  readonly tag?: string;
  /** The source of the block's lines (sealed blocks only); absent: the baked pipe. */
  readonly source?: string;
}

const STREAM_ID = /^[0-9a-f]{32}$/;
const SEQ = /^(0|[1-9][0-9]{0,15})$/;
const TAG = /^[0-9a-f]{32}$/;
/** A short id the copy gives each source (f1, s3, …): never a path, which would not fit. */
export const SOURCE_ID = /^[a-z][a-z0-9-]{0,15}$/;

export function kindLetter(kind: BlockKind): 'd' | 'h' | 'c' {
  return KIND_LETTER[kind] as 'd' | 'h' | 'c';
}

/** pp2 with the tag; pp1 (unsealed) when there is none: only tests still write those. */
export function formatMetadata(meta: BlockMetadata): string {
  const head = [meta.tag === undefined ? UNSEALED_TAG : METADATA_TAG, meta.streamId, String(meta.seq), KIND_LETTER[meta.kind]];
  if (meta.tag === undefined) return head.join('.');
  return (meta.source === undefined ? [...head, meta.tag] : [...head, meta.tag, meta.source]).join('.');
}

/**
 * null for a filename that is not ours: a block written by another tool is plain data. gpg
 * leaves the field empty for stdin, which openpgp.js reports as null.
 */
export function parseMetadata(filename: string | null | undefined): BlockMetadata | null {
  if (typeof filename !== 'string') return null;
  const [version, streamId, seq, kind, tag, source] = filename.split('.');
  if ((version !== METADATA_TAG && version !== UNSEALED_TAG) || streamId === undefined || seq === undefined || kind === undefined) return null;
  const blockKind = LETTER_KIND[kind];
  if (!STREAM_ID.test(streamId) || !SEQ.test(seq) || blockKind === undefined) return null;
  if (version === UNSEALED_TAG) return { streamId, seq: Number(seq), kind: blockKind };
  // A pp2 name without a well-formed tag still names its stream: it is reported as a bad seal.
  const sealed = { streamId, seq: Number(seq), kind: blockKind, tag: tag !== undefined && TAG.test(tag) ? tag : 'malformed' };
  // A malformed source part is kept as it is: the seal covers it, so verify reports the block.
  return source === undefined ? sealed : { ...sealed, source: SOURCE_ID.test(source) ? source : 'malformed' };
}

/** Where a stream ended: what the next stream on the log links to. */
export interface StreamLink {
  readonly streamId: string;
  readonly lastSeq: number;
  readonly lastTag: string;
}

/** Control records: JSON objects, one per control block, never containing logged bytes. */
export type ControlRecord =
  | {
      readonly type: 'stream-start';
      readonly streamId: string;
      readonly host: string;
      readonly pid: number;
      readonly startedAt: string;
      readonly copyVersion: string;
      /** SHA-256 of the baked options, to tell which generated copy wrote the stream. */
      readonly optionsDigest: string;
      /** k_0 of the seal chain (64 hex), absent in unsealed streams. */
      readonly sealKey?: string;
      /** The stream before this one on the same log, as the state file beside it said; null for the first. */
      readonly previous?: StreamLink | null;
      /** --heartbeat in ms, when on: verify checks that no silence was longer. */
      readonly heartbeatMs?: number;
    }
  | {
      readonly type: 'stream-end';
      readonly streamId: string;
      readonly endedAt: string;
      readonly lastSeq: number;
      readonly lines: number;
      readonly bytes: number;
      /** Dropped under `--on-overload drop` (absent before that option existed). */
      readonly droppedLines?: number;
      readonly droppedBytes?: number;
      /** Dropped by --ignore / --keep, every source (only when filters are set). */
      readonly filteredLines?: number;
      readonly filteredBytes?: number;
      readonly reason: string;
    }
  | SourceStartRecord
  | {
      readonly type: 'source-end';
      readonly streamId: string;
      readonly source: string;
      readonly at: string;
      /** Lines and bytes of this source kept in the log during this stream. */
      readonly lines: number;
      readonly bytes: number;
      readonly reason: string;
    }
  | {
      readonly type: 'event';
      readonly streamId: string;
      readonly at: string;
      readonly event: string;
      readonly detail: string;
    }
  | ({
      /** Lines dropped by --ignore / --keep, per source and pattern (runtime/filters/). */
      readonly type: 'filtered';
      readonly streamId: string;
      readonly at: string;
    } & FilteredReport)
  | ({
      /** --monitor: the baseline listing (in parts) or one change (runtime/monitor/). */
      readonly type: 'monitor';
      readonly streamId: string;
      readonly at: string;
    } & MonitorReport);

/** Opens a source's lines within a stream: what it reads and, for a session, whose it is. */
export interface SourceStartRecord {
  readonly type: 'source-start';
  readonly streamId: string;
  /** The id its blocks carry in their metadata. */
  readonly source: string;
  readonly kind: 'file' | 'session';
  readonly path: string;
  readonly at: string;
  /** file: where reading began (byte offset) in the file with this device and inode. */
  readonly dev?: number;
  readonly ino?: number;
  readonly offset?: number;
  /** session: the pipe owner's name and uid (from fstat, never from the pipe's name), its tty and start. */
  readonly user?: string;
  readonly uid?: number;
  readonly tty?: string;
  readonly sessionStart?: string;
}

export function encodeControl(record: ControlRecord): Buffer {
  return Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
}

export function decodeControl(bytes: Uint8Array): ControlRecord | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string') {
      return value as ControlRecord;
    }
  } catch {
    // fall through: an unreadable control block is reported by the caller
  }
  return null;
}
