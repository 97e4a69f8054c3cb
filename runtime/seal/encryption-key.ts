import { ALGORITHM, dearmorKey, isRead, KEY_TAG, KeyFormatError, keyPacket } from '../format/key-packets.ts';
import { readPacket } from '../format/split.ts';
import { PipesError, refusal } from '../errors.ts';

/**
 * A recipient's encryption key as the copy uses it natively: the v4 public key packet the
 * generator chose with openpgp.js (the subkey `getEncryptionKey` picks, or an RSA primary key),
 * parsed here without openpgp.js. Only the algorithms `session-key-packet.ts` can encrypt to are
 * parsed; for any other the copy uses openpgp.js (recipient-keys.ts).
 */
export type EncryptionKey =
  | { readonly algorithm: 'rsa'; readonly id: number; readonly keyId: Buffer; readonly fingerprint: Buffer; readonly n: Buffer; readonly e: Buffer }
  | {
      readonly algorithm: 'ecdh';
      readonly id: number;
      readonly keyId: Buffer;
      readonly fingerprint: Buffer;
      readonly curve: EcdhCurve;
      /** The curve's OID with its length octet, as in the packet (the KDF's parameter). */
      readonly oid: Buffer;
      /** 0x40 || u for Curve25519, 0x04 || x || y for the NIST curves. */
      readonly point: Buffer;
      /** KDF hash algorithm id (8 SHA-256, 9 SHA-384, 10 SHA-512). */
      readonly hash: number;
      /** Key-wrap cipher id (7 AES-128, 8 AES-192, 9 AES-256). */
      readonly cipher: number;
    };

export type EcdhCurve = 'curve25519' | 'p256' | 'p384' | 'p521';

const CURVES: ReadonlyMap<string, EcdhCurve> = new Map([
  ['2b060104019755010501', 'curve25519'],
  ['2a8648ce3d030107', 'p256'],
  ['2b81040022', 'p384'],
  ['2b81040023', 'p521'],
]);
/** Point sizes: 0x40 and 32 bytes; 0x04 and two coordinates. */
const POINT_BYTES: Record<EcdhCurve, number> = { curve25519: 33, p256: 65, p384: 97, p521: 133 };
const KDF_HASHES = new Set([8, 9, 10]);
const KEY_WRAP_CIPHERS = new Set([7, 8, 9]);

/**
 * The key packet's body (hex, as baked) to an EncryptionKey; null for an algorithm or curve the
 * copy does not encrypt to natively. A body of another shape is a broken copy: an error. The
 * fields are read by the decrypter's key reader (runtime/format/key-packets.ts), so both sides
 * take a key packet apart the same way.
 */
export function parseEncryptionKey(bodyHex: string): EncryptionKey | null {
  const body = Buffer.from(bodyHex, 'hex');
  const broken = (why: string) => new PipesError('KEY_UNUSABLE', `a baked encryption key packet is malformed (${why}); regenerate the copy`);
  if (body.length < 6 || body.toString('hex') !== bodyHex.toLowerCase()) throw broken('not a key packet');
  if (body[0] !== 4) throw broken(`version ${body[0]}`);
  const id = body[5] as number;
  if (id !== ALGORITHM.rsaEncryptSign && id !== ALGORITHM.rsaEncrypt && id !== ALGORITHM.ecdh) return null;
  const read = keyPacket(KEY_TAG.publicSubkey, false, body);
  // RSA and ECDH are algorithms the reader knows: unread means cut short (or, for ECDH, KDF parameters of another shape).
  if (!isRead(read)) throw broken(id === ALGORITHM.ecdh ? 'truncated or KDF parameters' : 'truncated');
  // Anything after the public fields (a secret key's fields) is refused, not ignored.
  if (read.publicEnd !== body.length) throw refusal('SECRET_KEY', 'a baked encryption key packet carries more than public key material; regenerate the copy');
  const { fingerprint } = read;
  const keyId = fingerprint.subarray(12);
  if (read.rsa !== null) return { algorithm: 'rsa', id, keyId, fingerprint, n: read.rsa.n, e: read.rsa.e };
  if (read.ecdh === null) throw broken('no ECDH fields');
  const { oid, point, hash, cipher } = read.ecdh;
  const curve = CURVES.get(oid.subarray(1).toString('hex'));
  if (curve === undefined || !KDF_HASHES.has(hash) || !KEY_WRAP_CIPHERS.has(cipher)) return null;
  if (point.length !== POINT_BYTES[curve] || point[0] !== (curve === 'curve25519' ? 0x40 : 0x04)) throw broken('point');
  return { algorithm: 'ecdh', id, keyId, fingerprint, curve, oid, point, hash, cipher };
}

/**
 * Whether the armored public key holds this key packet's body as one of its own key packets
 * (the primary key or a subkey): the baked facts belong to the baked key. Bytes found elsewhere
 * in it do not count (a user attribute, or a third party's certification with a notation, may
 * carry any bytes). An armored secret key is refused, as openpgp.js's path refuses it.
 */
export function armoredKeyHolds(armoredKey: string, bodyHex: string): boolean {
  if (/-----BEGIN PGP (PRIVATE|SECRET) KEY BLOCK-----/.test(armoredKey)) throw refusal('SECRET_KEY', 'a baked recipient key is a secret key; regenerate the copy');
  let armor: ReturnType<typeof dearmorKey>;
  try {
    armor = dearmorKey(armoredKey);
  } catch (err) {
    if (err instanceof KeyFormatError) return false; // its CRC-24 does not match: damaged, not ours
    throw err;
  }
  if (armor === null || armor.type !== 'PUBLIC KEY BLOCK') return false;
  const body = Buffer.from(bodyHex, 'hex');
  return keyPacketBodies(armor.binary).some((b) => b.equals(body));
}

const PUBLIC_KEY_TAGS = new Set<number>([KEY_TAG.publicKey, KEY_TAG.publicSubkey]);

/** The bodies of the public key and subkey packets of a key block (old and new headers, read as every message is); none when a header is cut, partial or indeterminate. */
function keyPacketBodies(binary: Buffer): Buffer[] {
  const bodies: Buffer[] = [];
  for (let at = 0; at < binary.length; ) {
    const h = readPacket(binary, at);
    if (h.status !== 'ok' || h.partial) return []; // partial lengths: not in a key block
    if (PUBLIC_KEY_TAGS.has(h.tag)) bodies.push(binary.subarray(h.bodyStart, h.end));
    at = h.end;
  }
  return bodies;
}
