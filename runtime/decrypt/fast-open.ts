import { createCipheriv, createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { inflateRawSync, inflateSync } from 'node:zlib';
import { ASK_OPENPGP, nativeSessionKey, type DecryptionKey } from './decryption-keys.ts';
import { loadOpenpgp } from './load-openpgp.ts';
import { OFFLOAD_MIN_BYTES, OpenPool } from './open-pool.ts';
import { openSymmetric, type Natives, type SymmetricOpened } from './open-symmetric.ts';
import { armorBody } from '../format/packets.ts';
import { readPacket } from '../format/split.ts';

/**
 * Opens a message of the shape the copy writes — session-key packets, then one SEIPD v1 packet
 * of fixed length around an optionally ZLIB/ZIP-compressed literal packet — with native
 * AES, SHA-1 and zlib, as runtime/format/packets.ts writes them. The session key is opened natively
 * too (decryption-keys.ts) when the key allows, else by openpgp.js. Returns null for any other
 * shape (partial lengths, other algorithms, as gpg may write): the caller then hands the
 * message to openpgp.decrypt, which reads everything.
 *
 * Integrity is checked as openpgp.js and GnuPG check it: the MDC (SHA-1 over prefix and
 * plaintext) must match, or the message is rejected, not passed on.
 */
export interface Opened {
  readonly data: Uint8Array;
  readonly filename: string | null;
  /** The literal packet's date (the seal time of our blocks), null when unknown. */
  readonly date: Date | null;
  /** Worked out beside the opening on a worker thread, so the main thread need not: SHA-256 of `data` and its line count. */
  readonly digest?: Uint8Array;
  readonly newlines?: number;
}


const TAG = { pkesk: 1, seipd: 18 } as const;

interface Packet {
  readonly tag: number;
  /** Offset of the packet's header. */
  readonly at: number;
  /** Offsets of the body in the buffer. */
  readonly start: number;
  readonly end: number;
}

/** A whole packet of fixed length at `at` (the splitter's reader), or null for anything else. */
function packetAt(buf: Buffer, at: number): Packet | null {
  const h = readPacket(buf, at);
  return h.status === 'ok' && !h.partial ? { tag: h.tag, at, start: h.bodyStart, end: h.end } : null;
}

/** A session key obtained elsewhere (the local GnuPG) from a message's key packets, or null. */
export type SessionKeyOf = (keyPackets: Buffer) => Promise<{ readonly data: Uint8Array; readonly algorithm: string } | null>;

/**
 * Session keys already opened, by the exact bytes of the key packets in front of them. The copy
 * reuses one session key and its key packets for a window of blocks (runtime/session-key.ts), so
 * identical key packets hold the same key: one private-key operation per window instead of one
 * per block, which is what makes a log of many small blocks (and a key in gpg-agent or on a
 * smartcard) fast to open. A promise is kept, so blocks opened side by side share the operation.
 */
type KeyCache = Map<string, Promise<{ data: Uint8Array; algorithm: string } | null>>;
const sessionKeyCaches = new WeakMap<readonly DecryptionKey[], KeyCache>();
/**
 * Distinct session keys remembered per key set. A log's windows come in order, so a few would
 * do; more keeps interleaved streams (a replaced pipe, several copies into one log) cheap too,
 * at 32 bytes of key and a few hundred of packet bytes each.
 */
const SESSION_KEY_CACHE_ENTRIES = 256;

export async function sessionKeyFor(keyPacketBytes: Buffer, keys: readonly DecryptionKey[], sessionKeyOf: SessionKeyOf | undefined): Promise<{ data: Uint8Array; algorithm: string } | null> {
  let cache = sessionKeyCaches.get(keys);
  if (cache === undefined) {
    cache = new Map();
    sessionKeyCaches.set(keys, cache);
  }
  const id = keyPacketBytes.toString('base64');
  let pending = cache.get(id);
  if (pending === undefined) {
    // A copy: the bytes may be a view of the reader's shared window, which WebCrypto refuses.
    pending = decryptSessionKey(Buffer.from(keyPacketBytes), keys, sessionKeyOf);
    cache.set(id, pending);
    if (cache.size > SESSION_KEY_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
    // A failure (wrong key, damaged packet) is not remembered: the next block tries for itself.
    const current = cache;
    pending.catch(() => current.delete(id));
  } else {
    // Most recently used last, so the oldest window is the one forgotten.
    cache.delete(id);
    cache.set(id, pending);
  }
  return pending;
}

/** Private-key operations made so far (for the tests and the bench). */
export const sessionKeyStats = { decrypted: 0 };

/** With the private keys, or through the local GnuPG (`--gpg`) when `sessionKeyOf` is given. */
async function decryptSessionKey(keyPacketBytes: Buffer, keys: readonly DecryptionKey[], sessionKeyOf: SessionKeyOf | undefined): Promise<{ data: Uint8Array; algorithm: string } | null> {
  sessionKeyStats.decrypted += 1;
  if (sessionKeyOf !== undefined) {
    const key = await sessionKeyOf(keyPacketBytes);
    return key === null || key.algorithm !== 'aes256' ? null : { data: key.data, algorithm: key.algorithm };
  }
  const native = nativeSessionKey(keyPacketBytes, keys);
  if (native !== ASK_OPENPGP) return native.algorithm !== 'aes256' ? null : native;
  const openpgp = await loadOpenpgp();
  const keyPackets = await openpgp.readMessage({ binaryMessage: keyPacketBytes });
  const [sessionKey] = await openpgp.decryptSessionKeys({ message: keyPackets, decryptionKeys: await Promise.all(keys.map((k) => k.openpgp())) });
  return sessionKey === undefined || sessionKey.algorithm !== 'aes256' ? null : { data: sessionKey.data, algorithm: sessionKey.algorithm };
}

export async function openOwnShape(binary: Buffer, keys: readonly DecryptionKey[], sessionKeyOf?: SessionKeyOf): Promise<Opened | null> {
  let at = 0;
  let seipd: Packet | null = null;
  while (at < binary.length) {
    const packet = packetAt(binary, at);
    if (packet === null) return null;
    if (packet.tag === TAG.seipd && packet.end === binary.length) seipd = packet;
    else if (packet.tag !== TAG.pkesk) return null;
    at = packet.end;
  }
  if (seipd === null || binary[seipd.start] !== 1 || seipd.at === 0) return null;
  // The first large block starts the workers and is opened here while they start: an input
  // with a single large block never waits for them; the following ones go to them.
  let offload: OpenPool | null = null;
  if (seipd.end - seipd.start >= OFFLOAD_MIN_BYTES) {
    if (pool === null) pool = new OpenPool().warm();
    else offload = pool;
  }

  const sessionKey = await sessionKeyFor(binary.subarray(0, seipd.at), keys, sessionKeyOf);
  if (sessionKey === null) return null;

  // Large bodies (a flood's blocks) open on worker threads, side by side; small ones here.
  const job = { message: binary, start: seipd.start + 1, end: seipd.end, key: sessionKey.data };
  return asOpened(offload !== null ? await offload.open(job) : openSymmetric(NATIVES, binary, job.start, job.end, job.key));
}

/**
 * A large armored message of the copy's shape, opened on a worker thread from its armor: the
 * base64 decoding is a tenth of a flood's work, and it is done there instead of here. Here only
 * the head is decoded, for the key packets (the session key is found here, as for any block)
 * and the SEIPD packet's header. Null for anything else — a small message, key packets that
 * do not fit the head (many recipients), another shape, no workers yet (the first large block
 * starts them) — and then the caller reads the message whole, as before.
 */
export async function openOwnArmored(text: Buffer, keys: readonly DecryptionKey[], sessionKeyOf?: SessionKeyOf): Promise<Opened | null> {
  const body = armorBody(text);
  if (body === null || ((body.end - body.start) * 3) / 4 < OFFLOAD_MIN_BYTES || pool === null) return null;
  const head = Buffer.from(text.toString('latin1', body.start, Math.min(body.end, body.start + ARMOR_HEAD_CHARS)), 'base64');
  let at = 0;
  for (;;) {
    const h = headerAt(head, at);
    if (h === null) return null;
    if (h.tag === TAG.pkesk) {
      if (h.start + h.length > head.length) return null;
      at = h.start + h.length;
      continue;
    }
    if (h.tag !== TAG.seipd || at === 0 || head[h.start] !== 1) return null;
    const sessionKey = await sessionKeyFor(head.subarray(0, at), keys, sessionKeyOf);
    if (sessionKey === null) return null;
    const job = { message: text.subarray(body.start, body.end), head: head.subarray(0, h.start + 1), start: h.start + 1, end: h.start + h.length, key: sessionKey.data };
    return asOpened(await pool.open(job));
  }
}

/** Base64 decoded up front from a large armored message: about 1.5 KiB, a few X25519 or two RSA-4096 key packets. */
const ARMOR_HEAD_CHARS = 2048;

/** A packet header of fixed length at `at` (its body need not be there), or null. */
function headerAt(buf: Buffer, at: number): { tag: number; start: number; length: number } | null {
  const ctb = buf[at];
  if (ctb === undefined || (ctb & 0xc0) !== 0xc0) return null; // the copy writes new-format headers
  const first = buf[at + 1];
  if (first === undefined) return null;
  if (first < 192) return { tag: ctb & 0x3f, start: at + 2, length: first };
  if (first < 224) return at + 2 < buf.length ? { tag: ctb & 0x3f, start: at + 3, length: ((first - 192) << 8) + (buf[at + 2] as number) + 192 } : null;
  if (first === 255 && at + 6 <= buf.length) return { tag: ctb & 0x3f, start: at + 6, length: buf.readUInt32BE(at + 2) };
  return null; // a partial length
}

function asOpened(opened: SymmetricOpened | null): Opened | null {
  if (opened === null) return null;
  return { data: opened.data, filename: opened.filename === '' ? null : opened.filename, date: new Date(opened.seconds * 1000), digest: opened.digest, newlines: opened.newlines };
}

/** Started with the first large block; idle workers do not keep the process alive. */
let pool: OpenPool | null = null;
const NATIVES: Natives = { createCipheriv, createDecipheriv, createHash, timingSafeEqual, inflateSync, inflateRawSync };

