import * as openpgp from 'openpgp';
import { PipesError, refusal } from './errors.ts';

/**
 * The baked recipient keys and the date at which they are checked.
 *
 * A key can stop being valid while a copy runs, or between two starts: it expires, or the
 * clock is stepped back before its creation. GnuPG would then refuse to encrypt to it, and a copy
 * that did the same would have to stop logging (writers block) or drop lines. Neither is right
 * for a log: the key holder can still decrypt, since an expired key is not a compromised one.
 * So a key that was valid when the copy was generated is still used as it was then; the copy
 * says so loudly, once, in its diagnostics and as an encrypted event, until a new copy is
 * generated with a renewed key. Revocation cannot happen behind the copy's back: keys are baked,
 * and the generator refuses revoked ones.
 */
export interface RecipientKeys {
  /** Every key lists ZLIB among its preferred compression algorithms (RFC 4880 5.2.3.9). */
  readonly acceptZlib: boolean;
  /** The date to check the keys at: `now` while they are valid, else the generation time. */
  validAt(now: Date): Promise<Date>;
  /** The key packets that give every recipient an AES-256 session key; `date` from validAt. */
  keyPackets(sessionKey: Uint8Array, date: Date): Promise<Uint8Array>;
  /** The keys as openpgp.js reads them, for `openpgp.encrypt` (archives, reports). */
  openpgpKeys(): Promise<readonly openpgp.PublicKey[]>;
}

/**
 * The keys read and checked by openpgp.js: for archive keys, and for log keys the generator
 * baked no sealing facts for or whose algorithm the copy does not encrypt to natively
 * (runtime/seal/recipient-keys.ts). A copy evaluates openpgp.js only when it comes here.
 */
export async function loadRecipientKeys(armoredKeys: readonly string[], generatedAt: Date, onExpired: (detail: string) => void = () => {}): Promise<RecipientKeys> {
  const keys = await readPublicKeys(armoredKeys);
  const start = new Date();
  const failingNow = await keysFailingAt(keys, start);
  const [firstFailing] = failingNow;
  if (firstFailing !== undefined && (await keysFailingAt(keys, generatedAt)).length > 0) {
    throw new PipesError('KEY_UNUSABLE', `recipient key ${firstFailing.fingerprint} cannot encrypt now nor when the copy was generated: ${firstFailing.reason}`);
  }
  // Signatures are checked once, here; each block then only compares dates with the window.
  const checkedAt = firstFailing === undefined ? start : generatedAt;
  const window = await validityWindow(keys, checkedAt);
  const acceptZlib = await everyKeyAcceptsZlib(keys, checkedAt);
  let usingGenerationTime = false;
  return {
    acceptZlib,
    keyPackets: (data, date) =>
      openpgp.encryptSessionKey({ data, algorithm: 'aes256', encryptionKeys: [...keys], format: 'binary', date, config: { aeadProtect: false } }),
    openpgpKeys: () => Promise.resolve(keys),
    async validAt(now) {
      const valid = now.getTime() >= window.from && now.getTime() < window.until;
      if (!valid && !usingGenerationTime) {
        onExpired(
          `recipient key ${(failingNow.length > 0 ? failingNow : await keysFailingAt(keys, now)).map((k) => k.fingerprint).join(', ')} is not valid at ${now.toISOString()} (expired, or the clock is before its creation): still encrypting to it as it was when the copy was generated (${generatedAt.toISOString()}); generate a new copy with a renewed key`,
        );
      }
      usingGenerationTime = !valid;
      return valid ? now : generatedAt;
    },
  };
}

async function everyKeyAcceptsZlib(keys: readonly openpgp.PublicKey[], at: Date): Promise<boolean> {
  for (const key of keys) {
    const prefs = (await key.getPrimaryUser(at)).selfCertification.preferredCompressionAlgorithms;
    if (!prefs?.includes(openpgp.enums.compression.zlib)) return false;
  }
  return true;
}

/** From the latest creation to the earliest expiry of every key and encryption subkey used. */
async function validityWindow(keys: readonly openpgp.PublicKey[], at: Date): Promise<{ from: number; until: number }> {
  let from = Number.NEGATIVE_INFINITY;
  let until = Number.POSITIVE_INFINITY;
  for (const key of keys) {
    const sub = await key.getEncryptionKey(undefined, at);
    for (const created of [key.getCreationTime(), sub.getCreationTime()]) from = Math.max(from, created.getTime());
    // The primary key may be the encryption key itself (RSA sign+encrypt): it has no own subkey expiry.
    const subExpiry = sub === key ? null : await (sub as openpgp.Subkey).getExpirationTime(at);
    for (const expires of [await key.getExpirationTime(), subExpiry]) {
      if (expires instanceof Date) until = Math.min(until, expires.getTime());
    }
  }
  return { from, until };
}

export async function readPublicKeys(armoredKeys: readonly string[]): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const armoredKey of armoredKeys) {
    const key = await openpgp.readKey({ armoredKey });
    // openpgp.encrypt accepts a private key silently: refuse it here too, not only at generation.
    if (key.isPrivate()) throw refusal('SECRET_KEY', 'a baked recipient key is a secret key; regenerate the copy');
    keys.push(key);
  }
  return keys;
}

/** The keys that cannot encrypt at `date`, with openpgp.js's reason for each. */
async function keysFailingAt(keys: readonly openpgp.PublicKey[], date: Date): Promise<Array<{ fingerprint: string; reason: string }>> {
  const failing: Array<{ fingerprint: string; reason: string }> = [];
  for (const key of keys) {
    try {
      await key.getEncryptionKey(undefined, date);
    } catch (err) {
      failing.push({ fingerprint: key.getFingerprint().toUpperCase(), reason: (err as Error).message });
    }
  }
  return failing;
}
