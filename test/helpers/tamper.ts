import type * as openpgp from 'openpgp';
import { LogDecrypter, type OpenedBlock } from '../../runtime/decrypt/reader.ts';
import { nextPiece } from '../../runtime/format/split.ts';
import { decryptionKeyOf } from './keys.ts';

/** The messages of a log, each as its own buffer, in file order (a log of whole messages only). */
export function splitMessages(buf: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let p = nextPiece(buf, 0); p !== null; p = nextPiece(buf, p.end)) {
    if (p.kind !== 'message') throw new Error(`not a whole message at offset ${p.offset}: ${p.kind}`);
    starts.push(p.offset);
  }
  // Each message runs to the next one's start, so an armored message keeps its final newline.
  return starts.map((at, i) => buf.subarray(at, starts[i + 1] ?? buf.length));
}


export interface LogBlock {
  readonly bytes: Buffer;
  readonly offset: number;
  readonly streamId: string | null;
  readonly seq: number | null;
  readonly kind: string | null;
  readonly data: Buffer;
}

/** Every message of a log with its metadata and plaintext, decrypted in-process with `key`. */
export async function blocksOf(buf: Buffer, key: openpgp.PrivateKey): Promise<LogBlock[]> {
  const messages = splitMessages(buf);
  const opened: OpenedBlock[] = [];
  const reader = new LogDecrypter([decryptionKeyOf(key)], { block: (b) => void opened.push(b), data: () => {}, control: () => {}, problem: () => {} });
  await reader.decryptBuffer(buf, 'log');
  if (opened.length !== messages.length) throw new Error(`opened ${opened.length} of ${messages.length} messages`);
  return messages.map((bytes, i) => {
    const b = opened[i] as OpenedBlock;
    return { bytes, offset: b.offset, streamId: b.meta?.streamId ?? null, seq: b.meta?.seq ?? null, kind: b.meta?.kind ?? null, data: Buffer.from(b.data) };
  });
}

/** The concatenation of blocks, as a log file. */
export const joinBlocks = (blocks: ReadonlyArray<{ bytes: Buffer }>): Buffer => Buffer.concat(blocks.map((b) => b.bytes));

/** Offset that block `index` has in the log `joinBlocks(blocks)` makes. */
export const offsetIn = (blocks: ReadonlyArray<{ bytes: Buffer }>, index: number): number => blocks.slice(0, index).reduce((n, b) => n + b.bytes.length, 0);
