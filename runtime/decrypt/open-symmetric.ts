import type * as crypto from 'node:crypto';
import type * as zlib from 'node:zlib';
import type { InflateInto } from './reused-inflate.ts';

/**
 * The symmetric half of opening one of the copy's messages, once its session key is known:
 * AES-256-CFB over the SEIPD v1 body, the MDC (SHA-1 over prefix and plaintext) checked as
 * openpgp.js and GnuPG check it, then the optional ZLIB/ZIP layer and the literal packet.
 *
 * The function is self-contained (node's modules come in as `m`, no other outside name is
 * used) because the worker threads run its source text (open-pool.ts): it must work the same
 * on the main thread and in a worker, where nothing of this module is loaded.
 *
 * Returns null for a shape it does not read (partial lengths, BZip2, a packet other than
 * literal data): the caller hands the message to openpgp.js. Throws on a failed integrity check.
 */
export interface Natives {
  readonly createCipheriv: typeof crypto.createCipheriv;
  readonly createDecipheriv: typeof crypto.createDecipheriv;
  readonly createHash: typeof crypto.createHash;
  readonly timingSafeEqual: typeof crypto.timingSafeEqual;
  readonly inflateSync: typeof zlib.inflateSync;
  readonly inflateRawSync: typeof zlib.inflateRawSync;
  /** A worker's inflate into buffers used again (reused-inflate.ts); inflateSync without it. */
  readonly inflateInto?: InflateInto;
}

export interface SymmetricOpened {
  readonly data: Uint8Array;
  readonly filename: string;
  /** The literal packet's date field, seconds since the epoch. */
  readonly seconds: number;
  /** Added by a worker thread: SHA-256 of `data` (the seal check's) and its newline count. */
  readonly digest?: Uint8Array;
  readonly newlines?: number;
  /** How many times larger the inflated packets were than the compressed ones (1 uncompressed). */
  readonly ratio?: number;
}

export function openSymmetric(m: Natives, message: Uint8Array, start: number, end: number, key: Uint8Array, ratio = 8): SymmetricOpened | null {
  const AES_BLOCK = 16;
  const MDC_LENGTH = 22; // tag, length, 20 bytes of SHA-1
  const TAG_COMPRESSED = 8;
  const TAG_LITERAL = 11;
  /** A crafted message must not inflate to all memory: the copy's blocks are at most 1 MiB. */
  const MAX_INFLATED = 256 * 1024 * 1024;
  /** A packet of fixed length at `at` spanning exactly to the buffer's end (tag and body), or null. */
  const whole = (buf: Buffer): { tag: number; start: number } | null => {
    const ctb = buf[0];
    if (ctb === undefined || (ctb & 0x80) === 0) return null;
    let tag: number;
    let bodyStart: number;
    let length: number;
    if ((ctb & 0x40) === 0) {
      const octets = [1, 2, 4][ctb & 3];
      if (octets === undefined || buf.length < 1 + octets) return null;
      tag = (ctb >> 2) & 0x0f;
      length = buf.readUIntBE(1, octets);
      bodyStart = 1 + octets;
    } else {
      tag = ctb & 0x3f;
      const first = buf[1];
      if (first === undefined) return null;
      if (first < 192) [length, bodyStart] = [first, 2];
      else if (first < 224) [length, bodyStart] = [((first - 192) << 8) + (buf[2] ?? 0) + 192, 3];
      else if (first === 255 && buf.length >= 6) [length, bodyStart] = [buf.readUInt32BE(2), 6];
      else return null; // a partial length: left to openpgp.js
    }
    return bodyStart + length === buf.length ? { tag, start: bodyStart } : null;
  };

  const body = Buffer.from(message.buffer, message.byteOffset + start, end - start);
  if (body.length < AES_BLOCK + 2 + MDC_LENGTH) throw new Error('Error decrypting message: Modification detected.');
  // AES-256-CFB with an IV of zeros, deciphered as P_j = C_j xor E(C_{j-1}), E(IV) for j = 0.
  // OpenSSL's CFB runs AES one block after the other; ECB and CBC decryption run several at
  // once (twice as fast here): ECB gives every E(C_j), and CBC decryption of those, with E(IV)
  // as its IV, gives D(E(C_j)) xor E(C_{j-1}) = C_j xor E(C_{j-1}). A short last block (`tail`,
  // inside the MDC packet, as the MDC is 22 bytes) is XORed here.
  const ecb = () => m.createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const short = body.length % AES_BLOCK;
  const full = body.length - short;
  const encrypted = ecb().update(body.subarray(0, full)); // E(C_j) of every whole block
  const plain = m.createDecipheriv('aes-256-cbc', key, ecb().update(Buffer.alloc(AES_BLOCK))).setAutoPadding(false).update(encrypted);
  const tail = Buffer.alloc(short);
  for (let i = 0; i < short; i += 1) tail[i] = (body[full + i] as number) ^ (encrypted[full - AES_BLOCK + i] as number);
  // The MDC packet: tag, length and SHA-1 over everything before its digest.
  const mdc = Buffer.concat([plain.subarray(full - (MDC_LENGTH - short)), tail]);
  const digest = m.createHash('sha1').update(plain.subarray(0, full - (20 - short))).digest();
  const mdcOk = mdc[0] === 0xd3 && mdc[1] === 0x14 && m.timingSafeEqual(digest, mdc.subarray(2));
  if (!mdcOk) throw new Error('Error decrypting message: Modification detected.');

  let inner: Buffer = plain.subarray(AES_BLOCK + 2, full - (MDC_LENGTH - short));
  let inflated = 1;
  let packet = whole(inner);
  if (packet?.tag === TAG_COMPRESSED) {
    const algorithm = inner[packet.start];
    const compressed = inner.subarray(packet.start + 1);
    // Output in one piece where it fits rather than 16 KiB ones (several pieces are copied once
    // more at the end). Log lines inflate about fourfold; `ratio` is the caller's guess (a worker
    // goes by the blocks before), and a piece much larger than needed would count against the
    // memory that sets off garbage collection. A small block gets a small buffer.
    const zopts = { maxOutputLength: MAX_INFLATED, chunkSize: Math.min(4 * 1024 * 1024, Math.max(16 * 1024, Math.ceil(compressed.length * ratio))) };
    if ((algorithm === 1 || algorithm === 2) && m.inflateInto !== undefined) inner = m.inflateInto(algorithm, compressed, zopts.chunkSize, MAX_INFLATED);
    else if (algorithm === 2) inner = m.inflateSync(compressed, zopts);
    else if (algorithm === 1) inner = m.inflateRawSync(compressed, zopts);
    else if (algorithm !== 0) return null; // BZip2 and the like: left to openpgp.js
    else inner = compressed;
    inflated = inner.length / Math.max(1, compressed.length);
    packet = whole(inner);
  }
  if (packet?.tag !== TAG_LITERAL) return null;
  const nameLength = inner[packet.start + 1] ?? 0;
  const nameStart = packet.start + 2;
  const dataStart = nameStart + nameLength + 4;
  if (dataStart > inner.length) return null;
  return { data: inner.subarray(dataStart), filename: inner.toString('utf8', nameStart, nameStart + nameLength), seconds: inner.readUInt32BE(nameStart + nameLength), ratio: inflated };
}

