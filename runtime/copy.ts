import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { BakedOptions } from './baked.ts';
import { openAppender, type Appender } from './appender.ts';
import { COPY_LIMITS } from './copy-limits.ts';
import { CopySession } from './copy-session.ts';
import { attachParts } from './copy-parts.ts';
import { countingErrors } from './report/error-count.ts';
import { describeBaked } from './describe.ts';
import { youngGenerationMayGrow } from './heap-tuning.ts';
import { isoDatesFromUtcFields } from './iso-date.ts';
import { createEncryptor, endingKeyWindows } from './encryptor.ts';
import { loadSealingKeys } from './seal/recipient-keys.ts';
import { describeFailure, EXIT, usageError } from './errors.ts';
import { openFifo, removeOwnFifo } from './fifo.ts';
import { createLogger, type Logger } from './log.ts';
import { assertSafeDirectory } from './paths.ts';
import { assertOwnFileTrusted } from './path-chain.ts';
import { dropPrivileges } from './privileges.ts';
import { loadNodemailer } from './rotation/mail.ts';
import { assertRotationDirsWritable, createRotation, type Rotation } from './rotation/setup.ts';
import { BlockWriter } from './writer.ts';
import { copySources, type CopySources } from './sources/setup.ts';
import { anchorOf, newSealKey, SealChain } from './seal/chain.ts';
import { openLinkFile, type LinkFile } from './seal/link-file.ts';
import { assertForwardDirWritable, createForwarding, type Forwarding } from './sinks/forward/setup.ts';

const PROGRAM = 'paranoid-pipes copy';

/**
 * Entry of a generated copy. The template calls this with the baked options; it returns the
 * exit code. It takes no option that changes what it does.
 */
export async function runCopy(baked: BakedOptions, argv: readonly string[], selfUrl: string): Promise<number> {
  youngGenerationMayGrow(false);
  // Keeps ICU's time-zone data out of memory (iso-date.ts).
  isoDatesFromUtcFields();
  // Diagnostics must never kill the copy: a closed stderr (detached start) is ignored.
  process.stderr.on('error', () => {});
  const log = createLogger(baked.logLevel, (line) => process.stderr.write(line));
  try {
    const early = handleArgv(baked, argv);
    if (early !== null) return early;
    assertOwnFileTrusted(baked, selfUrl);
    return await serve(baked, log);
  } catch (err) {
    const { text, exitCode } = describeFailure(err, PROGRAM);
    process.stderr.write(`${text}\n`);
    return exitCode;
  }
}

