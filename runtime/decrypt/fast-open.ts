import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { inflate, inflateRaw } from 'node:zlib';
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

  const sessionKey =
    sessionKeyOf !== undefined
      ? await sessionKeyOf(binary.subarray(0, seipd.at))
      : (await openpgp.decryptSessionKeys({ message: await openpgp.readMessage({ binaryMessage: binary.subarray(0, seipd.at) }), decryptionKeys: [...keys] }))[0];
  if (sessionKey === undefined || sessionKey === null || sessionKey.algorithm !== 'aes256') return null;

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
    if (algorithm === 2) inner = await inflateAsync(body, INFLATE);
    else if (algorithm === 1) inner = await inflateRawAsync(body, INFLATE);
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
