import { execFile } from 'node:child_process';
import { constants, promises as fsp } from 'node:fs';
import { promisify } from 'node:util';
import type { GpgSessionKeys } from '../runtime/decrypt/gpg-session-keys.ts';
import { resolveInputs, type Input } from '../runtime/decrypt/inputs.ts';
import { BATCH_BYTES, OutputBatch } from '../runtime/decrypt/output-batch.ts';
import { giveBack } from '../runtime/decrypt/open-pool.ts';
import { jsonPresenter } from '../runtime/decrypt/output-json.ts';
import { monitorReportPresenter } from '../runtime/decrypt/monitor-report.ts';
import { textPresenter, type WriteBytes } from '../runtime/decrypt/output-text.ts';
import { Progress } from '../runtime/decrypt/progress.ts';
import type { NatsInput } from '../runtime/decrypt/nats-input.ts';
import { decryptInput } from '../runtime/decrypt/read-input.ts';
import { LogDecrypter, type DecryptSink, type Problem } from '../runtime/decrypt/reader.ts';
import { BLOCK_FINDINGS, SealCheck } from '../runtime/decrypt/seal-check.ts';
import { openToPipe } from '../runtime/decrypt/to-pipe.ts';
import { escapeForTerminal } from '../runtime/decrypt/terminal-safe.ts';
import { SelectingSink } from '../runtime/decrypt/view.ts';
import { rotationIdOf } from '../runtime/rotation/names.ts';
import { EXIT, errnoCode, PipesError, usageError } from '../runtime/errors.ts';
import { resolveForward } from './forward-options.ts';
import { resolveDecryptOptions, type DecryptOptions, type RawDecryptOptions } from './decrypt-options.ts';
import type { CommandIo } from './encrypter-command.ts';
import { loadSecretKeys, passphraseOnce } from './log-inputs.ts';

export type { RawDecryptOptions } from './decrypt-options.ts';

const execFileAsync = promisify(execFile);

export interface DecryptIo extends CommandIo {
  /** Standard input read whole; `stdinStream`, chunk by chunk, is used when given. */
  readonly stdin: () => Promise<Buffer>;
  /** Standard input as it comes (read when "-" or no input is named). */
  readonly stdinStream?: () => AsyncIterable<Uint8Array>;
  readonly writeData: (bytes: Uint8Array) => Promise<void>;
  /**
   * True when writeData's promise resolves only once the bytes are written and nothing reads
   * them any more (process.stdout's write callback): a worker's output buffer can then go back
   * to it to inflate into again. An embedder that keeps the bytes leaves it unset.
   */
  readonly writeDataReleases?: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Whether stderr / stdout are terminals (progress is drawn only for a terminal). */
  readonly errIsTty?: boolean;
  readonly outIsTty?: boolean;
  /**
   * Turns SIGINT/SIGTERM into a clean stop for the run (a follow, a stream, a pipe waiting for
   * its reader); `release` restores the default. Absent in-process: nothing stops the run.
   */
  readonly trapStop?: () => { readonly signal: AbortSignal; readonly release: () => void };
}

