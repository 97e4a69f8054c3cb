import { createHash } from 'node:crypto';
import { crc24 } from './packets.ts';
import { readPacket } from './split.ts';

/**
 * Reads OpenPGP key material natively (RFC 4880 5.5 and 11): the ASCII armor of a key block,
 * its packets, and of each v4 key or subkey packet the public part, fingerprint and key ID. The
 * decrypter reads the admin's secret key with it (secret-key.ts) and the keys GnuPG lists for
 * `--gpg` (gpg-agent-route.ts), so neither has to load openpgp.js.
 *
 * Anything of another shape (a v5/v6 key, an algorithm not listed here, partial lengths) is
 * reported as such, not guessed at: the caller then leaves the key to openpgp.js, which reads
 * every shape.
 */

export const KEY_TAG = { secretKey: 5, publicKey: 6, secretSubkey: 7, publicSubkey: 14 } as const;
const KEY_TAGS = new Set<number>(Object.values(KEY_TAG));

/** Public-key algorithm ids (RFC 4880 9.1, RFC 6637, RFC 9580). */
export const ALGORITHM = { rsaEncryptSign: 1, rsaEncrypt: 2, ecdh: 18 } as const;
/** Algorithms whose keys can decrypt: RSA, Elgamal, ECDH, X25519, X448. */
const DECRYPTING = new Set([1, 2, 16, 18, 20, 25, 26]);

/** Curve25519 for ECDH, "legacy" OID 1.3.6.1.4.1.3029.1.5.1, with its length octet as in the key packet. */
export const CV25519_OID = Buffer.from('0a2b060104019755010501', 'hex');

export interface KeyPacket {
  readonly tag: number;
  readonly primary: boolean;
  readonly algorithm: number;
  /** 16 upper-case hex digits: the fingerprint's last 8 bytes. */
  readonly keyId: string;
  /** The v4 fingerprint: SHA-1 over 0x99, the public part's length and the public part. */
  readonly fingerprint: Buffer;
  /** Whether this algorithm can decrypt at all. */
  readonly decrypts: boolean;
  /** ECDH (any curve): what the session-key derivation needs besides the fingerprint. */
  readonly ecdh: { readonly oid: Buffer; readonly point: Buffer; readonly hash: number; readonly cipher: number } | null;
  /** RSA: the modulus and public exponent (MPI values, big-endian). */
  readonly rsa: { readonly n: Buffer; readonly e: Buffer } | null;
  /** Of a secret packet: everything after the public part (S2K usage octet onwards); null for a public one. */
  readonly secret: Buffer | null;
  /** Where the public part ends in the packet's body: of a public packet, anything after it is not a public key's. */
  readonly publicEnd: number;
}

/** A key packet this reader does not take apart (another version or algorithm): only its place is known. */
export interface OtherPacket {
  readonly tag: number;
  readonly primary: boolean;
  readonly unread: string;
}

export class KeyFormatError extends Error {}

/**
 * The bytes of an armored key block (`-----BEGIN PGP PRIVATE KEY BLOCK-----` and the like), its
 * type and whether it ends the text; null when the text is not armor of that plain shape (the
 * caller leaves it to openpgp.js). The CRC-24 line, when present, must match: a key whose
 * checksum fails was damaged in transit and is refused (KeyFormatError), not half read.
 */
export function dearmorKey(text: string): { type: string; binary: Buffer } | null {
  const lines = text.split(/\r?\n/).map((l) => l.replace(/[ \t]+$/, ''));
  const begin = lines.findIndex((l) => /^-----BEGIN PGP [A-Z ]+-----$/.test(l));
  if (begin < 0) return null;
  const type = (lines[begin] as string).slice('-----BEGIN PGP '.length, -'-----'.length);
  let at = begin + 1;
  // Armor headers (Comment:, Version:) up to the first empty line.
  while (at < lines.length && lines[at] !== '') {
    if (!/^[A-Za-z0-9-]+: /.test(lines[at] as string)) return null;
    at += 1;
  }
  const body: string[] = [];
  let checksum: string | null = null;
  for (at += 1; at < lines.length; at += 1) {
    const line = lines[at] as string;
    if (line === `-----END PGP ${type}-----`) {
      const binary = Buffer.from(body.join(''), 'base64');
      if (checksum !== null) {
        const want = Buffer.from(checksum, 'base64');
        if (want.length !== 3 || want.readUIntBE(0, 3) !== crc24(binary)) throw new KeyFormatError('its armor checksum (CRC-24) does not match: the file was damaged');
      }
      return { type, binary };
    }
    if (checksum !== null) return null;
    if (/^=[A-Za-z0-9+/]{4}$/.test(line)) checksum = line.slice(1);
    else if (/^[A-Za-z0-9+/]*={0,2}$/.test(line)) body.push(line);
    else return null;
  }
  return null;
}

