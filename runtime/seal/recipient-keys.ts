import type { PublicKey } from 'openpgp';
import type { BakedRecipient } from '../baked.ts';
import { PipesError } from '../errors.ts';
import type { RecipientKeys } from '../recipients.ts';
import { armoredKeyHolds, parseEncryptionKey, type EncryptionKey } from './encryption-key.ts';
import { sessionKeyPacket } from './session-key-packet.ts';

/**
 * The log's recipient keys at the copy's start, without openpgp.js where the generator baked
 * sealing facts (runtime/baked.ts BakedSealing) for keys the copy encrypts to natively (RSA,
 * ECDH on Curve25519 and the NIST curves): openpgp.js's code and objects were about a quarter
 * of an idle copy's memory, and blocks need nothing of it but the session keys' key packets.
 *
 * The facts are what openpgp.js made of the key at generation (signatures, revocation, expiry
 * were checked there; the baked key cannot change without the copy changing), so the copy
 * behaves as with openpgp.js at its start: it seals while the keys are valid, and past their
 * window (expired, or the clock before their creation) it keeps sealing to them as they were at
 * generation and says so once (recipients.ts explains why). `withOpenpgp` (a copy that mails
 * reports, which openpgp.js encrypts): openpgp.js reads the keys now too, so a failure shows at
 * start and not at the first report. Otherwise, and for any key without usable facts, the keys
 * go through openpgp.js as before (recipients.ts).
 */
export async function loadSealingKeys(recipients: readonly BakedRecipient[], generatedAt: Date, onExpired: (detail: string) => void, withOpenpgp: boolean): Promise<RecipientKeys> {
  const armored = recipients.map((r) => r.armoredKey);
  const native = nativeKeys(recipients);
  if (native === null) return (await import('../recipients.ts')).loadRecipientKeys(armored, generatedAt, onExpired);
  let openpgpKeys: Promise<readonly PublicKey[]> | null = null;
  const loadOpenpgp = () => (openpgpKeys ??= import('../recipients.ts').then((m) => m.readPublicKeys(armored)));
  if (withOpenpgp) await loadOpenpgp();

  const failingAt = (at: Date) => native.filter((k) => !(at.getTime() >= k.from && at.getTime() < k.until)).map((k) => k.fingerprint);
  if (failingAt(generatedAt).length > 0) {
    throw new PipesError('KEY_UNUSABLE', `recipient key ${failingAt(generatedAt).join(', ')} was not valid when the copy was generated (${generatedAt.toISOString()}); regenerate the copy`);
  }
  const from = Math.max(...native.map((k) => k.from));
  const until = Math.min(...native.map((k) => k.until));
  let usingGenerationTime = false;
  return {
    acceptZlib: native.every((k) => k.zlib),
    async validAt(now) {
      const valid = now.getTime() >= from && now.getTime() < until;
      if (!valid && !usingGenerationTime) {
        onExpired(
          `recipient key ${failingAt(now).join(', ')} is not valid at ${now.toISOString()} (expired, or the clock is before its creation): still encrypting to it as it was when the copy was generated (${generatedAt.toISOString()}); generate a new copy with a renewed key`,
        );
      }
      usingGenerationTime = !valid;
      return valid ? now : generatedAt;
    },
    keyPackets: async (sessionKey) => Buffer.concat(native.map((k) => sessionKeyPacket(k.key, sessionKey))),
    openpgpKeys: loadOpenpgp,
  };
}

interface NativeKey {
  readonly key: EncryptionKey;
  readonly fingerprint: string;
  readonly from: number;
  readonly until: number;
  readonly zlib: boolean;
}

/** Whether the copy seals to these keys without openpgp.js (the generator's question). */
export function sealsNatively(recipients: readonly BakedRecipient[]): boolean {
  return nativeKeys(recipients) !== null;
}

/** Every recipient's key with its facts, or null when one has none or an algorithm openpgp.js must do. */
function nativeKeys(recipients: readonly BakedRecipient[]): NativeKey[] | null {
  const keys: NativeKey[] = [];
  for (const r of recipients) {
    if (r.sealing === undefined) return null;
    const key = parseEncryptionKey(r.sealing.keyPacket);
    if (key === null) return null;
    if (!armoredKeyHolds(r.armoredKey, r.sealing.keyPacket)) {
      throw new PipesError('KEY_UNUSABLE', `recipient key ${r.fingerprint}: its baked encryption key is not part of the baked public key; regenerate the copy`);
    }
    keys.push({
      key,
      fingerprint: r.fingerprint,
      from: Date.parse(r.sealing.validFrom),
      until: r.sealing.validUntil === null ? Number.POSITIVE_INFINITY : Date.parse(r.sealing.validUntil),
      zlib: r.sealing.zlib,
    });
  }
  return keys.length > 0 ? keys : null;
}
