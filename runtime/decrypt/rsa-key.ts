import { createPrivateKey, type KeyObject } from 'node:crypto';
import { KeyFormatError, mpiEnd } from '../format/key-packets.ts';

/**
 * An RSA secret key (RFC 4880 5.5.3: the MPIs d, p, q, u after the public n and e) as a
 * node:crypto private key, for the RSA encryption subkey GnuPG 2.2 makes by default. The
 * numbers must fit together (n = pq, u = p⁻¹ mod q, ed ≡ 1 mod p−1 and q−1): a damaged or
 * altered key is refused, as openpgp.js refuses one that fails its checks.
 */
export function rsaPrivateKey(keyId: string, n: Buffer, e: Buffer, material: Buffer): KeyObject {
  const mpis: Buffer[] = [];
  for (let at = 0; mpis.length < 4; ) {
    const end = mpiEnd(material, at);
    if (end === null) throw damaged(keyId);
    mpis.push(material.subarray(at + 2, end));
    at = end;
    if (mpis.length === 4 && at !== material.length) throw damaged(keyId);
  }
  const [d, p, q, u] = mpis.map(big) as [bigint, bigint, bigint, bigint];
  const E = big(e);
  if (p < 2n || q < 2n || p * q !== big(n) || (u * p) % q !== 1n || (d * E) % (p - 1n) !== 1n || (d * E) % (q - 1n) !== 1n) throw damaged(keyId);
  // OpenPGP's u is p⁻¹ mod q; a JWK's qi is q⁻¹ mod p: p and q swap places.
  const b64 = (x: bigint) => bytes(x).toString('base64url');
  const jwk = { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url'), d: b64(d), p: b64(q), q: b64(p), dp: b64(d % (q - 1n)), dq: b64(d % (p - 1n)), qi: b64(u) };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

const damaged = (keyId: string) => new KeyFormatError(`the secret of subkey ${keyId} does not match its public key: the key is damaged or was tampered with`);

const big = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));

function bytes(x: bigint): Buffer {
  const hex = x.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
}
