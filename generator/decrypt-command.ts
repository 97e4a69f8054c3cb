import { constants, promises as fsp } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { LogDecrypter, type Problem } from '../runtime/decrypt/reader.ts';
import { EXIT, errnoCode, PipesError, usageError } from '../runtime/errors.ts';
import type { CommandIo } from './encrypter-command.ts';
import { readPassphrase, type PassphraseSource } from './passphrase.ts';

export interface DecryptOptions extends PassphraseSource {
  readonly key: readonly string[];
  readonly output?: string;
  readonly showControl?: boolean;
}

export interface DecryptIo extends CommandIo {
  /** Standard input, read whole when no file is named. */
  readonly stdin: () => Promise<Buffer>;
  readonly writeData: (bytes: Uint8Array) => Promise<void>;
  readonly env: NodeJS.ProcessEnv;
}

/** Exit code: 0 all read; 1 some blocks could not be read (each reported on stderr). */
export async function runDecryptCommand(files: readonly string[], options: DecryptOptions, io: DecryptIo): Promise<number> {
  if (options.key.length === 0) throw usageError('NO_KEY', 'give --key FILE: the secret key that opens the log');
  const keys = await loadSecretKeys(options, io.env);
  let write = io.writeData;
  let outHandle: fsp.FileHandle | null = null;
  if (options.output !== undefined) {
    // Plaintext on the admin's machine: private to its owner, and never over an existing file.
    outHandle = await fsp
      .open(options.output, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      .catch((err: unknown) => {
        throw usageError('OUTPUT_EXISTS', `--output ${JSON.stringify(options.output)}: ${errnoCode(err) === 'EEXIST' ? 'already exists' : (errnoCode(err) ?? String(err))}`);
      });
    const handle = outHandle;
    write = async (bytes) => {
      await handle.write(bytes);
    };
  }
  const decrypter = new LogDecrypter(keys, {
    data: (bytes) => write(bytes),
    control: (record) => {
      if (options.showControl === true) io.err(`control: ${JSON.stringify(record)}\n`);
    },
    problem: (p: Problem) => io.err(`paranoid-pipes decrypt: ${p.source}: offset ${p.offset}: ${p.kind}: ${p.detail}${p.length > 0 ? ` (${p.length} bytes)` : ''}\n`),
  });
  try {
    if (files.length === 0) await decrypter.decryptBuffer(await io.stdin(), '<stdin>');
    for (const file of files) {
      const buf = await readFile(file).catch((err: unknown) => {
        throw new PipesError('INPUT_UNREADABLE', `cannot read ${JSON.stringify(file)}: ${errnoCode(err) ?? String(err)}`);
      });
      await decrypter.decryptBuffer(buf, file);
    }
  } finally {
    await outHandle?.close();
  }
  const s = decrypter.summary;
  if (s.problems > 0) {
    io.err(`paranoid-pipes decrypt: ${s.messages} blocks read, ${s.problems} problem(s) reported above\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

async function loadSecretKeys(options: DecryptOptions, env: NodeJS.ProcessEnv): Promise<openpgp.PrivateKey[]> {
  const keys: openpgp.PrivateKey[] = [];
  let passphrase: string | null | undefined;
  for (const file of options.key) {
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw usageError('KEY_FILE_UNREADABLE', `--key ${JSON.stringify(file)}: cannot read: ${errnoCode(err) ?? String(err)}`);
    });
    const key = await openpgp.readPrivateKey({ armoredKey: text }).catch((err: unknown) => {
      throw usageError('KEY_UNREADABLE', `--key ${JSON.stringify(file)}: not an armored OpenPGP secret key (${(err as Error).message})`);
    });
    if (key.isDecrypted()) {
      keys.push(key);
      continue;
    }
    passphrase ??= await readPassphrase(options, `Passphrase for ${key.getFingerprint().toUpperCase()}: `, env);
    if (passphrase === null) {
      throw usageError('PASSPHRASE_NEEDED', `--key ${JSON.stringify(file)} is passphrase-protected: give --passphrase-file, --passphrase-fd or --passphrase-env, or run on a terminal`);
    }
    keys.push(
      await openpgp.decryptKey({ privateKey: key, passphrase }).catch(() => {
        throw usageError('BAD_PASSPHRASE', `--key ${JSON.stringify(file)}: wrong passphrase`);
      }),
    );
  }
  return keys;
}
