import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { errnoCode, usageError } from '../runtime/errors.ts';
import { readPassphrase, type PassphraseSource } from './passphrase.ts';

/** What `decrypt` and `verify` share besides the input reading (runtime/decrypt/): secret keys and their passphrase. */

/** One passphrase for every protected key, read at most once, and only if a key needs it. */
/** The options `decrypt` and `verify` share: which keys open the logs and archives, and where archives are. */
export interface LogKeyOptions extends PassphraseSource {
  readonly key: readonly string[];
  /** Keys for the outer layer of archives; the log keys when none are given. */
  readonly archiveKey?: readonly string[];
  readonly archiveDir?: string;
}

export function passphraseOnce(options: PassphraseSource, env: NodeJS.ProcessEnv): (fingerprint: string) => Promise<string | null> {
  let cached: Promise<string | null> | null = null;
  return (fingerprint) => (cached ??= readPassphrase(options, `Passphrase for ${fingerprint}: `, env));
}

export async function loadSecretKeys(files: readonly string[], option: string, passphrase: (fingerprint: string) => Promise<string | null>): Promise<openpgp.PrivateKey[]> {
  const keys: openpgp.PrivateKey[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw usageError('KEY_FILE_UNREADABLE', `${option} ${JSON.stringify(file)}: cannot read: ${errnoCode(err) ?? String(err)}`);
    });
    const key = await openpgp.readPrivateKey({ armoredKey: text }).catch((err: unknown) => {
      throw usageError('KEY_UNREADABLE', `${option} ${JSON.stringify(file)}: not an armored OpenPGP secret key (${(err as Error).message})`);
    });
    if (key.isDecrypted()) {
      keys.push(key);
      continue;
    }
    const secret = await passphrase(key.getFingerprint().toUpperCase());
    if (secret === null) {
      throw usageError('PASSPHRASE_NEEDED', `${option} ${JSON.stringify(file)} is passphrase-protected: give --passphrase-file, --passphrase-fd or --passphrase-env, or run on a terminal`);
    }
    keys.push(
      await openpgp.decryptKey({ privateKey: key, passphrase: secret }).catch(() => {
        throw usageError('BAD_PASSPHRASE', `${option} ${JSON.stringify(file)}: wrong passphrase`);
      }),
    );
  }
  return keys;
}
