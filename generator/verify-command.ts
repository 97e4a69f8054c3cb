import { resolveInputs, type Input } from '../runtime/decrypt/inputs.ts';
import { decryptInput, type ReadContext } from '../runtime/decrypt/read-input.ts';
import { LogDecrypter, type Problem } from '../runtime/decrypt/reader.ts';
import { SealCheck, type Finding } from '../runtime/decrypt/seal-check.ts';
import { formatJson, formatText } from '../runtime/decrypt/verify-report.ts';
import { EXIT, usageError } from '../runtime/errors.ts';
import type { DecryptIo } from './decrypt-command.ts';
import { loadSecretKeys, passphraseOnce, type LogKeyOptions } from './log-inputs.ts';

export interface VerifyOptions extends LogKeyOptions {
  readonly json?: boolean;
  /** The last log is still being written: its open tail is a note, not a finding. */
  readonly live?: boolean;
  /** stream:seq:digest values from rotation mail: each must be found. */
  readonly anchor?: readonly string[];
}

/** Problems of the reader that `verify` reports as they are (gaps it finds itself, more precisely). */
const READER_NOTES = new Set(['dropped-lines']);

/**
 * Reads the logs like `decrypt` (same reader, same input order) and checks every seal and every
 * stream. Writes no logged bytes. Exit 0 only when clean; 1 with findings.
 */
export async function runVerifyCommand(files: readonly string[], options: VerifyOptions, io: DecryptIo): Promise<number> {
  if (options.key.length === 0) throw usageError('NO_KEY', 'give --key FILE: the secret key that opens the log');
  if (files.length === 0 && options.archiveDir === undefined) throw usageError('NO_INPUT', 'name the log files to verify (and --archive-dir for archives)');
  const passphrase = passphraseOnce(options, io.env);
  const keys = await loadSecretKeys(options.key, '--key', passphrase);
  const archiveKeys = options.archiveKey !== undefined && options.archiveKey.length > 0 ? await loadSecretKeys(options.archiveKey, '--archive-key', passphrase) : keys;
  // The inputs as decrypt resolves them (directories walked, each log's rotated files first, in
  // rotation order), but files only: a stream has no end to verify against.
  const { inputs, skipped } = await resolveInputs(files, options.archiveDir);
  const stream = inputs.find((i): i is Extract<Input, { kind: 'stream' }> => i.kind === 'stream');
  if (stream !== undefined) throw usageError('VERIFY_STREAM', `verify reads files, and ${JSON.stringify(stream.label)} is ${stream.path === null ? 'standard input' : 'a FIFO'}: save it to a file first`);
  if (inputs.length === 0 && skipped.length === 0) throw usageError('NO_INPUT', `no logs to verify: none named, and no archives in ${JSON.stringify(options.archiveDir)}`);
  const findings: Finding[] = [];
  for (const a of options.anchor ?? []) {
    if (!/^[0-9a-f]{32}:(0|[1-9][0-9]{0,15}):[0-9a-f]{32}$/.test(a)) throw usageError('BAD_ANCHOR', `--anchor must be STREAM:SEQ:DIGEST as rotation mail gives it, got ${JSON.stringify(a)}`);
  }
  // A file in a named directory that is not an encrypted log is not verified: never clean.
  for (const path of skipped) {
    findings.push({ severity: 'error', kind: 'not-a-log', source: path, offset: 0, stream: null, seq: null, detail: 'in a directory given, but no encrypted log (it does not start like an OpenPGP message): not verified' });
  }
  const seals = new SealCheck((f) => void findings.push(f), options.anchor);
  const lastInput = inputs.at(-1);
  const lastSize = options.live === true && lastInput?.kind === 'log' ? lastInput.size : null;
  const lastPath = lastInput?.kind === 'log' ? lastInput.path : null;
  const fromReader = (p: Problem): void => {
    if (p.kind === 'missing-blocks') return;
    // A message being appended right now looks torn: on a live log, only at its very end.
    const tail = lastSize !== null && p.source === lastPath && p.kind === 'torn' && p.offset + p.length >= lastSize;
    const severity = tail || READER_NOTES.has(p.kind) ? 'note' : 'error';
    const kind = tail ? 'open-tail' : p.kind;
    const detail = tail ? `${p.length} bytes of a block still being written (${p.detail})` : p.detail;
    findings.push({ severity, kind, source: p.source, offset: p.offset, stream: null, seq: null, detail });
  };
  const decrypter = new LogDecrypter(keys, { block: (b) => seals.block(b), data: () => {}, control: () => {}, problem: fromReader });
  const ctx: ReadContext = {
    archiveKeys,
    stdin: () => {
      throw new Error('verify reads no stream');
    },
    signal: new AbortController().signal,
    notice: () => {},
  };
  for (const input of inputs) await decryptInput(decrypter, input, ctx, false);
  seals.finish(options.live === true);
  const clean = !findings.some((f) => f.severity === 'error');
  const result = { clean, inputs: inputs.map((i) => (i.kind === 'stream' ? i.label : i.path)), blocks: decrypter.summary.messages, streams: seals.streams, findings };
  io.out(options.json === true ? formatJson(result) : formatText(result));
  return clean ? EXIT.ok : EXIT.failed;
}
