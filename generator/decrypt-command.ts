import { constants, promises as fsp } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import * as openpgp from 'openpgp';
import { LogDecrypter, type Problem } from '../runtime/decrypt/reader.ts';
import { EXIT, errnoCode, PipesError, usageError } from '../runtime/errors.ts';
import { compareRotation, rotationIdOf } from '../runtime/rotation/names.ts';
import type { CommandIo } from './encrypter-command.ts';
import { readPassphrase, type PassphraseSource } from './passphrase.ts';

export interface DecryptOptions extends PassphraseSource {
  readonly key: readonly string[];
  /** Keys for the outer layer of archives; the log keys when none are given. */
  readonly archiveKey?: readonly string[];
  readonly archiveDir?: string;
  readonly output?: string;
  readonly showControl?: boolean;
}

export interface DecryptIo extends CommandIo {
  /** Standard input, read whole when no file is named. */
  readonly stdin: () => Promise<Buffer>;
  readonly writeData: (bytes: Uint8Array) => Promise<void>;
  readonly env: NodeJS.ProcessEnv;
}

const gunzipAsync = promisify(gunzip);

/** Exit code: 0 all read; 1 some blocks could not be read (each reported on stderr). */
export async function runDecryptCommand(files: readonly string[], options: DecryptOptions, io: DecryptIo): Promise<number> {
  if (options.key.length === 0) throw usageError('NO_KEY', 'give --key FILE: the secret key that opens the log');
  const passphrase = passphraseOnce(options, io.env);
  const keys = await loadSecretKeys(options.key, '--key', passphrase);
  const archiveKeys = options.archiveKey !== undefined && options.archiveKey.length > 0 ? await loadSecretKeys(options.archiveKey, '--archive-key', passphrase) : keys;
  const inputs = await orderInputs(files, options.archiveDir);
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
    if (inputs.length === 0) await decrypter.decryptBuffer(await io.stdin(), '<stdin>');
    for (const file of inputs) {
      const unreadable = (err: unknown) => new PipesError('INPUT_UNREADABLE', `cannot read ${JSON.stringify(file)}: ${errnoCode(err) ?? String(err)}`);
      if (!isArchive(file)) {
        // Logs grow without bound (no rotation, or a big one): read them chunk by chunk.
        const handle = await fsp.open(file, 'r').catch((err: unknown) => {
          throw unreadable(err);
        });
        try {
          await decrypter.decryptChunks(() => readChunk(handle).catch((err: unknown) => Promise.reject(unreadable(err))), file);
        } finally {
          await handle.close();
        }
        continue;
      }
      // An archive is one rotated log, as big as --rotate-size: opened whole.
      const buf = await readFile(file).catch((err: unknown) => {
        throw unreadable(err);
      });
      const inner = await openArchive(buf, archiveKeys).catch((err: unknown) => err as Error);
      if (inner instanceof Error) {
        decrypter.reportProblem({ source: file, offset: 0, length: buf.length, kind: 'undecryptable', detail: `archive: ${inner.message}` });
        continue;
      }
      await decrypter.decryptBuffer(inner, `${file} (inside)`);
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

const ARCHIVE_SUFFIX = '.gz.gpg';
const isArchive = (file: string) => file.endsWith(ARCHIVE_SUFFIX);

/**
 * Archives of --archive-dir plus the files named, in stream order: everything named like a
 * rotation (<log>.<UTC stamp>.<n>[.gz.gpg|.aside]) sorted by stamp and counter, then the rest (the
 * live log) in the order given.
 */
async function orderInputs(files: readonly string[], archiveDir: string | undefined): Promise<string[]> {
  const all = [...files];
  if (archiveDir !== undefined) {
    const names = await readdir(archiveDir).catch((err: unknown) => {
      throw usageError('ARCHIVE_DIR_UNREADABLE', `--archive-dir ${JSON.stringify(archiveDir)}: ${errnoCode(err) ?? String(err)}`);
    });
    all.push(...names.filter((n) => isArchive(n) && !n.startsWith('.')).map((n) => join(archiveDir, n)));
  }
  const rotated = all.filter((f) => rotationIdOf(f) !== null).sort((a, b) => compareRotation(rotationIdOf(a)!, rotationIdOf(b)!));
  return [...new Set([...rotated, ...all.filter((f) => rotationIdOf(f) === null)])];
}

/** Outer layer (rotation key), then gunzip: the rotated log as it was on the server. */
async function openArchive(buf: Buffer, keys: readonly openpgp.PrivateKey[]): Promise<Buffer> {
  const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(buf) });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: [...keys], format: 'binary' });
  return gunzipAsync(data as Uint8Array);
}

/** One passphrase for every protected key, read at most once, and only if a key needs it. */
function passphraseOnce(options: PassphraseSource, env: NodeJS.ProcessEnv): (fingerprint: string) => Promise<string | null> {
  let cached: Promise<string | null> | null = null;
  return (fingerprint) => (cached ??= readPassphrase(options, `Passphrase for ${fingerprint}: `, env));
}

async function loadSecretKeys(files: readonly string[], option: string, passphrase: (fingerprint: string) => Promise<string | null>): Promise<openpgp.PrivateKey[]> {
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

/** Input is read this much at a time: large enough to hold many blocks, small next to any RAM. */
const READ_CHUNK = 16 * 1024 * 1024;

async function readChunk(handle: fsp.FileHandle): Promise<Buffer | null> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK, null);
  return bytesRead === 0 ? null : chunk.subarray(0, bytesRead);
}