/**
 * The binary message inside an armored one's base64 lines (`body`), for a worker thread to
 * decode instead of the main thread. The main thread decoded only the head, to find the key
 * packets and the SEIPD packet's header: the message is taken only when it decodes to exactly
 * that head (`head`) and ends where the SEIPD packet's length says (`end`). Otherwise null, and
 * the main thread reads the message the usual way. Self-contained, as `openSymmetric`.
 */
export function decodeArmored(body: Uint8Array, head: Uint8Array, end: number, scratch?: { buffer: Buffer | null }): Buffer | null {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // Node's base64 decoder skips the line breaks itself. It needs a string, and a string of a
  // whole block's lines (~350 KiB for 1 MiB of text) is made in fresh pages of its own every
  // time (V8's large-object space, or a malloc'd external string past ~1 MB): a fifth of the
  // decrypter's page faults in a flood. So the lines are decoded in pieces under 128 KiB, whose
  // strings live and die in the young generation. A piece ends only where a whole number of
  // lines of the first line's length ends, and only when such a line holds a multiple of 4
  // characters, so each piece decodes on its own. If the lines differ after all, a piece decodes
  // short and so does the whole (decoding never drops whole bytes, only a piece's last bits),
  // and the length check below refuses it.
  const firstBreak = bytes.indexOf(10);
  const lineChars = firstBreak - (firstBreak > 0 && bytes[firstBreak - 1] === 13 ? 1 : 0);
  const step = (firstBreak + 1) * Math.floor((96 * 1024) / (firstBreak + 1));
  let binary: Buffer;
  if (firstBreak > 0 && lineChars % 4 === 0 && step > 0 && bytes.length > step) {
    // A worker decodes every block into the same buffer (`scratch`): what is opened from it is
    // deciphered into buffers of its own, so nothing refers to it once the block is opened.
    const need = Math.ceil((bytes.length * 3) / 4) + 3;
    const kept = scratch?.buffer;
    binary = kept != null && kept.length >= need ? kept : Buffer.allocUnsafeSlow(need);
    if (scratch !== undefined && binary !== kept && need <= 8 * 1024 * 1024) scratch.buffer = binary;
    let written = 0;
    for (let at = 0; at < bytes.length; at += step) {
      const cut = Math.min(bytes.length, at + step);
      written += binary.write(bytes.toString('latin1', at, cut), written, 'base64');
    }
    binary = binary.subarray(0, written);
  } else {
    binary = Buffer.from(bytes.toString('latin1'), 'base64');
  }
  if (binary.length !== end || binary.length < head.length) return null;
  return Buffer.compare(binary.subarray(0, head.length), head) === 0 ? binary : null;
}
