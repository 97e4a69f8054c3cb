import { constants, promises as fsp } from 'node:fs';
import { LogDecrypter, type Problem } from '../runtime/decrypt/reader.ts';
import { BLOCK_FINDINGS, SealCheck } from '../runtime/decrypt/seal-check.ts';
import { EXIT, errnoCode, usageError } from '../runtime/errors.ts';
import type { CommandIo } from './encrypter-command.ts';
import { feedInputs, loadSecretKeys, orderInputs, passphraseOnce } from './log-inputs.ts';
import type { PassphraseSource } from './passphrase.ts';

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

/** Exit code: 0 all read; 1 some blocks could not be read or their seals are broken (each reported on stderr). */
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
  // Seals are checked as blocks go by: a forged or altered block is still written out, and named.
  let broken = 0;
  let unsealed = 0;
  const seals = new SealCheck((f) => {
    if (f.kind === 'unsealed-stream') unsealed += 1;
    if (!BLOCK_FINDINGS.has(f.kind)) return;
    broken += 1;
    io.err(`paranoid-pipes decrypt: ${f.source}: offset ${f.offset}: ${f.kind}: stream ${f.stream}: ${f.detail}\n`);
  });
  const decrypter = new LogDecrypter(keys, {
    block: (b) => seals.block(b),
    data: (bytes) => write(bytes),
    control: (record) => {
      // k_0 would let whoever reads this re-make every seal of its stream: never printed.
      if (options.showControl === true) io.err(`control: ${JSON.stringify('sealKey' in record ? { ...record, sealKey: '(withheld)' } : record)}\n`);
    },
    problem: (p: Problem) => io.err(`paranoid-pipes decrypt: ${p.source}: offset ${p.offset}: ${p.kind}: ${p.detail}${p.length > 0 ? ` (${p.length} bytes)` : ''}\n`),
  });
  try {
    await feedInputs(decrypter, inputs, archiveKeys, io.stdin);
  } finally {
    await outHandle?.close();
  }
  const s = decrypter.summary;
  if (unsealed > 0) io.err(`paranoid-pipes decrypt: note: ${unsealed} stream(s) written before sealing (pp1): not tamper-evident\n`);
  if (s.problems + broken > 0) {
    io.err(`paranoid-pipes decrypt: ${s.messages} blocks read, ${s.problems + broken} problem(s) reported above\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

