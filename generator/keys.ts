import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import type { BakedRecipient, BakedSealing } from '../runtime/baked.ts';
import { errnoCode, refusal, usageError } from '../runtime/errors.ts';
import type { SystemPort } from './system.ts';

/**
 * Loads the recipient keys and keeps only public key material. Refused: a secret key (it must
 * never be on the encrypting host: invariant 1), a revoked or expired key, a key with no
 * encryption-capable subkey, and v6 keys (GnuPG 2.2/2.4 cannot use them).
 */
export async function loadRecipients(
  files: readonly string[],
  gpgIds: readonly string[],
  system: SystemPort,
  now: Date,
  optionNames = { file: '--recipient-key', gpg: '--recipient' },
): Promise<BakedRecipient[]> {
  const found: BakedRecipient[] = [];
  for (const file of files) {
    const where = `${optionNames.file} ${JSON.stringify(file)}`;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw usageError('KEY_FILE_UNREADABLE', `${where}: cannot read: ${errnoCode(err) ?? String(err)}`);
    }
    for (const key of await parseKeys(bytes, where)) found.push(await checkKey(key, where, now));
  }
  for (const who of gpgIds) {
    const where = `${optionNames.gpg} ${JSON.stringify(who)}`;
    let bytes: Buffer;
    try {
      bytes = await system.gpgExport(who);
    } catch (err) {
      throw usageError('GPG_EXPORT_FAILED', `${where}: gpg --export failed: ${(err as Error).message.trim()}`);
    }
    if (bytes.length === 0) {
      throw usageError('KEY_NOT_IN_KEYRING', `${where}: no public key matches in the GnuPG keyring${process.env.GNUPGHOME ? ` (GNUPGHOME=${process.env.GNUPGHOME})` : ''}`);
    }
    const keys = await parseKeys(bytes, where);
    if (keys.length > 1) {
      const prints = keys.map((k) => k.getFingerprint().toUpperCase()).join(', ');
      throw usageError('KEY_AMBIGUOUS', `${where} matches ${keys.length} keys (${prints}); name one by its fingerprint`);
    }
    for (const key of keys) found.push(await checkKey(key, where, now));
  }
  const unique = new Map(found.map((r) => [r.fingerprint, r]));
  return [...unique.values()];
}

async function parseKeys(bytes: Buffer, where: string): Promise<openpgp.Key[]> {
  const text = bytes.toString('latin1');
  if (/-----BEGIN PGP (PRIVATE|SECRET) KEY BLOCK-----/.test(text)) throw secretKeyRefusal(where);
  try {
    return text.includes('-----BEGIN PGP ')
      ? await openpgp.readKeys({ armoredKeys: text })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
  } catch (err) {
    throw usageError('KEY_UNREADABLE', `${where}: not an OpenPGP public key (${(err as Error).message})`);
  }
}

function secretKeyRefusal(where: string) {
  return refusal(
    'SECRET_KEY',
    `${where} holds a SECRET key. Only public keys may be baked: export one with "gpg --export --armor ID > key.asc", and keep the secret key off this host.`,
  );
}

async function checkKey(key: openpgp.Key, where: string, now: Date): Promise<BakedRecipient> {
  if (key.isPrivate()) throw secretKeyRefusal(where);
  const fingerprint = key.getFingerprint().toUpperCase();
  const named = `${where}: key ${fingerprint}`;
  if (key.keyPacket.version !== 4) {
    throw refusal('KEY_VERSION', `${named} is a version ${key.keyPacket.version} key; GnuPG 2.2/2.4 read only version 4 keys`);
  }
  if (key.getCreationTime().getTime() > now.getTime()) {
    // openpgp.js would only say "no valid encryption key": name the real cause.
    throw refusal(
      'KEY_FROM_THE_FUTURE',
      `${named} was created ${key.getCreationTime().toISOString()}, after this host's clock (${now.toISOString()}); check the clocks of both machines`,
    );
  }
  if (await key.isRevoked(undefined, undefined, now)) throw refusal('KEY_REVOKED', `${named} is revoked`);
  const expires = await key.getExpirationTime().catch(() => null);
  if (expires instanceof Date && expires.getTime() <= now.getTime()) {
    throw refusal('KEY_EXPIRED', `${named} expired on ${expires.toISOString()}`);
  }
  try {
    await key.getEncryptionKey(undefined, now);
  } catch {
    throw refusal('KEY_NO_ENCRYPTION', `${named} has no valid encryption subkey (signing-only, or its subkeys expired or were revoked)`);
  }
  return {
    fingerprint,
    userIds: key.getUserIDs(),
    armoredKey: key.toPublic().armor(),
    sealing: await sealingFacts(key, now),
  };
}

/**
 * The facts the copy seals with (runtime/baked.ts BakedSealing), as openpgp.js sees the key at
 * generation: the same subkey, window and compression preference the copy's openpgp.js path
 * works out at its start.
 */
export async function sealingFacts(key: openpgp.Key, now: Date): Promise<BakedSealing> {
  const sub = await key.getEncryptionKey(undefined, now);
  const from = Math.max(key.getCreationTime().getTime(), sub.getCreationTime().getTime());
  let until = Number.POSITIVE_INFINITY;
  // The primary key may be the encryption key itself (RSA sign+encrypt): it has no own subkey expiry.
  const subExpiry = sub === key ? null : await (sub as openpgp.Subkey).getExpirationTime(now);
  for (const expires of [await key.getExpirationTime(), subExpiry]) {
    if (expires instanceof Date) until = Math.min(until, expires.getTime());
  }
  const prefs = (await key.getPrimaryUser(now)).selfCertification.preferredCompressionAlgorithms;
  return {
    keyPacket: Buffer.from(sub.keyPacket.write()).toString('hex'),
    validFrom: new Date(from).toISOString(),
    validUntil: Number.isFinite(until) ? new Date(until).toISOString() : null,
    zlib: prefs?.includes(openpgp.enums.compression.zlib) ?? false,
  };
}
