import { constants, createPublicKey, diffieHellman, privateDecrypt } from 'node:crypto';
import type * as openpgp from 'openpgp';
import type { SessionKeyOf } from './fast-open.ts';
import { loadOpenpgp } from './load-openpgp.ts';
import { ecdhSessionKey, parsePkesks, rsaSessionKey, wellFormedValue, type Pkesk, type SessionKey } from './pkesk.ts';
import type { NativeDecryptionKey } from './secret-key.ts';
import { readPacket } from '../format/split.ts';

/**
 * A secret key given to the decrypter (`--key`, `--archive-key`): the decryption subkeys read
 * natively (secret-key.ts), and the same key as openpgp.js reads it, made only when a message
 * needs it (a message of another shape, a session key for a subkey not read natively).
 */
export interface DecryptionKey {
  /** The primary key's fingerprint, upper-case hex. */
  readonly fingerprint: string;
  readonly native: readonly NativeDecryptionKey[];
  /** Key IDs of decrypting subkeys only openpgp.js opens; null when that is unknown (a key only openpgp.js read). */
  readonly otherKeyIds: ReadonlySet<string> | null;
  /** The key for openpgp.js, read (and unlocked) at the first call. */
  readonly openpgp: () => Promise<openpgp.PrivateKey>;
}

/** The session key is for a key only openpgp.js opens: the caller asks it. */
export const ASK_OPENPGP = Symbol('ask openpgp.js');

const TAG_PKESK = 1;
/** A hidden recipient (gpg --throw-keyids): any secret key may be the one. */
const WILDCARD = '0000000000000000';
/** SubjectPublicKeyInfo for an X25519 public key: this prefix, then the 32-byte u coordinate. */
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * The session key of a message's key packets opened with the native keys (X25519, then the RFC
 * 6637 KDF and key unwrap of pkesk.ts; or RSA and PKCS#1 unpadding), trying each key whose ID a
 * packet names, or every key for a hidden recipient. ASK_OPENPGP when a packet may be for a subkey only openpgp.js opens.
 * Throws, naming the key IDs, when none of the keys given can open it: openpgp.js could not
 * either, and it is not loaded only to say so.
 */
export function nativeSessionKey(packets: Buffer, keys: readonly DecryptionKey[]): SessionKey | typeof ASK_OPENPGP {
  const natives = keys.flatMap((k) => k.native);
  const tried = new Set<string>();
  for (const p of parsePkesks(packets)) {
    if (!wellFormedValue(p) || (p.algorithm === 'ecdh' && p.value.length !== 33)) continue;
    for (const key of natives) {
      if (key.kind !== p.algorithm || (p.keyId !== WILDCARD && p.keyId !== key.keyId)) continue;
      tried.add(key.keyId);
      const found = openWith(p, key);
      if (found !== null) return found;
    }
  }
  const named = recipientIds(packets);
  // A packet for a subkey openpgp.js opens, or one that may be (hidden, or of another version).
  const forOther = (id: string | null) => keys.some((k) => k.otherKeyIds === null || (id === null || id === WILDCARD ? k.otherKeyIds.size > 0 : k.otherKeyIds.has(id)));
  if (keys.some((k) => k.otherKeyIds === null) || named.some(forOther)) return ASK_OPENPGP;
  if (named.includes(WILDCARD)) throw new Error('no key given opens it: its session key is for a hidden recipient');
  if (tried.size > 0) throw new Error(`the session key does not open with subkey ${[...tried].join(', ')}: its key packet is damaged`);
  const ids = named.map((id) => id ?? 'unknown');
  throw new Error(`no key given opens it: its session key is for ${ids.length === 0 ? 'no key' : `key ID ${ids.join(', ')}`}`);
}

function openWith(p: Pkesk, key: NativeDecryptionKey): SessionKey | null {
  if (key.kind === 'rsa') {
    if (p.value.length > key.modulusBytes) return null;
    const padded = Buffer.concat([Buffer.alloc(key.modulusBytes - p.value.length), p.value]);
    try {
      // The unpadding is pkesk.ts's (node refuses PKCS#1 v1.5 decryption itself since CVE-2023-46809).
      return rsaSessionKey(privateDecrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, padded), true);
    } catch {
      return null; // a value not below the modulus: not for this key
    }
  }
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI, p.value.subarray(1)]), format: 'der', type: 'spki' });
    shared = diffieHellman({ privateKey: key.privateKey, publicKey });
  } catch {
    return null; // a point of low order gives no shared secret: the packet is not for this key
  }
  return ecdhSessionKey(shared, p, key.ecdh);
}

/** The key ID each key packet names (v3), null for one of another version. */
function recipientIds(packets: Buffer): Array<string | null> {
  const ids: Array<string | null> = [];
  for (let at = 0; at < packets.length; ) {
    const h = readPacket(packets, at);
    if (h.status !== 'ok' || h.partial) break;
    at = h.end;
    if (h.tag !== TAG_PKESK) continue;
    ids.push(packets[h.bodyStart] === 3 && h.end - h.bodyStart >= 9 ? packets.toString('hex', h.bodyStart + 1, h.bodyStart + 9).toUpperCase() : null);
  }
  return ids;
}

/**
 * How openpgp.decrypt opens a message (openpgp.js is loaded by then): with the private keys as
 * openpgp.js reads them, or with a session key from GnuPG.
 */
export async function keyOptionsFor(
  message: openpgp.Message<Uint8Array | string>,
  keys: readonly DecryptionKey[],
  sessionKeyOf: SessionKeyOf | undefined,
): Promise<{ decryptionKeys: openpgp.PrivateKey[] } | { sessionKeys: openpgp.SessionKey }> {
  if (sessionKeyOf === undefined) return { decryptionKeys: await Promise.all(keys.map((k) => k.openpgp())) };
  const keyPackets = Buffer.from(message.packets.filterByTag((await loadOpenpgp()).enums.packet.publicKeyEncryptedSessionKey).write());
  const key = await sessionKeyOf(keyPackets);
  if (key === null) throw new Error('GnuPG could not decrypt the session key (no matching secret key, or no passphrase)');
  return { sessionKeys: { data: key.data, algorithm: key.algorithm as openpgp.enums.symmetricNames } };
}
