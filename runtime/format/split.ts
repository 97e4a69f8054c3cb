/**
 * Splits an appended log back into its OpenPGP messages. gpg and openpgp.js decrypt only the
 * first message of a file, so the decrypter must find every message itself.
 *
 * Pure: works on a buffer and offsets. Armored messages are found by their BEGIN/END lines;
 * binary ones by walking packet headers (old and new format, partial body lengths): one or more
 * key packets (PKESK/SKESK), then one encrypted data packet. Whatever is not a message is
 * returned as a `torn` piece (a message cut short, e.g. by SIGKILL mid-write) or a `garbage`
 * piece, with its offset, and the walk goes on at the next place a message can start.
 */
export type Piece =
  | { readonly kind: 'message'; readonly offset: number; readonly end: number; readonly armored: boolean }
  | { readonly kind: 'torn' | 'garbage'; readonly offset: number; readonly end: number; readonly reason: string };

const BEGIN = Buffer.from('-----BEGIN PGP MESSAGE-----');
const END = Buffer.from('-----END PGP MESSAGE-----');

const TAG = { pkesk: 1, skesk: 3, sed: 9, seipd: 18, aead: 20 } as const;
/** A PKESK holds one encrypted session key: a few hundred bytes even for RSA-4096. */
const MAX_KEY_PACKET = 4096;

/** The piece starting at or after `pos` (after white space), or null when only white space is left. */
export function nextPiece(buf: Buffer, pos: number): Piece | null {
  let p = pos;
  while (p < buf.length && isSpace(buf[p] as number)) p += 1;
  if (p >= buf.length) return null;
  if (startsWith(buf, BEGIN, p)) return armoredAt(buf, p);
  if (((buf[p] as number) & 0x80) !== 0) {
    const parsed = parseBinaryMessage(buf, p);
    if (parsed.status === 'ok') return { kind: 'message', offset: p, end: parsed.end, armored: false };
    const end = findMessageStart(buf, p + 1) ?? buf.length;
    return parsed.status === 'truncated'
      ? { kind: 'torn', offset: p, end, reason: 'binary message cut short' }
      : { kind: 'garbage', offset: p, end, reason: parsed.reason };
  }
  const end = findMessageStart(buf, p + 1) ?? buf.length;
  return { kind: 'garbage', offset: p, end, reason: 'bytes that are not an OpenPGP message' };
}

function armoredAt(buf: Buffer, p: number): Piece {
  const endAt = findEndLine(buf, p + BEGIN.length);
  const nextBegin = buf.indexOf(BEGIN, p + BEGIN.length);
  if (endAt >= 0 && (nextBegin < 0 || endAt < nextBegin)) {
    return { kind: 'message', offset: p, end: endAt + END.length, armored: true };
  }
  return {
    kind: 'torn',
    offset: p,
    end: nextBegin >= 0 ? nextBegin : buf.length,
    reason: 'armored message without its END line',
  };
}

/**
 * The END line must stand alone: after a line break and before a line break or the end of input.
 * A message torn inside its END line and followed by a new BEGIN would otherwise form a false
 * END out of the two halves ("-----END PGP MESSAGE---" + "-----BEGIN ...") and swallow it.
 */
function findEndLine(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(END, from); at >= 0; at = buf.indexOf(END, at + 1)) {
    const before = buf[at - 1];
    const after = buf[at + END.length];
    if ((before === 0x0a || before === 0x0d) && (after === undefined || after === 0x0a || after === 0x0d)) return at;
  }
  return -1;
}

/**
 * The first offset at or after `from` where a message can start: an armor BEGIN line, or a key
 * packet header from which a whole binary message parses.
 */
export function findMessageStart(buf: Buffer, from: number): number | null {
  const begin = buf.indexOf(BEGIN, from);
  const limit = begin >= 0 ? begin : buf.length;
  for (let q = from; q < limit; q += 1) {
    const b = buf[q] as number;
    // New-format PKESK (0xC1), old-format PKESK with 1- or 2-octet length (0x84, 0x85).
    if ((b === 0xc1 || b === 0x84 || b === 0x85) && parseBinaryMessage(buf, q).status === 'ok') return q;
  }
  return begin >= 0 ? begin : null;
}

