import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Forward-secure sealing: one evolving HMAC key per position of a stream (Bellare–Yee), shared by
 * the copy (which seals and forgets) and by `verify` / `decrypt` (which re-derive every key from
 * the first, carried inside the encrypted stream-start block).
 *
 *   k_0           = 32 random bytes, drawn at stream start
 *   tag_i         = HMAC-SHA256(k_i, "pp2-seal" ‖ stream id ‖ seq i ‖ kind ‖ seal time ‖ SHA-256(plaintext_i) [‖ "\0source\0" ‖ source id])[0..16)
 *   k_(i+1)       = HMAC-SHA256(k_i, "pp2-evolve"); k_i is overwritten with zeros
 *
 * The position i is both an input of the tag and the number of evolutions of its key, so a tag
 * verifies only with the key of its own place: a block cannot be moved, renumbered, or re-made
 * with a key taken later (the CVE-2023-31439 hole). A block from a source other than the baked
 * pipe appends its source id, so it cannot be re-labelled as another source's either; blocks
 * without one seal exactly as before sources existed. Tags do not feed into each other: removal
 * and reordering already show as sequence breaks under keys nobody holds any more, and a block
 * lost to a torn write leaves every other block verifiable instead of everything after it.
 */
export const SEAL_KEY_BYTES = 32;
/** Truncated HMAC: 128 bits, 32 hex digits in the metadata. */
export const TAG_BYTES = 16;

const DOMAIN = Buffer.from('pp2-seal\0', 'latin1');
const EVOLVE = Buffer.from('pp2-evolve', 'latin1');
const SOURCE = Buffer.from('\0source\0', 'latin1');

export type SealKind = 'd' | 'h' | 'c';

export interface SealInput {
  readonly streamId: string;
  readonly seq: number;
  readonly kind: SealKind;
  /** Whole seconds, as the literal packet's date field holds them. */
  readonly time: number;
  readonly plaintext: Uint8Array;
  /** The block's source id; absent for the baked pipe. */
  readonly source?: string;
  /** SHA-256 of `plaintext` when it was already computed (the decrypter's worker threads do). */
  readonly plaintextDigest?: Uint8Array;
}

export function newSealKey(): Buffer {
  return randomBytes(SEAL_KEY_BYTES);
}

/** The tag for a block at position `input.seq`, made with that position's key. */
export function sealTag(key: Uint8Array, input: SealInput): Buffer {
  return tagWith(key, Buffer.from(input.streamId, 'hex'), input);
}

/** sealTag with the stream id already as bytes (the copy's chain converts it once). */
function tagWith(key: Uint8Array, streamId: Buffer, input: Omit<SealInput, 'streamId'>): Buffer {
  const fixed = Buffer.allocUnsafe(8 + 1 + 4);
  // The 64-bit big-endian position in two halves (a sequence number is a safe integer).
  fixed.writeUInt32BE(Math.floor(input.seq / 2 ** 32), 0);
  fixed.writeUInt32BE(input.seq >>> 0, 4);
  fixed[8] = input.kind.charCodeAt(0);
  fixed.writeUInt32BE(input.time >>> 0, 9);
  const digest = input.plaintextDigest ?? createHash('sha256').update(input.plaintext).digest();
  const mac = createHmac('sha256', key).update(DOMAIN).update(streamId).update(fixed).update(digest);
  if (input.source !== undefined) mac.update(SOURCE).update(input.source, 'utf8');
  return mac.digest().subarray(0, TAG_BYTES);
}

/** k_(i+1) from k_i. The caller decides what happens to k_i. */
export function evolveKey(key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(EVOLVE).digest();
}

const ANCHOR = Buffer.from('pp2-anchor\0', 'latin1');

/**
 * An off-host anchor for the newest block: `<stream>:<seq>:<digest of its tag>`, as rotation
 * mail carries it. The digest, not the tag: an intruder who finds old mail in a local spool
 * learns nothing that would let them link a forged continuation to that block.
 */
export function anchorOf(streamId: string, seq: number, tag: string): string {
  return `${streamId}:${seq}:${createHash('sha256').update(ANCHOR).update(Buffer.from(tag, 'hex')).digest('hex').slice(0, 32)}`;
}

/** Seconds of a date, as the literal packet stores them. */
export function sealSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) >>> 0;
}

/**
 * The copy's side: holds only the key of the next position. `tag()` must be called once per
 * position, in sequence order; it erases the key it used before returning.
 */
export class SealChain {
  private key: Buffer;
  private nextSeq = 0;
  private readonly streamIdBytes: Buffer;

  /** Takes ownership of `firstKey` (it will be zeroed). */
  constructor(streamId: string, firstKey: Buffer) {
    this.key = firstKey;
    this.streamIdBytes = Buffer.from(streamId, 'hex');
  }

  get position(): number {
    return this.nextSeq;
  }

  tag(input: Omit<SealInput, 'streamId'>): string {
    if (input.seq !== this.nextSeq) throw new Error(`seal chain out of step: sealing ${input.seq}, expected ${this.nextSeq}`);
    const tag = tagWith(this.key, this.streamIdBytes, input);
    const next = evolveKey(this.key);
    // Best effort in a garbage-collected runtime: this buffer is the only copy the chain made.
    this.key.fill(0);
    this.key = next;
    this.nextSeq += 1;
    return tag.toString('hex');
  }
}

/**
 * The verifier's side: any position's key from k_0. Walks forward from the last position asked
 * (blocks come in order); a position behind it is re-derived from k_0.
 */
/** Positions walked at once (~1 µs each); no stream of ours jumps that far between two blocks. */
const MAX_LADDER_STEP = 16_000_000;

export class KeyLadder {
  private at = 0;
  private key: Buffer;

  constructor(private readonly firstKey: Buffer) {
    this.key = firstKey;
  }

  keyAt(seq: number): Buffer {
    if (seq < this.at) {
      this.at = 0;
      this.key = this.firstKey;
    }
    while (this.at < seq) {
      this.key = evolveKey(this.key);
      this.at += 1;
    }
    return this.key;
  }

  /** True when `tag` (hex) is the tag of this block at its own position. */
  verify(input: SealInput, tag: string): boolean {
    // A forged sequence number far ahead must not make the verifier hash for hours.
    if (!/^[0-9a-f]{32}$/.test(tag) || input.seq - Math.min(this.at, input.seq) > MAX_LADDER_STEP) return false;
    return sealTag(this.keyAt(input.seq), input).toString('hex') === tag;
  }
}
