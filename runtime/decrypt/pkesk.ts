import { createDecipheriv, createHash } from 'node:crypto';
import { mpiEnd } from '../format/key-packets.ts';
import { readPacket } from '../format/split.ts';

/**
 * The halves of a public-key session-key packet (v3 PKESK, RFC 4880 5.1 and RFC 6637) around a
 * private-key operation done elsewhere (gpg-agent) or natively (decryption-keys.ts): what the
 * agent is given as ciphertext, and how its answer becomes the session key. For ECDH the agent returns only the shared point;
 * the key derivation (RFC 6637 section 7) and AES key unwrap (RFC 3394) are done here, as gpg
 * does them after asking the agent. For RSA it returns the PKCS#1 frame.
 */
export type SessionKey = { readonly data: Uint8Array; readonly algorithm: string };

export interface Pkesk {
  /** The recipient's key ID, 16 upper-case hex digits; all zeros for a hidden recipient. */
  readonly keyId: string;
  readonly algorithm: 'rsa' | 'ecdh';
  /** RSA: m^e. ECDH: the ephemeral point V. */
  readonly value: Buffer;
  /** ECDH: the wrapped session key C. */
  readonly wrapped: Buffer | null;
}

/** What the ECDH key derivation needs of the recipient's public key. */
export interface EcdhParams {
  /** The curve's OID with its length octet, as in the key packet. */
  readonly oid: Buffer;
  /** KDF hash algorithm id (8 SHA-256, 9 SHA-384, 10 SHA-512). */
  readonly hash: number;
  /** Key-wrap cipher id (7 AES-128, 8 AES-192, 9 AES-256). */
  readonly cipher: number;
  /** The v4 fingerprint (20 bytes) of the encryption key. */
  readonly fingerprint: Buffer;
}

const TAG_PKESK = 1;
const ALGO = { rsaEncryptSign: 1, rsaEncrypt: 2, ecdh: 18 } as const;
const HASHES: Record<number, string> = { 8: 'sha256', 9: 'sha384', 10: 'sha512' };
const KEK_BYTES: Record<number, number> = { 7: 16, 8: 24, 9: 32 };
/** Session-key algorithms the copy and gpg use, with their key sizes. */
const SESSION_ALGORITHMS: Record<number, { name: string; bytes: number }> = { 7: { name: 'aes128', bytes: 16 }, 8: { name: 'aes192', bytes: 24 }, 9: { name: 'aes256', bytes: 32 } };
const KEY_WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/** Every v3 key packet of RSA or ECDH among `packets` (a message's key packets); others are left out. */
export function parsePkesks(packets: Buffer): Pkesk[] {
  const found: Pkesk[] = [];
  for (let at = 0; at < packets.length; ) {
    const h = readPacket(packets, at);
    if (h.status !== 'ok' || h.partial) break;
    at = h.end;
    if (h.tag !== TAG_PKESK) continue;
    const body = packets.subarray(h.bodyStart, h.end);
    if (body.length < 10 || body[0] !== 3) continue;
    const keyId = body.toString('hex', 1, 9).toUpperCase();
    const algo = body[9];
    const mpi = readMpi(body, 10);
    if (mpi === null) continue;
    if (algo === ALGO.rsaEncrypt || algo === ALGO.rsaEncryptSign) found.push({ keyId, algorithm: 'rsa', value: mpi.value, wrapped: null });
    else if (algo === ALGO.ecdh) {
      const size = body[mpi.end];
      if (size === undefined || mpi.end + 1 + size !== body.length) continue;
      found.push({ keyId, algorithm: 'ecdh', value: mpi.value, wrapped: body.subarray(mpi.end + 1) });
    }
  }
  return found;
}

/**
 * Whether a key packet's value has a shape the agent can take. The packet comes from the log,
 * which whoever controls the encrypting host can append to; gpg-agent 2.2 was seen to exit on an
 * ECDH point of 3 bytes, so nothing of another shape is ever sent: an ECDH point is a native
 * Curve25519/X448 one (0x40 and 32 or 56 bytes) or an uncompressed NIST/Brainpool one (0x04 and
 * two coordinates of 32, 48, 64 or 66 bytes); an RSA value is at most 8192 bits.
 */
export function wellFormedValue(p: Pkesk): boolean {
  const v = p.value;
  if (p.algorithm === 'rsa') return v.length > 0 && v.length <= 1024;
  if (v[0] === 0x40) return v.length === 33 || v.length === 57;
  if (v[0] === 0x04) return [32, 48, 64, 66].some((n) => v.length === 1 + 2 * n);
  return false;
}

function readMpi(buf: Buffer, at: number): { value: Buffer; end: number } | null {
  const end = mpiEnd(buf, at);
  return end === null ? null : { value: buf.subarray(at + 2, end), end };
}

