import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { pipeline, Readable, type Transform } from 'node:stream';
import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';

/**
 * An archive (one rotated log: gzip, then one OpenPGP message to the rotation keys) read as a
 * stream, so memory stays bounded whatever its size: the outer message's packets are parsed as
 * they come (partial body lengths, as openpgp.js and gpg write a stream), the SEIPD v1 body is
 * deciphered with AES-CFB chunk by chunk, the literal data gunzipped, and the rotated log
 * handed on in chunks as it appears.
 *
 * The outer MDC can only be checked at the end. Releasing the inner log before that is safe
 * here: it is itself a sequence of messages, each checked against its own MDC and seal chain,
 * so a change to the outer ciphertext cannot make a forged line read as genuine; it only
 * damages blocks (reported) and then fails the outer check (reported too).
 *
 * `openArchiveStream` returns null, having consumed nothing but the key packets, for a shape it
 * does not read (no session key, another cipher, a packet it does not know): the caller then
 * opens the archive whole with openpgp.js.
 */
export type SessionKeyFor = (keyPackets: Buffer) => Promise<{ readonly data: Uint8Array; readonly algorithm: string } | null>;

export class ArchiveFormatError extends Error {}

/** Bytes handed on at once: a few of the copy's blocks (1 MiB at most each) per hand-over. */
const OUT_CHUNK = 2 * 1024 * 1024;
const READ_MAX = 1024 * 1024;
const BODY_CHUNK = 256 * 1024;
const TAG = { pkesk: 1, compressed: 8, literal: 11, seipd: 18 } as const;
const CIPHERS: Record<string, number> = { aes128: 16, aes192: 24, aes256: 32 };
const MDC_LENGTH = 22;

/** Pull-based reading of exact byte counts from chunks as they come. */
class ByteReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private done = false;
  /** Bytes taken so far (offsets in reports). */
  taken = 0;

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.size < n && !this.done) {
      const r = await this.it.next();
      if (r.done === true) this.done = true;
      else if (r.value.byteLength > 0) {
        this.chunks.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
        this.size += r.value.byteLength;
      }
    }
    return this.size >= n;
  }

  async exact(n: number): Promise<Buffer> {
    if (!(await this.fill(n))) throw new ArchiveFormatError(`cut short at byte ${this.taken + this.size}`);
    return this.take(n);
  }

  /** Up to `max` bytes (at least one), or null at the end. */
  async some(max: number): Promise<Buffer | null> {
    if (!(await this.fill(1))) return null;
    return this.take(Math.min(max, this.size, (this.chunks[0] as Buffer).length));
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0] as Buffer;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.size -= n;
    this.taken += n;
    return out;
  }
}

type Length = { readonly kind: 'fixed' | 'partial'; readonly n: number } | { readonly kind: 'rest' };

/** A packet header: its tag, the first length, and the header's own bytes. Null at the end. */
async function header(r: ByteReader): Promise<{ tag: number; length: Length; raw: Buffer } | null> {
  const first = await r.some(1);
  if (first === null) return null;
  const ctb = first[0] as number;
  if ((ctb & 0x80) === 0) throw new ArchiveFormatError('not an OpenPGP packet');
  if ((ctb & 0x40) === 0) {
    const type = ctb & 3;
    const tag = (ctb >> 2) & 0x0f;
    if (type === 3) return { tag, length: { kind: 'rest' }, raw: first };
    const octets = [1, 2, 4][type] as number;
    const len = await r.exact(octets);
    return { tag, length: { kind: 'fixed', n: len.readUIntBE(0, octets) }, raw: Buffer.concat([first, len]) };
  }
  const { length, raw } = await newLength(r);
  return { tag: ctb & 0x3f, length, raw: Buffer.concat([first, raw]) };
}

async function newLength(r: ByteReader): Promise<{ length: Length; raw: Buffer }> {
  const a = await r.exact(1);
  const b0 = a[0] as number;
  if (b0 < 192) return { length: { kind: 'fixed', n: b0 }, raw: a };
  if (b0 < 224) {
    const b = await r.exact(1);
    return { length: { kind: 'fixed', n: ((b0 - 192) << 8) + (b[0] as number) + 192 }, raw: Buffer.concat([a, b]) };
  }
  if (b0 === 255) {
    const b = await r.exact(4);
    return { length: { kind: 'fixed', n: b.readUInt32BE(0) }, raw: Buffer.concat([a, b]) };
  }
  return { length: { kind: 'partial', n: 1 << (b0 & 0x1f) }, raw: a };
}

/**
 * A packet's body, chunk by chunk, across partial-length parts. gpg writes its parts 8 KiB
 * long: they are gathered into chunks of BODY_CHUNK, as tens of thousands of small buffers
 * down the chain cost more time, and memory the collector gives back late.
 */
async function* body(r: ByteReader, length: Length): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const b of bodyParts(r, length)) {
    parts.push(b);
    size += b.length;
    if (size >= BODY_CHUNK) {
      yield parts.length === 1 ? b : Buffer.concat(parts);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts);
}

