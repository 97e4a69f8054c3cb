import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ALGORITHM, CV25519_OID, dearmorKey, isRead, KEY_TAG, KeyFormatError, mpiEnd, readKeyPackets, type KeyPacket } from '../format/key-packets.ts';
import type { EcdhParams } from './pkesk.ts';
import { rsaPrivateKey } from './rsa-key.ts';
import { parseProtection, unprotect, type Protection } from './s2k.ts';

export { KeyFormatError } from '../format/key-packets.ts';

/**
 * The admin's secret key read natively, for the shapes admins have: a v4 key whose decryption
 * (sub)key is ECDH on Curve25519, as `gpg --quick-gen-key ... future-default` (and GnuPG 2.3+'s
 * default) and `paranoid-pipes keygen` make it, or an RSA encryption subkey, GnuPG 2.2's
 * default; unprotected or protected as GnuPG exports it (s2k.ts). The decrypter then opens
 * session keys with node:crypto (decryption-keys.ts) and never loads openpgp.js, which costs
 * more to load than a small log takes to decrypt.
 *
 * `readSecretKey` returns null for anything else (other curves, v6 keys, an armor or S2K of
 * another shape): the caller reads that key with openpgp.js, as before. A key of the native
 * shape that is damaged — armor checksum, secret checksum, a secret that does not give the
 * packet's public key — is refused (KeyFormatError), as openpgp.js refuses it.
 *
 * Only what decrypts is taken apart: the signing primary's secret is checked against its
 * checksum when it is in the clear, but neither unlocked nor validated against its public key,
 * which decrypting never uses. Subkey binding signatures are not checked either: like gpg, the
 * decrypter uses the secret subkey a session-key packet names.
 */
export type NativeDecryptionKey =
  | {
      readonly kind: 'ecdh';
      /** 16 upper-case hex digits. */
      readonly keyId: string;
      /** The X25519 private key (the cv25519 secret in X25519's byte order). */
      readonly privateKey: KeyObject;
      readonly ecdh: EcdhParams;
    }
  | {
      readonly kind: 'rsa';
      readonly keyId: string;
      readonly privateKey: KeyObject;
      /** The modulus's length in bytes: what a session-key packet's value is padded to. */
      readonly modulusBytes: number;
    };

export interface ReadSecretKey {
  /** The primary key's fingerprint, upper-case hex (what the passphrase prompt names). */
  readonly fingerprint: string;
  /** Whether a passphrase is needed to unlock the decryption subkeys. */
  readonly locked: boolean;
  /** Key IDs of decrypting (sub)keys left to openpgp.js: other curves, an RSA primary, secrets stripped or on a card. */
  readonly otherKeyIds: ReadonlySet<string>;
  /** The decryption subkeys; throws WrongPassphrase when the passphrase does not unlock them. */
  unlock(passphrase: string | null): NativeDecryptionKey[];
}

export class WrongPassphrase extends Error {}

interface Candidate {
  readonly packet: KeyPacket;
  /** Material in the clear (S2K usage 0, checksum checked), or its protection. */
  readonly clear: Buffer | null;
  readonly protection: Protection | null;
  /** The key from its plaintext material; throws KeyFormatError when it is damaged. */
  readonly make: (material: Buffer) => NativeDecryptionKey;
}

export function readSecretKey(armored: string): ReadSecretKey | null {
  const block = dearmorKey(armored);
  if (block === null || block.type !== 'PRIVATE KEY BLOCK') return null;
  const packets = readKeyPackets(block.binary);
  // Exactly one key (a primary first, then its subkeys), every packet of it readable here.
  if (packets === null || packets.length === 0 || !packets.every(isRead) || packets.filter((p) => p.primary).length !== 1 || !packets[0]?.primary) return null;
  const keys = packets as KeyPacket[];
  if (keys.some((k) => k.secret === null)) return null;
  const candidates: Candidate[] = [];
  const otherKeyIds = new Set<string>();
  for (const k of keys) {
    const secret = k.secret as Buffer;
    const clear = secret[0] === 0 ? checkedClear(secret, k) : null;
    const make = maker(k);
    const candidate = make === null ? null : asCandidate(k, secret, clear, make);
    if (candidate !== null) candidates.push(candidate);
    else if (k.decrypts) otherKeyIds.add(k.keyId);
  }
  if (candidates.length === 0) return null;
  const primary = keys[0] as KeyPacket;
  return {
    fingerprint: primary.fingerprint.toString('hex').toUpperCase(),
    locked: candidates.some((c) => c.clear === null),
    otherKeyIds,
    unlock: (passphrase) =>
      candidates.map((c) => {
        if (c.clear !== null) return c.make(c.clear);
        const material = passphrase === null ? null : unprotect(c.protection as Protection, passphrase);
        if (material === null) throw new WrongPassphrase(`the passphrase does not unlock subkey ${c.packet.keyId}`);
        try {
          return c.make(material);
        } finally {
          material.fill(0);
        }
      }),
  };
}