/**
 * Every key packet of a key block, in order (other packets, user IDs and signatures, are
 * skipped). Null when the packet structure itself is not readable (a cut or partial-length
 * packet): the caller leaves the block to openpgp.js, whose message then says what is wrong.
 */
export function readKeyPackets(binary: Buffer): Array<KeyPacket | OtherPacket> | null {
  const found: Array<KeyPacket | OtherPacket> = [];
  for (let at = 0; at < binary.length; ) {
    const h = readPacket(binary, at);
    if (h.status !== 'ok' || h.partial) return null;
    at = h.end;
    if (!KEY_TAGS.has(h.tag)) continue;
    const primary = h.tag === KEY_TAG.secretKey || h.tag === KEY_TAG.publicKey;
    found.push(keyPacket(h.tag, primary, binary.subarray(h.bodyStart, h.end)));
  }
  return found;
}

export const isRead = (p: KeyPacket | OtherPacket): p is KeyPacket => !('unread' in p);

/**
 * One key packet's body (`tag` says which kind: a public or secret key or subkey). The copy reads
 * its baked encryption key with it too (runtime/seal/encryption-key.ts).
 */
export function keyPacket(tag: number, primary: boolean, body: Buffer): KeyPacket | OtherPacket {
  if (body[0] !== 4) return { tag, primary, unread: `a version ${body[0] ?? '?'} key packet` };
  const algorithm = body[5] ?? -1;
  const fields = publicFields(algorithm, body, 6);
  if (fields === null) return { tag, primary, unread: `public-key algorithm ${algorithm}` };
  const publicPart = body.subarray(0, fields.end);
  const head = Buffer.from([0x99, publicPart.length >> 8, publicPart.length & 0xff]);
  const fingerprint = createHash('sha1').update(head).update(publicPart).digest();
  const secret = tag === KEY_TAG.secretKey || tag === KEY_TAG.secretSubkey ? body.subarray(fields.end) : null;
  return { tag, primary, algorithm, keyId: fingerprint.toString('hex', 12).toUpperCase(), fingerprint, decrypts: DECRYPTING.has(algorithm), ecdh: fields.ecdh, rsa: fields.rsa, secret, publicEnd: fields.end };
}

interface PublicFields {
  readonly end: number;
  readonly ecdh: KeyPacket['ecdh'];
  readonly rsa: KeyPacket['rsa'];
}

/** Where the algorithm's public fields end, and for ECDH and RSA what they hold; null for an algorithm not listed or a cut packet. */
function publicFields(algorithm: number, body: Buffer, start: number): PublicFields | null {
  let at = start;
  const plain = (end: number): PublicFields => ({ end, ecdh: null, rsa: null });
  const mpis = (n: number): boolean => {
    for (let i = 0; i < n; i += 1) {
      const end = mpiEnd(body, at);
      if (end === null) return false;
      at = end;
    }
    return true;
  };
  const oid = (): Buffer | null => {
    const length = body[at];
    if (length === undefined || length === 0 || length === 0xff || at + 1 + length > body.length) return null;
    const value = body.subarray(at, at + 1 + length);
    at += 1 + length;
    return value;
  };
  const fixed = (n: number) => (at + n <= body.length ? plain(at + n) : null);
  switch (algorithm) {
    case 1: // RSA
    case 2:
    case 3: {
      const nAt = at;
      if (!mpis(1)) return null;
      const eAt = at;
      if (!mpis(1)) return null;
      return { end: at, ecdh: null, rsa: { n: body.subarray(nAt + 2, eAt), e: body.subarray(eAt + 2, at) } };
    }
    case 16: // Elgamal
    case 20:
      return mpis(3) ? plain(at) : null;
    case 17: // DSA
      return mpis(4) ? plain(at) : null;
    case 19: // ECDSA
    case 22: // EdDSA (legacy)
      return oid() !== null && mpis(1) ? plain(at) : null;
    case ALGORITHM.ecdh: {
      const curve = oid();
      const pointAt = at;
      if (curve === null || !mpis(1)) return null;
      const point = body.subarray(pointAt + 2, at);
      // KDF parameters: length 3, reserved 1, hash id, key-wrap cipher id.
      if (body[at] !== 3 || body[at + 1] !== 1 || at + 4 > body.length) return null;
      return { end: at + 4, ecdh: { oid: curve, point, hash: body[at + 2] as number, cipher: body[at + 3] as number }, rsa: null };
    }
    case 25: // X25519
    case 27: // Ed25519
      return fixed(32);
    case 26: // X448
      return fixed(56);
    case 28: // Ed448
      return fixed(57);
    default:
      return null;
  }
}

/** The end of the MPI at `at` (two octets of bit count, then the bytes), or null when it does not fit. */
export function mpiEnd(buf: Buffer, at: number): number | null {
  if (at + 2 > buf.length) return null;
  const end = at + 2 + Math.ceil(buf.readUInt16BE(at) / 8);
  return end > buf.length ? null : end;
}