async function* bodyParts(r: ByteReader, length: Length): AsyncGenerator<Buffer> {
  let part = length;
  for (;;) {
    if (part.kind === 'rest') {
      for (let b = await r.some(READ_MAX); b !== null; b = await r.some(READ_MAX)) yield b;
      return;
    }
    for (let left = part.n; left > 0; ) {
      const b = await r.some(Math.min(left, READ_MAX));
      if (b === null) throw new ArchiveFormatError(`cut short at byte ${r.taken}`);
      left -= b.length;
      yield b;
    }
    if (part.kind === 'fixed') return;
    part = (await newLength(r)).length;
  }
}

/** The SEIPD v1 body deciphered, the random prefix and the MDC taken off; the MDC checked at the end. */
async function* decipher(chunks: AsyncIterable<Buffer>, key: Uint8Array): AsyncGenerator<Buffer> {
  const blockBytes = 16;
  const aes = createDecipheriv(`aes-${key.length * 8}-cfb`, key, Buffer.alloc(blockBytes));
  const sha1 = createHash('sha1');
  let versionSeen = false;
  let prefixLeft = blockBytes + 2;
  let held = Buffer.alloc(0); // the last bytes, which may be the MDC packet
  for await (const chunk of chunks) {
    let c = chunk;
    if (!versionSeen && c.length > 0) {
      if (c[0] !== 1) throw new ArchiveFormatError(`SEIPD version ${c[0]}`);
      versionSeen = true;
      c = c.subarray(1);
    }
    const plain = Buffer.concat([held, aes.update(c)]);
    const out = plain.subarray(0, Math.max(0, plain.length - MDC_LENGTH));
    held = Buffer.from(plain.subarray(out.length));
    sha1.update(out);
    const skip = Math.min(prefixLeft, out.length);
    prefixLeft -= skip;
    if (out.length > skip) yield out.subarray(skip);
  }
  aes.final();
  sha1.update(held.subarray(0, 2));
  if (held.length !== MDC_LENGTH || held[0] !== 0xd3 || held[1] !== 0x14 || !timingSafeEqual(sha1.digest(), held.subarray(2))) {
    throw new ArchiveFormatError('integrity check failed (Modification detected)');
  }
}

/** Literal data from the decrypted packets: through a compressed packet if there is one. */
async function* literalData(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let r = new ByteReader(chunks[Symbol.asyncIterator]());
  let h = await header(r);
  if (h?.tag === TAG.compressed) {
    const compressed = new ByteReader(body(r, h.length)[Symbol.asyncIterator]());
    const algo = (await compressed.exact(1))[0];
    if (algo !== 0 && algo !== 1 && algo !== 2) throw new ArchiveFormatError(`compression algorithm ${algo}`);
    const rest = remaining(compressed);
    r = new ByteReader((algo === 0 ? rest : through(rest, algo === 1 ? createInflateRaw({ chunkSize: READ_MAX }) : createInflate({ chunkSize: READ_MAX })))[Symbol.asyncIterator]());
    h = await header(r);
  }
  if (h?.tag !== TAG.literal) throw new ArchiveFormatError('no literal data');
  const data = body(r, h.length);
  const lit = new ByteReader(data[Symbol.asyncIterator]());
  const nameLength = (await lit.exact(2))[1] as number;
  await lit.exact(nameLength + 4); // file name and date: the archive's own, not needed
  yield* remaining(lit);
}

async function* remaining(r: ByteReader): AsyncGenerator<Buffer> {
  for (let b = await r.some(READ_MAX); b !== null; b = await r.some(READ_MAX)) yield b;
}

/** Chunks through a zlib stream; an error on either side ends the iteration with it (pipeline, not pipe). */
function through(chunks: AsyncIterable<Buffer>, transform: Transform): AsyncIterable<Buffer> {
  return pipeline(Readable.from(chunks), transform, () => {});
}

/** Gathers small chunks (gunzip's) into hand-overs of about OUT_CHUNK bytes. */
async function* gathered(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const c of chunks) {
    parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    size += c.byteLength;
    if (size >= OUT_CHUNK) {
      yield Buffer.concat(parts);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts);
}

/**
 * Opens the archive's outer layer from `input` (its bytes as read). Returns the rotated log as
 * chunks, or null when the key packets give no session key this reader can use.
 */
export async function openArchiveStream(input: AsyncIterable<Uint8Array>, sessionKeyFor: SessionKeyFor): Promise<AsyncIterable<Buffer> | null> {
  const r = new ByteReader(input[Symbol.asyncIterator]());
  const keyPackets: Buffer[] = [];
  for (;;) {
    const h = await header(r);
    if (h === null) throw new ArchiveFormatError('no encrypted data');
    if (h.tag === TAG.seipd) {
      const key = await sessionKeyFor(Buffer.concat(keyPackets));
      if (key === null || CIPHERS[key.algorithm] !== key.data.length) return null;
      return gathered(through(literalData(decipher(body(r, h.length), key.data)), createGunzip({ chunkSize: READ_MAX })));
    }
    if (h.tag !== TAG.pkesk || h.length.kind !== 'fixed') return null;
    keyPackets.push(h.raw, await r.exact(h.length.n));
  }
}