/**
 * How a packet's key is made natively: a cv25519 ECDH (sub)key, or an RSA subkey (an RSA
 * primary key, which GnuPG makes for signing, is left to openpgp.js, which reads its flags).
 */
function maker(k: KeyPacket): Candidate['make'] | null {
  const { ecdh, rsa } = k;
  if (k.algorithm === ALGORITHM.ecdh && ecdh !== null && ecdh.oid.equals(CV25519_OID)) {
    if (ecdh.point.length !== 33 || ecdh.point[0] !== 0x40) throw new KeyFormatError(`subkey ${k.keyId} has a Curve25519 point of another shape`);
    return (material) => cv25519Key(k, ecdh, material);
  }
  if ((k.algorithm === ALGORITHM.rsaEncryptSign || k.algorithm === ALGORITHM.rsaEncrypt) && rsa !== null && k.tag === KEY_TAG.secretSubkey) {
    return (material) => ({ kind: 'rsa', keyId: k.keyId, privateKey: rsaPrivateKey(k.keyId, rsa.n, rsa.e, material), modulusBytes: rsa.n.length });
  }
  return null;
}

/** A packet whose secret is in the clear or protected in a shape s2k.ts reads; null otherwise. */
function asCandidate(packet: KeyPacket, secret: Buffer, clear: Buffer | null, make: Candidate['make']): Candidate | null {
  if (clear !== null) return { packet, clear, protection: null, make };
  const protection = parseProtection(secret);
  return protection === null ? null : { packet, clear: null, protection, make };
}

/** Unprotected material (S2K usage 0): everything after the usage octet but the two-octet checksum, which must match. */
function checkedClear(secret: Buffer, k: KeyPacket): Buffer {
  if (secret.length < 3) throw new KeyFormatError(`key ${k.keyId} has no secret material`);
  const material = secret.subarray(1, secret.length - 2);
  let sum = 0;
  for (const b of material) sum = (sum + b) & 0xffff;
  if (sum !== secret.readUInt16BE(secret.length - 2)) throw new KeyFormatError(`the checksum of the secret of key ${k.keyId} does not match: the key is damaged`);
  return material;
}

/** PKCS#8 for an X25519 private key: this prefix, then the 32-byte scalar. */
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * The cv25519 secret is one MPI, big-endian as OpenPGP writes integers (leading zeros dropped),
 * where X25519 takes the scalar little-endian (RFC 7748): padded to 32 bytes and reversed, as
 * openpgp.js and libgcrypt do. The key must give the packet's public point.
 */
function cv25519Key(packet: KeyPacket, ecdh: NonNullable<KeyPacket['ecdh']>, material: Buffer): NativeDecryptionKey {
  const end = mpiEnd(material, 0);
  const length = end === null ? -1 : end - 2;
  if (end !== material.length || length > 32) throw new KeyFormatError(`the secret of subkey ${packet.keyId} is not one Curve25519 scalar: the key is damaged`);
  const scalar = Buffer.alloc(32);
  material.copy(scalar, 32 - length, 2, end);
  scalar.reverse();
  const der = Buffer.concat([X25519_PKCS8, scalar]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  scalar.fill(0);
  der.fill(0);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (!spki.subarray(spki.length - 32).equals(ecdh.point.subarray(1))) {
    throw new KeyFormatError(`the secret of subkey ${packet.keyId} does not give its public key: the key is damaged or was tampered with`);
  }
  return { kind: 'ecdh', keyId: packet.keyId, privateKey, ecdh: { oid: ecdh.oid, hash: ecdh.hash, cipher: ecdh.cipher, fingerprint: packet.fingerprint } };
}
