/**
 * Per-block metadata, carried in the literal data packet's filename field (inside the
 * encryption, so only the key holder sees it). Layout, dot separated:
 *
 *   pp1.<stream id: 32 hex>.<sequence number: decimal>.<kind: d = data, h = header, c = control>
 *
 * The field holds at most 255 bytes; this uses under 60, leaving room for a MAC to be appended
 * as a fifth part by a later format version. Readers ignore parts they do not know.
 */
export const METADATA_TAG = 'pp1';

export type BlockKind = 'data' | 'header' | 'control';

const KIND_LETTER: Record<BlockKind, string> = { data: 'd', header: 'h', control: 'c' };
const LETTER_KIND: Record<string, BlockKind> = { d: 'data', h: 'header', c: 'control' };

export interface BlockMetadata {
  readonly streamId: string;
  readonly seq: number;
  readonly kind: BlockKind;
}

const STREAM_ID = /^[0-9a-f]{32}$/;
const SEQ = /^(0|[1-9][0-9]{0,15})$/;

export function formatMetadata(meta: BlockMetadata): string {
  return [METADATA_TAG, meta.streamId, String(meta.seq), KIND_LETTER[meta.kind]].join('.');
}

/**
 * null for a filename that is not ours: a block written by another tool is plain data. gpg
 * leaves the field empty for stdin, which openpgp.js reports as null.
 */
export function parseMetadata(filename: string | null | undefined): BlockMetadata | null {
  if (typeof filename !== 'string') return null;
  const [tag, streamId, seq, kind] = filename.split('.');
  if (tag !== METADATA_TAG || streamId === undefined || seq === undefined || kind === undefined) return null;
  const blockKind = LETTER_KIND[kind];
  if (!STREAM_ID.test(streamId) || !SEQ.test(seq) || blockKind === undefined) return null;
  return { streamId, seq: Number(seq), kind: blockKind };
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
      readonly reason: string;
    }
  | {
      readonly type: 'event';
      readonly streamId: string;
      readonly at: string;
      readonly event: string;
      readonly detail: string;
    };

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