function handleArgv(baked: BakedOptions, argv: readonly string[]): number | null {
  if (argv.length === 0) return null;
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    const stop = baked.pipe === null ? 'SIGTERM or SIGINT (it has no pipe, so no quit string)' : 'SIGTERM or its quit string';
    process.stdout.write(`${describeBaked(baked)}\nThis copy takes no options: everything above is baked. Stop it with ${stop}; SIGHUP reopens the output.\n`);
    return EXIT.ok;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${baked.copyVersion}\n`);
    return EXIT.ok;
  }
  throw usageError(
    'COPY_TAKES_NO_OPTIONS',
    `this copy takes no options (got ${JSON.stringify(argv.join(' '))}); its behaviour is baked: generate a new copy to change it. Only --help and --version are accepted.`,
  );
}

async function serve(baked: BakedOptions, diagnostics: Logger): Promise<number> {
  // Error diagnostics are counted for the mailed report (--report-every).
  const { log, counts: errorCounts } = countingErrors(diagnostics);
  // Everything we create is born private; fchmod then gives the exact baked modes.
  process.umask(0o077);
  const streamId = randomBytes(16).toString('hex');
  // Late-bound: the keys, the appender, the writer, the trigger and the rotator each need one of
  // the others. Events from before the stream starts are recorded right after its stream-start.
  let session: CopySession | null = null;
  const early: Array<[string, string]> = [];
  const record = (event: string, detail: string) => (session === null ? void early.push([event, detail]) : session.recordEvent(event, detail));
  const onKeysExpired = (what: string) => (detail: string) => {
    log.warn('KEY_EXPIRED', `${what}: ${detail}`);
    record('recipient-key-expired', `${what}: ${detail}`);
  };
  const generatedAt = new Date(baked.generatedAt);
  // openpgp.js is evaluated only where it is needed: reports and archives (openpgp.encrypt), or
  // keys the copy cannot encrypt to natively; then at start, so a failure shows now.
  const recipients = await loadSealingKeys(baked.recipients, generatedAt, onKeysExpired('log key'), baked.report !== undefined);
  const encryptor = createEncryptor({ recipients, compress: baked.compress, armor: baked.armor, sessionKeyWindowMs: baked.sessionKeyWindowMs });
  const archiveKeys =
    baked.rotation === null ? null : await (await import('./recipients.ts')).loadRecipientKeys(baked.rotation.recipients.map((r) => r.armoredKey), generatedAt, onKeysExpired('archive key'));
  if (baked.rotation?.archive) assertSafeDirectory(join(baked.rotation.archive.path, 'archive'), 'archive');
  // A copy that mails (archives, reports) loads its mail client now, as it loaded openpgp.js
  // above: a copy that cannot stops here rather than at its first mail.
  if (baked.rotation?.mail != null || baked.report !== undefined) await loadNodemailer();
  // A copy for files or sessions only has no pipe: nothing is made at a pipe path.
  const fifo = baked.pipe === null ? null : await openFifo(baked.pipe);
  let appender: Appender;
  let linkFile: LinkFile | null;
  let sources: CopySources;
  try {
    appender = await openAppender(baked.output, {
      onUncheckable: (reason) => log.warn('OUTPUT_UNCHECKED', reason),
      onReplaced: (reason) => {
        encryptor.endKeyWindow();
        log.warn('OUTPUT_REPLACED', `${reason}; continuing in a fresh log`);
        record('output-replaced', reason);
      },
    });
    // Opened while still privileged: the copy may not be allowed to create files beside the log.
    linkFile = await openLinkFile(baked.output, (why) => {
      log.warn('SEAL_LINK', why);
      record('seal-link-unavailable', why);
    });
    dropPrivileges(baked.runAs, log);
    if (baked.rotation !== null) assertRotationDirsWritable(baked);
    assertForwardDirWritable(baked);
    // After the drop: the position file and the session directory are the run-as user's.
    sources = copySources(baked, (why) => {
      log.warn('WATCH_POSITIONS', why);
      record('watch-positions', why);
    });
  } catch (err) {
    if (baked.pipe !== null && fifo !== null) removeOwnFifo(baked.pipe.path, fifo, log);
    throw err;
  }
  let rotation: Rotation | null = null;
  // k_0 goes into the stream-start block (encrypted to the recipients) and nowhere else; the chain
  // zeroes its buffer at the first seal. The hex string cannot be wiped: see docs/threat-model.md.
  const firstKey = newSealKey();
  const seal = { key: firstKey.toString('hex'), linkFile };
  let forwarding: Forwarding | null = null;
  // Every new log file starts a new session-key window (see endingKeyWindows).
  appender = endingKeyWindows(appender, () => encryptor.endKeyWindow());
  const writer = new BlockWriter({
    encryptor,
    appender,
    streamId,
    chain: new SealChain(streamId, firstKey),
    log,
    limits: COPY_LIMITS,
    ...(sources.marks === null ? {} : { marks: sources.marks }),
    onProgress: () => session?.onWriterProgress(),
    afterAppend: () => {
      forwarding?.notify();
      return rotation?.trigger.afterAppend() ?? Promise.resolve();
    },
  });
  const anchor = () => (writer.stats.lastTag === null ? null : anchorOf(streamId, writer.stats.lastSeq, writer.stats.lastTag));
  // After the drop: position files belong to the run-as user, like the log.
  forwarding = createForwarding(baked, log, record);
  const hold = forwarding === null ? undefined : forwarding.holdAside.bind(forwarding);
  rotation = archiveKeys === null ? null : createRotation(baked, appender, archiveKeys, log, record, anchor, hold);
  session = new CopySession(baked, log, fifo, appender, writer, streamId, rotation, seal, forwarding, sources.groups);
  attachParts(session, baked, streamId, recipients, log, errorCounts);
  try {
    return await session.run(early);
  } finally {
    // The last key is erased at stop, not left for the process's exit.
    encryptor.endKeyWindow();
  }
}