/** The ciphertext as gpg hands it to the agent: a canonical S-expression `(enc-val (...))`. */
export function encValSexp(p: Pkesk): Buffer {
  const atom = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length}:`, 'latin1'), b]);
  const text = (t: string) => atom(Buffer.from(t, 'latin1'));
  // An MPI in an S-expression is signed: a value with its top bit set gets a leading zero.
  const unsigned = (b: Buffer) => (b.length > 0 && (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  const open = Buffer.from('(');
  const close = Buffer.from(')');
  const inner =
    p.algorithm === 'rsa'
      ? [open, text('rsa'), open, text('a'), atom(unsigned(p.value)), close, close]
      : // The agent needs only the ephemeral point; gpg sends the wrapped key along as `s`.
        [open, text('ecdh'), open, text('s'), atom(Buffer.concat([Buffer.from([(p.wrapped as Buffer).length]), p.wrapped as Buffer])), close, open, text('e'), atom(p.value), close, close];
  return Buffer.concat([open, text('enc-val'), ...inner, close]);
}

/** The agent's answer `(value N:bytes)` to its bytes, or null when it has another shape. */
export function plainValue(sexp: Buffer): Buffer | null {
  const m = /^\(5:value(\d+):/.exec(sexp.toString('latin1', 0, Math.min(sexp.length, 24)));
  if (m === null) return null;
  const start = m[0].length;
  const end = start + Number(m[1]);
  // The agent ends its RSA answer with a NUL after the closing parenthesis.
  const whole = end + 1 === sexp.length || (end + 2 === sexp.length && sexp[end + 1] === 0);
  return whole && sexp[end] === 0x29 ? sexp.subarray(start, end) : null;
}

/**
 * RSA: the frame (PKCS#1 v1.5 type 2, unless gpg-agent removed the padding itself) to the session
 * key. Decoded as RFC 8017 7.2.2 and openpgp.js decode it: 0x00 (which gpg-agent's answer drops),
 * 0x02, at least 8 nonzero bytes, 0x00. The key packet is hostile input (anyone can append a block
 * to a log), so nothing looser is taken: a laxer check makes more forged values look well padded.
 * The separator is looked for without stopping early; the rest is not constant-time (neither is
 * openpgp.js's default), and every failure is the same null.
 */
export function rsaSessionKey(frame: Buffer, padded: boolean): SessionKey | null {
  let m = frame;
  if (padded) {
    const at = m[0] === 0 ? 1 : 0;
    let separator = -1;
    for (let i = at + 1; i < m.length; i += 1) if (m[i] === 0 && separator < 0) separator = i;
    if (m[at] !== 2 || separator < at + 1 + 8) return null;
    m = m.subarray(separator + 1);
  }
  return checkedKey(m);
}

/** ECDH: the shared point the agent computed to the session key (KDF, AES key unwrap, padding). */
export function ecdhSessionKey(shared: Buffer, p: Pkesk, params: EcdhParams): SessionKey | null {
  const hash = HASHES[params.hash];
  const kekBytes = KEK_BYTES[params.cipher];
  if (hash === undefined || kekBytes === undefined || p.wrapped === null) return null;
  // The point's x coordinate: 0x40 || x for Curve25519, 0x04 || x || y for the NIST curves.
  let x = shared;
  if (shared[0] === 0x40 && shared.length % 2 === 1) x = shared.subarray(1);
  else if (shared[0] === 0x04 && shared.length % 2 === 1) x = shared.subarray(1, 1 + (shared.length - 1) / 2);
  const param = Buffer.concat([params.oid, Buffer.from([ALGO.ecdh, 3, 1, params.hash, params.cipher]), Buffer.from('Anonymous Sender    ', 'latin1'), params.fingerprint]);
  const kek = createHash(hash).update(Buffer.from([0, 0, 0, 1])).update(x).update(param).digest().subarray(0, kekBytes);
  let m: Buffer;
  try {
    const unwrap = createDecipheriv(`id-aes${kekBytes * 8}-wrap`, kek, KEY_WRAP_IV);
    m = Buffer.concat([unwrap.update(p.wrapped), unwrap.final()]);
  } catch {
    return null; // the unwrap's integrity check failed: not this key's packet
  }
  // PKCS#5 padding (RFC 6637 section 8): n bytes of value n.
  const n = m[m.length - 1] ?? 0;
  if (n === 0 || n > m.length || m.subarray(m.length - n).some((b) => b !== n)) return null;
  return checkedKey(m.subarray(0, m.length - n));
}

/** algorithm octet || key || two-octet checksum (the key's bytes summed modulo 65536). */
function checkedKey(m: Buffer): SessionKey | null {
  const algorithm = SESSION_ALGORITHMS[m[0] ?? -1];
  if (algorithm === undefined || m.length !== 1 + algorithm.bytes + 2) return null;
  const key = m.subarray(1, 1 + algorithm.bytes);
  let sum = 0;
  for (const b of key) sum = (sum + b) & 0xffff;
  return sum === m.readUInt16BE(1 + algorithm.bytes) ? { data: Buffer.from(key), algorithm: algorithm.name } : null;
}
