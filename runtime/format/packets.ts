import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * The symmetric half of a block message, written with node's native crypto (RFC 4880):
 *
 *   SEIPD v1 (tag 18) = AES-256-CFB, IV of zeros, over
 *       random prefix (16 bytes + its last 2 repeated) || inner packets || MDC (tag 19: SHA-1)
 *   inner  = Compressed Data (tag 8, ZLIB) around a Literal Data packet (tag 11), or the literal alone
 *
 * Why not openpgp.encrypt for this part: it runs the same steps through web streams in
 * JavaScript, and at a 256 KiB block it spent most of its time copying buffers and collecting
 * garbage (about 30 MB/s). Here the heavy steps are native: zlib (on the libuv thread pool, so
 * blocks compress in parallel), AES and SHA-1. The asymmetric half — the session key encrypted to
 * each recipient — stays with openpgp.js. Every message is checked by stock gpg and by
 * openpgp.js in the tests.
 */

const TAG = { compressed: 8, literal: 11, seipd: 18, mdc: 19 } as const;
const ZLIB_ALGORITHM = 2;
const AES_BLOCK = 16;

/** A new-format packet header (RFC 4880 4.2.2) for a body of known length. */
export function packetHeader(tag: number, length: number): Buffer {
  const first = 0xc0 | tag;
  if (length < 192) return Buffer.from([first, length]);
  if (length < 8384) {
    const rest = length - 192;
    return Buffer.from([first, (rest >> 8) + 192, rest & 0xff]);
  }
  const header = Buffer.alloc(6);
  header[0] = first;
  header[1] = 0xff;
  header.writeUInt32BE(length, 2);
  return header;
}

/** Literal Data: binary format, the filename field (our block metadata) and the date. */
export function literalPacket(data: Uint8Array, filename: string, date: Date): Buffer {
  const name = Buffer.from(filename, 'utf8');
  if (name.length > 255) throw new RangeError('a literal packet filename holds at most 255 bytes');
  const fields = Buffer.alloc(2 + name.length + 4);
  fields[0] = 0x62; // 'b'
  fields[1] = name.length;
  name.copy(fields, 2);
  fields.writeUInt32BE(Math.floor(date.getTime() / 1000) >>> 0, 2 + name.length);
  const length = fields.length + data.length;
  return Buffer.concat([packetHeader(TAG.literal, length), fields, data]);
}

/** Compressed Data around already ZLIB-compressed (RFC 1950) packets. */
export function compressedPacket(zlibBytes: Uint8Array): Buffer {
  return Buffer.concat(compressedPacketParts(zlibBytes));
}

/** The same packet as parts (its header, then the ZLIB bytes themselves, not copied). */
export function compressedPacketParts(zlibBytes: Uint8Array): Uint8Array[] {
  const length = 1 + zlibBytes.length;
  return [Buffer.concat([packetHeader(TAG.compressed, length), Buffer.from([ZLIB_ALGORITHM])]), zlibBytes];
}

/** SEIPD v1 with MDC: what GnuPG 2.2 and 2.4 read. `sessionKey` is 32 bytes of AES-256 key. */
export function seipdV1Packet(sessionKey: Uint8Array, inner: Uint8Array): Buffer {
  return Buffer.concat(seipdV1Parts(sessionKey, [inner]));
}

/**
 * The same packet as parts, over `inner` given as parts too: SHA-1 and CFB are fed part by part,
 * so no layer is copied into a buffer of its own before the message is written out once
 * (armorParts, or one Buffer.concat for binary output).
 */
export function seipdV1Parts(sessionKey: Uint8Array, inner: readonly Uint8Array[]): Buffer[] {
  const prefix = Buffer.allocUnsafe(AES_BLOCK + 2);
  takeRandom(prefix, AES_BLOCK);
  prefix.copy(prefix, AES_BLOCK, AES_BLOCK - 2, AES_BLOCK);
  const hash = createHash('sha1').update(prefix);
  let innerLength = 0;
  for (const part of inner) {
    hash.update(part);
    innerLength += part.length;
  }
  const digest = hash.update(MDC_HEADER).digest();
  const cipher = createCipheriv('aes-256-cfb', sessionKey, ZERO_IV);
  const length = 1 + prefix.length + innerLength + MDC_HEADER.length + digest.length;
  const parts = [Buffer.concat([packetHeader(TAG.seipd, length), SEIPD_VERSION]), cipher.update(prefix)];
  for (const part of inner) parts.push(cipher.update(part));
  parts.push(cipher.update(MDC_HEADER), cipher.update(digest), cipher.final());
  return parts;
}

