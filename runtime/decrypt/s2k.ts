import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

/**
 * Passphrase-protected secret key material as GnuPG exports it and openpgp.js writes it (RFC 4880
 * 3.7 and 5.5.3, S2K usage 254): a salted or iterated-and-salted S2K turns the passphrase into an
 * AES key, the material is AES-CFB encrypted, and a SHA-1 of the plaintext follows it, which
 * tells a wrong passphrase. Other shapes (usage 255's two-octet checksum, AEAD, Argon2, other
 * ciphers or hashes) are not read here: `parseProtection` returns null and the key goes to
 * openpgp.js.
 */
export interface Protection {
  readonly cipher: { readonly name: string; readonly keyBytes: number };
  readonly hash: string;
  readonly salt: Buffer;
  /** Bytes of salt and passphrase hashed (the whole pair once when it is longer). */
  readonly count: number;
  readonly iv: Buffer;
  readonly encrypted: Buffer;
}

const CIPHERS: Record<number, Protection['cipher']> = { 7: { name: 'aes-128-cfb', keyBytes: 16 }, 8: { name: 'aes-192-cfb', keyBytes: 24 }, 9: { name: 'aes-256-cfb', keyBytes: 32 } };
const HASHES: Record<number, string> = { 2: 'sha1', 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224' };
const AES_BLOCK = 16;
const SHA1_BYTES = 20;
/** GnuPG's largest count (coded 255) is 62 MiB; a count byte cannot say more, this is only a guard. */
const MAX_COUNT = 65011712;

/** The protection of secret material (from its S2K usage octet on), or null for a shape not read here. */
export function parseProtection(secret: Buffer): Protection | null {
  if (secret[0] !== 254) return null;
  const cipher = CIPHERS[secret[1] ?? -1];
  const type = secret[2];
  const hash = HASHES[secret[3] ?? -1];
  if (cipher === undefined || hash === undefined || (type !== 1 && type !== 3)) return null;
  const salt = secret.subarray(4, 12);
  let at = 12;
  let count = 0;
  if (type === 3) {
    const c = secret[at] ?? 0;
    count = (16 + (c & 15)) << ((c >> 4) + 6);
    at += 1;
  }
  if (at + AES_BLOCK > secret.length || count > MAX_COUNT) return null;
  return { cipher, hash, salt, count, iv: secret.subarray(at, at + AES_BLOCK), encrypted: secret.subarray(at + AES_BLOCK) };
}

/** The plaintext material, or null when the passphrase is wrong (its SHA-1 does not match). */
export function unprotect(p: Protection, passphrase: string): Buffer | null {
  const secret = Buffer.from(passphrase, 'utf8');
  const key = s2kKey(p, secret);
  secret.fill(0);
  const decipher = createDecipheriv(p.cipher.name, key, p.iv);
  const plain = Buffer.concat([decipher.update(p.encrypted), decipher.final()]);
  key.fill(0);
  if (plain.length < SHA1_BYTES) return null;
  const material = plain.subarray(0, plain.length - SHA1_BYTES);
  const check = createHash('sha1').update(material).digest();
  const matches = timingSafeEqual(check, plain.subarray(plain.length - SHA1_BYTES));
  // The caller zeroes the material it is given; the SHA-1 of it goes here.
  check.fill(0);
  if (!matches) {
    plain.fill(0);
    return null;
  }
  plain.subarray(material.length).fill(0);
  return material;
}

/**
 * RFC 4880 3.7.1: as many hash contexts as the key needs, the n-th preloaded with n zero
 * octets, each fed salt and passphrase repeated up to `count` bytes.
 */
function s2kKey(p: Protection, passphrase: Buffer): Buffer {
  const unit = Buffer.concat([p.salt, passphrase]);
  const total = Math.max(p.count, unit.length);
  // Many repetitions at once: one update per 64 KiB rather than per salt-and-passphrase.
  const reps = Math.max(1, Math.floor((64 * 1024) / unit.length));
  const chunk = Buffer.concat(Array.from({ length: reps }, () => unit));
  const digests: Buffer[] = [];
  for (let n = 0, have = 0; have < p.cipher.keyBytes; n += 1) {
    const h = createHash(p.hash).update(Buffer.alloc(n));
    let left = total;
    for (; left >= chunk.length; left -= chunk.length) h.update(chunk);
    h.update(chunk.subarray(0, left));
    const digest = h.digest();
    digests.push(digest);
    have += digest.length;
  }
  chunk.fill(0);
  unit.fill(0);
  // The key is a copy: the digests' bytes past it are S2K output too, and are zeroed with them.
  const all = Buffer.concat(digests);
  const key = Buffer.from(all.subarray(0, p.cipher.keyBytes));
  all.fill(0);
  for (const d of digests) d.fill(0);
  return key;
}
