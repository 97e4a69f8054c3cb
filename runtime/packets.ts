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
  const length = 1 + zlibBytes.length;
  return Buffer.concat([packetHeader(TAG.compressed, length), Buffer.from([ZLIB_ALGORITHM]), zlibBytes]);
}

/** SEIPD v1 with MDC: what GnuPG 2.2 and 2.4 read. `sessionKey` is 32 bytes of AES-256 key. */
export function seipdV1Packet(sessionKey: Uint8Array, inner: Uint8Array): Buffer {
  const prefix = Buffer.allocUnsafe(AES_BLOCK + 2);
  takeRandom(prefix, AES_BLOCK);
  prefix.copy(prefix, AES_BLOCK, AES_BLOCK - 2, AES_BLOCK);
  const mdcHeader = Buffer.from([0xc0 | TAG.mdc, 20]);
  const digest = createHash('sha1').update(prefix).update(inner).update(mdcHeader).digest();
  const cipher = createCipheriv('aes-256-cfb', sessionKey, Buffer.alloc(AES_BLOCK));
  const length = 1 + prefix.length + inner.length + mdcHeader.length + digest.length;
  const parts = [packetHeader(TAG.seipd, length), Buffer.from([1]), cipher.update(prefix), cipher.update(inner), cipher.update(mdcHeader), cipher.update(digest), cipher.final()];
  return Buffer.concat(parts);
}

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
  const base64 = Buffer.from(Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength).toString('base64'), 'latin1');
  const crc = crc24(binary);
  const head = Buffer.from('-----BEGIN PGP MESSAGE-----\n\n', 'latin1');
  const tail = Buffer.from(`=${Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64')}\n-----END PGP MESSAGE-----\n`, 'latin1');
  const lines = Math.ceil(base64.length / ARMOR_LINE);
  const out = Buffer.allocUnsafe(head.length + base64.length + lines + tail.length);
  let at = head.copy(out, 0);
  for (let from = 0; from < base64.length; from += ARMOR_LINE) {
    at += base64.copy(out, at, from, Math.min(from + ARMOR_LINE, base64.length));
    out[at++] = 0x0a;
  }
  tail.copy(out, at);
  return out;
}

const ARMOR_LINE = 60;

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
const CRC24_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let crc = n << 16;
    for (let bit = 0; bit < 8; bit += 1) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= CRC24_POLY;
    }
    table[n] = crc & 0xffffff;
  }
  return table;
})();

/** RFC 4880 6.1, table driven. */
export function crc24(bytes: Uint8Array): number {
  let crc = CRC24_INIT;
  for (let i = 0; i < bytes.length; i += 1) {
    crc = ((crc << 8) & 0xffffff) ^ (CRC24_TABLE[((crc >> 16) ^ (bytes[i] as number)) & 0xff] as number);
  }
  return crc;
}