/** Exit code: 0 all read; 1 some blocks could not be read or their seals are broken (each reported on stderr). */
export async function runDecryptCommand(files: readonly string[], raw: RawDecryptOptions, io: DecryptIo): Promise<number> {
  const options = resolveDecryptOptions(raw, new Date());
  const local = await resolveInputs(files.length === 0 && options.from === null ? ['-'] : files, options.archiveDir);
  const skipped = local.skipped;
  const inputs: readonly Input[] = options.from === null ? local.inputs : [...local.inputs, natsInput(options)];
  const followed = options.follow ? checkFollow(inputs) : null;
  const passphrase = passphraseOnce(options, io.env);
  const keys = options.gpg ? [] : await loadSecretKeys(options.key, '--key', passphrase);
  const archiveKeys = options.gpg || options.archiveKey === options.key ? keys : await loadSecretKeys(options.archiveKey, '--archive-key', passphrase);
  const gpg = options.gpg ? await localGpg(io.env, (text) => notice(text)) : null;
  const sessionKeyOf = gpg?.sessionKeyOf;

  // Runs that wait (a follow, a stream, a FIFO's reader) stop cleanly on SIGINT/SIGTERM; a run
  // over files keeps the default, so ^C stops it at once.
  const waits = followed !== null || options.output.kind === 'pipe' || inputs.some((i) => i.kind === 'stream' || i.kind === 'nats');
  const trapped = (waits ? io.trapStop?.() : undefined) ?? { signal: new AbortController().signal, release: () => {} };
  const total = inputs.reduce<number | null>((n, i) => (n === null || i.kind === 'stream' || i.kind === 'nats' ? null : n + i.size), 0);
  // Drawn only for a terminal, for a job that ends, and not over text printed to the same terminal.
  const showProgress = !options.quiet && io.errIsTty === true && followed === null && (options.output.kind !== 'stdout' || io.outIsTty !== true);
  const progress = showProgress ? new Progress(io.err, total) : null;
  const say = (text: string) => {
    progress?.clear();
    io.err(text);
  };
  const notice = (text: string) => {
    if (!options.quiet) say(`paranoid-pipes decrypt: ${text}\n`);
  };
  if (skipped.length > 0) notice(`left out ${skipped.length} file(s) that are not encrypted logs: ${skipped.map((s) => JSON.stringify(s)).join(', ')}`);

  const out = await openOutput(options, io, trapped.signal, notice, say);
  // On a terminal nothing is held back: a report on stderr must show between the lines before
  // and after it, and a terminal is slower than the writes batching saves.
  // A worker's output buffer goes back to it once its block is written (`giveBack`): for --output,
  // whose write is done with the bytes when it resolves, and for a stdout that says so (not
  // --to-pipe, whose write resolves when a reader goes away mid-write).
  const releases = options.output.kind === 'file' || (options.output.kind === 'stdout' && io.writeDataReleases === true);
  const batch = new OutputBatch(out.write, options.output.kind === 'stdout' && io.outIsTty === true ? 0 : BATCH_BYTES, releases ? giveBack : undefined);
  const presenter = options.monitorReport
    ? monitorReportPresenter(batch.add, options.format, options.selection)
    : options.format === 'json'
      ? jsonPresenter(batch.add, options.selection)
      : textPresenter(batch.add, options.selection, options.showControl ? say : null);
  const sink = new SelectingSink(options.selection, presenter, {
    reportProblem: (p: Problem) => say(`paranoid-pipes decrypt: ${p.source}: offset ${p.offset}: ${p.kind}: ${p.detail}${p.length > 0 ? ` (${p.length} bytes)` : ''}\n`),
    onBlock: progress === null ? undefined : () => progress.addBlock(),
  });
  // Seals are checked as blocks go by: a forged or altered block is still written out, and named.
  let broken = 0;
  let unsealed = 0;
  const seals = new SealCheck((f) => {
    if (f.kind === 'unsealed-stream') unsealed += 1;
    if (!BLOCK_FINDINGS.has(f.kind)) return;
    broken += 1;
    say(`paranoid-pipes decrypt: ${f.source}: offset ${f.offset}: ${f.kind}: stream ${f.stream}: ${f.detail}\n`);
  });
  const checked: DecryptSink = {
    block: (b) => seals.block(b),
    data: (bytes, meta, info) => sink.data(bytes, meta, info),
    // k_0 would let whoever reads this re-make every seal of its stream: never shown (text or JSON).
    control: (record, meta, info) => sink.control('sealKey' in record ? { ...record, sealKey: '(withheld)' } : record, meta, info),
    problem: (p) => sink.problem(p),
    idle: () => batch.flush(),
  };
  const decrypter = new LogDecrypter(keys, checked, sessionKeyOf);
  const stdin = io.stdinStream ?? (() => wholeStdin(io.stdin));
  const ctx = { archiveKeys, sessionKeyOf, stdin, signal: trapped.signal, notice, onBytes: progress === null ? undefined : (n: number) => progress.addBytes(n) };
  let stopped = false;
  try {
    for (const input of inputs) {
      if (!(await decryptInput(decrypter, input, ctx, input === followed))) {
        stopped = true;
        break;
      }
    }
    await sink.flush();
    await batch.flush();
  } finally {
    progress?.clear();
    trapped.release();
    await batch.flush().catch(() => {}); // after an error: what was decrypted still goes out
    await out.close();
    await gpg?.close();
  }
  if (stopped) notice(`stopped; ${decrypter.summary.messages} blocks read`);
  const s = decrypter.summary;
  if (unsealed > 0) notice(`note: ${unsealed} stream(s) written before sealing (pp1): not tamper-evident`);
  if (s.problems + broken > 0) {
    say(`paranoid-pipes decrypt: ${s.messages} blocks read, ${s.problems + broken} problem(s) reported above\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/**
 * `--follow` follows one log: the last input, a live log (not a rotated file), a stream or
 * the --from subject.
 * Everything before it (its archives, kept and aside files) is read first.
 */
function checkFollow(inputs: readonly Input[]): Input {
  const last = inputs.at(-1);
  const live = inputs.filter((i) => i.kind === 'stream' || i.kind === 'nats' || (i.kind === 'log' && rotationIdOf(i.path) === null));
  if (last === undefined || live.length !== 1 || live[0] !== last) {
    const names = live.map((i) => ('label' in i ? i.label : i.path));
    throw usageError('FOLLOW_ONE_LOG', `--follow follows one live log or "-": give one (with its archives), got ${names.length === 0 ? 'none' : names.map((n) => JSON.stringify(n)).join(', ')}`);
  }
  return last;
}

/** `--from`: the URL as a forwarder reads it (servers, TLS and its CA, credentials file). */
function natsInput(options: DecryptOptions): NatsInput {
  const from = options.from as NonNullable<DecryptOptions['from']>;
  const target = resolveForward(from.url, process.cwd());
  if (target.kind !== 'nats') throw usageError('BAD_FROM', `--from must be a nats:// or tls:// URL, got ${JSON.stringify(from.url)}`);
  return { kind: 'nats', from: target, label: target.label, since: options.selection.since, hosts: options.selection.hosts, logs: from.logs };
}

interface Output {
  readonly write: WriteBytes;
  readonly close: () => Promise<void>;
}

async function openOutput(options: DecryptOptions, io: DecryptIo, signal: AbortSignal, notice: (text: string) => void, say: (text: string) => void): Promise<Output> {
  const target = options.output;
  if (target.kind === 'stdout') {
    if (options.format !== 'text' || options.raw || io.outIsTty !== true) return { write: io.writeData, close: async () => {} };
    // A terminal acts on escape sequences anyone who can write to the pipe may have logged.
    let told = false;
    const write: WriteBytes = async (bytes) => {
      const safe = escapeForTerminal(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (safe !== null && !told) {
        told = true;
        say('paranoid-pipes decrypt: control characters in the log are shown escaped (\\xHH, \\u{HHHH}) on this terminal; --raw prints them as they are\n');
      }
      await io.writeData(safe ?? bytes);
    };
    return { write, close: async () => {} };
  }
  if (target.kind === 'pipe') return openToPipe(target.path, target.mode, signal, notice).then((pipe) => ({ write: (b) => pipe.write(b), close: () => pipe.close() }));
  // Plaintext on the admin's machine: private to its owner, and never over an existing file.
  const handle = await fsp.open(target.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600).catch((err: unknown) => {
    throw usageError('OUTPUT_EXISTS', `--output ${JSON.stringify(target.path)}: ${errnoCode(err) === 'EEXIST' ? 'already exists' : (errnoCode(err) ?? String(err))}`);
  });
  return {
    write: async (bytes) => {
      await handle.write(bytes);
    },
    close: () => handle.close(),
  };
}

/** `--gpg`: the gpg on PATH must run before any block is given to it. */
async function localGpg(env: NodeJS.ProcessEnv, notice: (text: string) => void): Promise<GpgSessionKeys> {
  await execFileAsync('gpg', ['--version'], { env }).catch((err: unknown) => {
    throw new PipesError('GPG_MISSING', `--gpg: cannot run gpg: ${errnoCode(err) ?? (err as Error).message}; install GnuPG or use --key FILE`);
  });
  // The gpg-agent route (Assuan client and all) is loaded only for --gpg.
  return (await import('../runtime/decrypt/gpg-session-keys.ts')).gpgSessionKeys({ env, notice });
}

async function* wholeStdin(read: () => Promise<Buffer>): AsyncIterable<Uint8Array> {
  yield await read();
}