const MDC_HEADER = Buffer.from([0xc0 | TAG.mdc, 20]);
const SEIPD_VERSION = Buffer.from([1]);
const ZERO_IV = Buffer.alloc(AES_BLOCK);

/**
 * Random bytes for the prefixes, drawn from the CSPRNG a few KiB at a time: one randomBytes call
 * per block cost more in node's argument checks and buffer set-up than the 16 bytes themselves.
 * Each prefix is still fresh CSPRNG output, never reused: with a session key shared by a
 * window's blocks, the prefix is what makes every message's CFB keystream its own.
 */
const RANDOM_POOL_BYTES = 4096;
let randomPool: Buffer = Buffer.alloc(0);
let randomAt = 0;

function takeRandom(into: Buffer, length: number): void {
  if (randomAt + length > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomAt = 0;
  }
  randomPool.copy(into, 0, randomAt, randomAt + length);
  // Used bytes are overwritten, so the pool never holds a prefix already handed out.
  randomPool.fill(0, randomAt, randomAt + length);
  randomAt += length;
}

/**
 * ASCII armor for a message: 60-character base64 lines and a CRC-24 checksum line, as
 * openpgp.js writes for SEIPD v1 (GnuPG misreads some armor that ends without padding and
 * without a checksum).
 */
export function armorMessage(binary: Uint8Array): Buffer {
  return armorParts([binary]);
}

/**
 * The armor of the message made of `parts` in order, written straight into one buffer: the CRC
 * is carried from part to part, and base64 is made natively a chunk of lines at a time (strings
 * small enough for V8's young generation, not one large string per message) and spread into
 * lines in place. Byte for byte what armorMessage of the joined parts writes.
 */
export function armorParts(parts: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const part of parts) total += part.length;
  const base64Length = 4 * Math.ceil(total / 3);
  const lines = Math.ceil(base64Length / ARMOR_LINE);
  const out = Buffer.allocUnsafe(ARMOR_HEAD.length + base64Length + lines + ARMOR_TAIL_LENGTH);
  let at = ARMOR_HEAD.copy(out, 0);
  let crc = CRC24_INIT;
  // Bytes of a line that straddles two parts; only used within this call.
  let carried = 0;
  for (const part of parts) {
    crc = crc24(part, crc);
    const bytes = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    let from = 0;
    if (carried > 0) {
      from = bytes.copy(LINE_CARRY, carried, 0, LINE_BYTES - carried);
      carried += from;
      if (carried < LINE_BYTES) continue;
      at = writeLines(LINE_CARRY, 0, LINE_BYTES, out, at);
      carried = 0;
    }
    const whole = from + Math.floor((bytes.length - from) / LINE_BYTES) * LINE_BYTES;
    at = writeLines(bytes, from, whole, out, at);
    carried = bytes.copy(LINE_CARRY, 0, whole);
  }
  if (carried > 0) {
    at += out.write(LINE_CARRY.toString('base64', 0, carried), at, 'latin1');
    out[at++] = 0x0a;
  }
  at += out.write(`=${Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64')}\n`, at, 'latin1');
  ARMOR_END.copy(out, at);
  return out;
}

/**
 * Base64 of whole lines' bytes `src[from, to)` into `out` at `at`, each line followed by `\n`;
 * returns where the next line goes. Each chunk is written `k` bytes to the right of its place
 * and its lines moved left into place, in order: line i goes from at+k+60i to at+61i, never
 * past the start of a line not moved yet (61i+61 <= k+60i+60 for i < k).
 */
function writeLines(src: Buffer, from: number, to: number, out: Buffer, at: number): number {
  for (let start = from; start < to; start += LINE_BYTES * LINES_PER_CHUNK) {
    const end = Math.min(start + LINE_BYTES * LINES_PER_CHUNK, to);
    const k = (end - start) / LINE_BYTES;
    out.write(src.toString('base64', start, end), at + k, 'latin1');
    for (let i = 0; i < k; i += 1) {
      out.copyWithin(at + (ARMOR_LINE + 1) * i, at + k + ARMOR_LINE * i, at + k + ARMOR_LINE * (i + 1));
      out[at + (ARMOR_LINE + 1) * i + ARMOR_LINE] = 0x0a;
    }
    at += (ARMOR_LINE + 1) * k;
  }
  return at;
}

