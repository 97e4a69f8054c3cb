import { createHash } from 'node:crypto';
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
const ALGORITHMS = { rsaEncryptSign: 1, rsaEncrypt: 2, ecdh: 18 } as const;
const KDF_HASHES = new Set([8, 9, 10]);
const KEY_WRAP_CIPHERS = new Set([7, 8, 9]);

/**
 * The key packet's body (hex, as baked) to an EncryptionKey; null for an algorithm or curve the
 * copy does not encrypt to natively. A body of another shape is a broken copy: an error.
 */
export function parseEncryptionKey(bodyHex: string): EncryptionKey | null {
  const body = Buffer.from(bodyHex, 'hex');
  const broken = (why: string) => new PipesError('KEY_UNUSABLE', `a baked encryption key packet is malformed (${why}); regenerate the copy`);
  if (body.length < 6 || body.toString('hex') !== bodyHex.toLowerCase()) throw broken('not a key packet');
  if (body[0] !== 4) throw broken(`version ${body[0]}`);
  const id = body[5] as number;
  const fingerprint = createHash('sha1')
    .update(Buffer.from([0x99, body.length >> 8, body.length & 0xff]))
    .update(body)
    .digest();
  const keyId = fingerprint.subarray(12);
  let at = 6;
  const mpi = (): Buffer => {
    if (at + 2 > body.length) throw broken('truncated');
    const bytes = Math.ceil(body.readUInt16BE(at) / 8);
    const value = body.subarray(at + 2, at + 2 + bytes);
    if (value.length !== bytes) throw broken('truncated');
    at += 2 + bytes;
    return value;
  };
  const end = () => {
    // Anything after the public fields (a secret key's fields) is refused, not ignored.
    if (at !== body.length) throw refusal('SECRET_KEY', 'a baked encryption key packet carries more than public key material; regenerate the copy');
  };
  if (id === ALGORITHMS.rsaEncryptSign || id === ALGORITHMS.rsaEncrypt) {
    const n = mpi();
    const e = mpi();
    end();
    return { algorithm: 'rsa', id, keyId, fingerprint, n, e };
  }
  if (id !== ALGORITHMS.ecdh) return null;
  const oidBytes = body[at] as number;
  const oid = body.subarray(at, at + 1 + oidBytes);
  if (oidBytes === 0 || oidBytes === 0xff || oid.length !== 1 + oidBytes) throw broken('truncated');
  at += 1 + oidBytes;
  const point = mpi();
  if (at + 4 > body.length || body[at] !== 3 || body[at + 1] !== 1) throw broken('KDF parameters');
  const hash = body[at + 2] as number;
  const cipher = body[at + 3] as number;
  at += 4;
  end();
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
  const m = /-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(?:[^\r\n]+\r?\n)*?\r?\n([\s\S]*?)-----END PGP PUBLIC KEY BLOCK-----/.exec(armoredKey);
  if (m === null) return false;
  // The base64 lines, without the CRC-24 line ("=XXXX") that ends them.
  const base64 = (m[1] as string).replace(/^=[A-Za-z0-9+/]{4}\s*$/m, '').replace(/\s+/g, '');
  const body = Buffer.from(bodyHex, 'hex');
  return keyPacketBodies(Buffer.from(base64, 'base64')).some((b) => b.equals(body));
}

const PUBLIC_KEY_TAGS = new Set([6, 14]);

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
