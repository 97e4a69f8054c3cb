import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { inflate, inflateRaw, inflateRawSync, inflateSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { readPacket } from './split.ts';

/**
 * Opens a message of the shape the copy writes — session-key packets, then one SEIPD v1 packet
 * of fixed length around an optionally ZLIB/ZIP-compressed literal packet — with native
 * AES, SHA-1 and zlib, as runtime/packets.ts writes them. openpgp.js decrypts only the session
 * key. Returns null for any other shape (partial lengths, other algorithms, as gpg may write):
 * the caller then hands the message to openpgp.decrypt, which reads everything.
 *
 * Integrity is checked as openpgp.js and GnuPG check it: the MDC (SHA-1 over prefix and
 * plaintext) must match, or the message is rejected, not passed on.
 */
export interface Opened {
  readonly data: Uint8Array;
  readonly filename: string | null;
  /** The literal packet's date (the seal time of our blocks), null when unknown. */
  readonly date: Date | null;
}

/** On the thread pool, so messages opened side by side inflate in parallel. */
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);

/**
 * Large output chunks: a 1 MiB block comes back in a few hand-overs instead of 64. The cap keeps
 * a crafted "zip bomb" message from taking all memory; the copy's blocks are at most 1 MiB.
 */
const INFLATE = { chunkSize: 256 * 1024, maxOutputLength: 256 * 1024 * 1024 };
/**
 * A trickle's blocks are a few KiB: inflated synchronously, they skip a thread-pool round trip
 * that costs more than the inflating itself. Larger ones still inflate side by side on the pool.
 */
const SYNC_INFLATE_MAX = 16 * 1024;
const INFLATE_SMALL = { maxOutputLength: INFLATE.maxOutputLength };

const TAG = { pkesk: 1, compressed: 8, literal: 11, seipd: 18 } as const;
const AES_BLOCK = 16;
const MDC_LENGTH = 22;

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
const sessionKeyCaches = new WeakMap<readonly openpgp.PrivateKey[], KeyCache>();
/**
 * Distinct session keys remembered per key set. A log's windows come in order, so a few would
 * do; more keeps interleaved streams (a replaced pipe, several copies into one log) cheap too,
 * at 32 bytes of key and a few hundred of packet bytes each.
 */
const SESSION_KEY_CACHE_ENTRIES = 256;

async function sessionKeyFor(keyPacketBytes: Buffer, keys: readonly openpgp.PrivateKey[], sessionKeyOf: SessionKeyOf | undefined): Promise<{ data: Uint8Array; algorithm: string } | null> {
  let cache = sessionKeyCaches.get(keys);
  if (cache === undefined) {
    cache = new Map();
    sessionKeyCaches.set(keys, cache);
  }
  const id = keyPacketBytes.toString('base64');
  let pending = cache.get(id);
  if (pending === undefined) {
    pending = decryptSessionKey(keyPacketBytes, keys, sessionKeyOf);
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
async function decryptSessionKey(keyPacketBytes: Buffer, keys: readonly openpgp.PrivateKey[], sessionKeyOf: SessionKeyOf | undefined): Promise<{ data: Uint8Array; algorithm: string } | null> {
  sessionKeyStats.decrypted += 1;
  if (sessionKeyOf !== undefined) {
    const key = await sessionKeyOf(keyPacketBytes);
    return key === null || key.algorithm !== 'aes256' ? null : { data: key.data, algorithm: key.algorithm };
  }
  const keyPackets = await openpgp.readMessage({ binaryMessage: keyPacketBytes });
  const [sessionKey] = await openpgp.decryptSessionKeys({ message: keyPackets, decryptionKeys: [...keys] });
  return sessionKey === undefined || sessionKey.algorithm !== 'aes256' ? null : { data: sessionKey.data, algorithm: sessionKey.algorithm };
}

export async function openOwnShape(binary: Buffer, keys: readonly openpgp.PrivateKey[], sessionKeyOf?: SessionKeyOf): Promise<Opened | null> {
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

  const sessionKey = await sessionKeyFor(binary.subarray(0, seipd.at), keys, sessionKeyOf);
  if (sessionKey === null) return null;

  const decipher = createDecipheriv('aes-256-cfb', sessionKey.data, Buffer.alloc(AES_BLOCK));
  const plain = Buffer.concat([decipher.update(binary.subarray(seipd.start + 1, seipd.end)), decipher.final()]);
  if (plain.length < AES_BLOCK + 2 + MDC_LENGTH) throw new Error('Error decrypting message: Modification detected.');
  const digest = createHash('sha1').update(plain.subarray(0, plain.length - 20)).digest();
  const mdcOk = plain[plain.length - 22] === 0xd3 && plain[plain.length - 21] === 0x14 && timingSafeEqual(digest, plain.subarray(plain.length - 20));
  if (!mdcOk) throw new Error('Error decrypting message: Modification detected.');

  let inner: Buffer = plain.subarray(AES_BLOCK + 2, plain.length - MDC_LENGTH);
  let packet = packetAt(inner, 0);
  if (packet?.tag === TAG.compressed && packet.end === inner.length) {
    const algorithm = inner[packet.start];
    const body = inner.subarray(packet.start + 1, packet.end);
    const small = body.length <= SYNC_INFLATE_MAX;
    if (algorithm === 2) inner = small ? inflateSync(body, INFLATE_SMALL) : await inflateAsync(body, INFLATE);
    else if (algorithm === 1) inner = small ? inflateRawSync(body, INFLATE_SMALL) : await inflateRawAsync(body, INFLATE);
    else if (algorithm !== 0) return null; // BZip2 and the like: left to openpgp.js
    else inner = body;
    packet = packetAt(inner, 0);
  }
  if (packet?.tag !== TAG.literal || packet.end !== inner.length) return null;
  const nameLength = inner[packet.start + 1] ?? 0;
  const nameStart = packet.start + 2;
  const dataStart = nameStart + nameLength + 4;
  if (dataStart > packet.end) return null;
  const filename = inner.toString('utf8', nameStart, nameStart + nameLength);
  const seconds = inner.readUInt32BE(nameStart + nameLength);
  return { data: inner.subarray(dataStart, packet.end), filename: filename === '' ? null : filename, date: new Date(seconds * 1000) };
}