const ARMOR_LINE = 60;
/** Bytes per armor line: 45 bytes are 60 base64 characters. */
const LINE_BYTES = 45;
/** 61,440 characters per base64 string: below V8's large-object size, so it dies young. */
const LINES_PER_CHUNK = 1024;
const LINE_CARRY = Buffer.alloc(LINE_BYTES);
const ARMOR_HEAD = Buffer.from('-----BEGIN PGP MESSAGE-----\n\n', 'latin1');
const ARMOR_END = Buffer.from('-----END PGP MESSAGE-----\n', 'latin1');
/** `=` + 4 checksum characters + `\n`, then the END line. */
const ARMOR_TAIL_LENGTH = 6 + ARMOR_END.length;

/**
 * The bytes inside one armored message (header lines skipped), or null when the text is not
 * plain armor: the caller then leaves it to openpgp.js. The CRC-24 line is not checked: it only
 * guards transport, and the MDC that every message carries is checked over the same bytes.
 */
export function dearmor(text: Buffer): Buffer | null {
  const body = armorBody(text);
  // Node's base64 decoder skips the line breaks itself.
  return body === null ? null : Buffer.from(text.toString('latin1', body.start, body.end), 'base64');
}

/** Where the base64 lines of one armored message are (see `dearmor`), or null when it is not plain armor. */
export function armorBody(text: Buffer): { start: number; end: number } | null {
  if (!text.subarray(0, ARMOR_BEGIN.length).equals(ARMOR_BEGIN)) return null;
  // Armor headers end at the first empty line; the body runs to the checksum or END line.
  const blank = text.indexOf('\n\n', ARMOR_BEGIN.length - 1);
  const end = text.lastIndexOf('\n-----END PGP MESSAGE-----');
  if (blank < 0 || end < blank) return null;
  const check = text.lastIndexOf('\n=', end);
  return { start: blank + 2, end: check > blank ? check : end };
}

const ARMOR_BEGIN = Buffer.from('-----BEGIN PGP MESSAGE-----\n');
const CRC24_INIT = 0xb704ce;
const CRC24_POLY = 0x1864cfb;
/**
 * Slicing by 4: the CRC kept in the top 24 bits of a 32-bit register, four bytes a step through
 * four tables (table k: a byte followed by k zero bytes). A byte a step cost ~0.65 ms per MB
 * of a flood's input, on the event loop's thread.
 */
const CRC24_TABLES = (() => {
  const tables = [0, 1, 2, 3].map(() => new Int32Array(256));
  const [t0, t1, t2, t3] = tables as [Int32Array, Int32Array, Int32Array, Int32Array];
  for (let n = 0; n < 256; n += 1) {
    let crc = n << 16;
    for (let bit = 0; bit < 8; bit += 1) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= CRC24_POLY;
    }
    t0[n] = (crc & 0xffffff) << 8;
  }
  for (let n = 0; n < 256; n += 1) {
    t1[n] = (t0[n]! << 8) ^ t0[t0[n]! >>> 24]!;
    t2[n] = (t1[n]! << 8) ^ t0[t1[n]! >>> 24]!;
    t3[n] = (t2[n]! << 8) ^ t0[t2[n]! >>> 24]!;
  }
  return tables as [Int32Array, Int32Array, Int32Array, Int32Array];
})();

/** RFC 4880 6.1, table driven; `crc`: the CRC of the bytes before these, to go on from. */
export function crc24(bytes: Uint8Array, crc = CRC24_INIT): number {
  const [t0, t1, t2, t3] = CRC24_TABLES;
  let c = crc << 8;
  const n = bytes.length;
  const whole = n - (n & 3);
  let i = 0;
  for (; i < whole; i += 4) {
    c ^= (bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!;
    c = t3[c >>> 24]! ^ t2[(c >>> 16) & 0xff]! ^ t1[(c >>> 8) & 0xff]! ^ t0[c & 0xff]!;
  }
  for (; i < n; i += 1) c = (c << 8) ^ t0[((c >>> 24) ^ bytes[i]!) & 0xff]!;
  return (c >>> 8) & 0xffffff;
}