type Parse = { status: 'ok'; end: number } | { status: 'truncated' } | { status: 'bad'; reason: string };

export function parseBinaryMessage(buf: Buffer, start: number): Parse {
  let q = start;
  let keyPackets = 0;
  for (;;) {
    const h = readPacket(buf, q);
    if (h.status !== 'ok') return h;
    const version = buf[h.bodyStart];
    if (h.tag === TAG.pkesk || h.tag === TAG.skesk) {
      if (h.partial || h.end - h.bodyStart > MAX_KEY_PACKET) return { status: 'bad', reason: 'oversized key packet' };
      const known = h.tag === TAG.pkesk ? version === 3 || version === 6 : version === 4 || version === 5 || version === 6;
      if (!known) return { status: 'bad', reason: `unknown key packet version ${version}` };
      keyPackets += 1;
      q = h.end;
      continue;
    }
    if (keyPackets > 0 && (h.tag === TAG.seipd || h.tag === TAG.sed || h.tag === TAG.aead)) {
      if (h.tag === TAG.seipd && version !== 1 && version !== 2) return { status: 'bad', reason: `unknown encrypted packet version ${version}` };
      return { status: 'ok', end: h.end };
    }
    return { status: 'bad', reason: keyPackets === 0 ? 'no key packet where a message starts' : `unexpected packet tag ${h.tag}` };
  }
}

type Header =
  | { status: 'ok'; tag: number; bodyStart: number; end: number; partial: boolean }
  | { status: 'truncated' }
  | { status: 'bad'; reason: string };

/** Reads one packet: its tag, where its body starts and where the packet (all chunks) ends. */
export function readPacket(buf: Buffer, q: number): Header {
  if (q >= buf.length) return { status: 'truncated' };
  const ctb = buf[q] as number;
  if ((ctb & 0x80) === 0) return { status: 'bad', reason: 'not a packet header' };
  if ((ctb & 0x40) === 0) {
    // Old format: tag in bits 5-2, length type in bits 1-0.
    const tag = (ctb >> 2) & 0x0f;
    const lengthOctets = [1, 2, 4][ctb & 0x03];
    if (lengthOctets === undefined) return { status: 'bad', reason: 'indeterminate packet length' };
    if (q + 1 + lengthOctets > buf.length) return { status: 'truncated' };
    const len = buf.readUIntBE(q + 1, lengthOctets);
    const bodyStart = q + 1 + lengthOctets;
    return bodyStart + len > buf.length ? { status: 'truncated' } : { status: 'ok', tag, bodyStart, end: bodyStart + len, partial: false };
  }
  const tag = ctb & 0x3f;
  let at = q + 1;
  let bodyStart = -1;
  let partial = false;
  for (;;) {
    const len = readNewLength(buf, at);
    if (len === null) return { status: 'truncated' };
    if (bodyStart < 0) bodyStart = at + len.octets;
    const chunkEnd = at + len.octets + len.length;
    if (chunkEnd > buf.length) return { status: 'truncated' };
    if (!len.partial) return { status: 'ok', tag, bodyStart, end: chunkEnd, partial };
    partial = true;
    at = chunkEnd;
  }
}

function readNewLength(buf: Buffer, at: number): { length: number; octets: number; partial: boolean } | null {
  const o1 = buf[at];
  if (o1 === undefined) return null;
  if (o1 < 192) return { length: o1, octets: 1, partial: false };
  if (o1 < 224) {
    const o2 = buf[at + 1];
    return o2 === undefined ? null : { length: ((o1 - 192) << 8) + o2 + 192, octets: 2, partial: false };
  }
  if (o1 === 255) return at + 5 > buf.length ? null : { length: buf.readUInt32BE(at + 1), octets: 5, partial: false };
  return { length: 1 << (o1 & 0x1f), octets: 1, partial: true };
}

function startsWith(buf: Buffer, marker: Buffer, at: number): boolean {
  return at + marker.length <= buf.length && buf.compare(marker, 0, marker.length, at, at + marker.length) === 0;
}

function isSpace(b: number): boolean {
  return b === 0x0a || b === 0x0d || b === 0x20 || b === 0x09;
}
