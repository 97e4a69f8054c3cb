import { constants, createCipheriv, createECDH, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { packetHeader } from '../format/packets.ts';
import type { EcdhCurve, EncryptionKey } from './encryption-key.ts';

/**
 * A v3 public-key encrypted session-key packet (RFC 4880 5.1; ECDH as RFC 6637), built with
 * node's crypto: what openpgp.js's `encryptSessionKey` wrote for the copy before, without
 * loading openpgp.js. RSA: PKCS#1 v1.5 over algorithm || key || checksum. ECDH: an ephemeral
 * key pair, the shared secret's x coordinate through the KDF (SHA-2 over the recipient's
 * fingerprint and KDF parameters), and the session key AES-wrapped (RFC 3394) under the result.
 */

const TAG_PKESK = 1;
const KEK_BYTES: Record<number, number> = { 7: 16, 8: 24, 9: 32 };
const HASHES: Record<number, string> = { 8: 'sha256', 9: 'sha384', 10: 'sha512' };
const KEY_WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const ANONYMOUS_SENDER = Buffer.from('Anonymous Sender    ', 'latin1');
const NIST_CURVES: Record<Exclude<EcdhCurve, 'curve25519'>, string> = { p256: 'prime256v1', p384: 'secp384r1', p521: 'secp521r1' };
/** AES-256, the only session-key algorithm the copy uses. */
export const SESSION_KEY_ALGORITHM = 9;

/** The packet (header and body) that gives `key`'s holder the AES-256 `sessionKey`. */
export function sessionKeyPacket(key: EncryptionKey, sessionKey: Uint8Array): Buffer {
  if (sessionKey.length !== 32) throw new Error('session key must be 32 bytes (AES-256)');
  let sum = 0;
  for (const b of sessionKey) sum = (sum + b) & 0xffff;
  const m = Buffer.concat([Buffer.from([SESSION_KEY_ALGORITHM]), sessionKey, Buffer.from([sum >> 8, sum & 0xff])]);
  try {
    const fields = key.algorithm === 'rsa' ? [mpi(rsaEncrypt(key, m))] : ecdhFields(key, m);
    const body = Buffer.concat([Buffer.from([3]), key.keyId, Buffer.from([key.id]), ...fields]);
    return Buffer.concat([packetHeader(TAG_PKESK, body.length), body]);
  } finally {
    // The session key's own copies are erased with it (see docs/threat-model.md).
    m.fill(0);
  }
}

function rsaEncrypt(key: Extract<EncryptionKey, { algorithm: 'rsa' }>, m: Buffer): Buffer {
  const publicKey = createPublicKey({ key: { kty: 'RSA', n: key.n.toString('base64url'), e: key.e.toString('base64url') }, format: 'jwk' });
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, m);
}

function ecdhFields(key: Extract<EncryptionKey, { algorithm: 'ecdh' }>, m: Buffer): Buffer[] {
  const { ephemeral, shared } = key.curve === 'curve25519' ? x25519(key.point) : nist(key.curve, key.point);
  const param = Buffer.concat([key.oid, Buffer.from([key.id, 3, 1, key.hash, key.cipher]), ANONYMOUS_SENDER, key.fingerprint]);
  const kekBytes = KEK_BYTES[key.cipher] as number;
  const digest = createHash(HASHES[key.hash] as string)
    .update(Buffer.from([0, 0, 0, 1]))
    .update(shared)
    .update(param)
    .digest();
  const kek = digest.subarray(0, kekBytes);
  shared.fill(0);
  // PKCS#5 padding to a multiple of 8 bytes (RFC 6637 section 8): n bytes of value n.
  const pad = 8 - (m.length % 8);
  const padded = Buffer.concat([m, Buffer.alloc(pad, pad)]);
  const wrap = createCipheriv(`id-aes${kekBytes * 8}-wrap`, kek, KEY_WRAP_IV);
  const wrapped = Buffer.concat([wrap.update(padded), wrap.final()]);
  // The whole digest: a KEK shorter than the hash (AES-128 under SHA-256) leaves a tail of it.
  digest.fill(0);
  padded.fill(0);
  return [mpi(ephemeral), Buffer.from([wrapped.length]), wrapped];
}

/**
 * Curve25519 in OpenPGP's legacy ECDH: points are 0x40 || u (RFC 7748 byte order). The
 * ephemeral private key (here and for the NIST curves) opens the packet as the session key
 * does; it stays in an OpenSSL key object node cannot clear, which OpenSSL clears when the
 * object is freed after the collector finds it (docs/threat-model.md).
 */
function x25519(point: Buffer): { ephemeral: Buffer; shared: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const recipient = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: point.subarray(1).toString('base64url') }, format: 'jwk' });
  const shared = diffieHellman({ privateKey, publicKey: recipient });
  const u = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return { ephemeral: Buffer.concat([Buffer.from([0x40]), u]), shared };
}

/** NIST curves: uncompressed points; the shared secret is the x coordinate. */
function nist(curve: Exclude<EcdhCurve, 'curve25519'>, point: Buffer): { ephemeral: Buffer; shared: Buffer } {
  const ecdh = createECDH(NIST_CURVES[curve]);
  const ephemeral = ecdh.generateKeys();
  return { ephemeral, shared: ecdh.computeSecret(point) };
}

/** An MPI: bit count, then the big-endian value without leading zero bytes. */
function mpi(value: Buffer): Buffer {
  let at = 0;
  while (at < value.length - 1 && value[at] === 0) at += 1;
  const v = value.subarray(at);
  const bits = (v.length - 1) * 8 + (v[0] === 0 ? 0 : 32 - Math.clz32(v[0] as number));
  return Buffer.concat([Buffer.from([bits >> 8, bits & 0xff]), v]);
}

