import { lstatSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { OVERLOAD_POLICIES, type BakedOptions, type BakedOverload, type BakedPath, type LogLevel, type Owner } from '../runtime/baked.ts';
import { errnoCode, refusal, usageError } from '../runtime/errors.ts';
import { octal } from '../runtime/paths.ts';
import { assertTrustedChain } from '../runtime/path-chain.ts';
import { loadRecipients } from './keys.ts';
import type { RawEncrypterOptions } from './options.ts';
import { ownerOfIds, resolveOwner, resolveRunAs } from './owners.ts';
import { resolveForwards } from './forward-options.ts';
import { resolveFilters, resolveMonitor, resolveReport } from './filter-options.ts';
import { resolveWatch } from './watch-options.ts';
import { resolveSession } from './session-options.ts';
import { parseDuration, parseSize, resolveRotation } from './rotation-options.ts';
import { resolveService, type ResolvedService } from './service-options.ts';
import { suggest } from './suggest.ts';
import type { SystemPort } from './system.ts';

/** Everything the generator needs, validated once; nothing downstream re-checks. */
export interface ResolvedEncrypter {
  readonly baked: BakedOptions;
  readonly save: BakedPath;
  readonly force: boolean;
  readonly start: boolean;
  /** --help with other options: print what would be baked, write nothing. */
  readonly dryRun: boolean;
  /** Absolute node binary named in the copy's shebang. */
  readonly nodePath: string;
  /** --systemd-unit / --init-script: what to write for a service manager, or null. */
  readonly service: ResolvedService | null;
  /** --session-profile: where the profile.d snippet goes, or null. */
  readonly sessionProfile?: BakedPath | null;
}

export interface ResolveContext {
  readonly system: SystemPort;
  readonly cwd: string;
  readonly now: Date;
  readonly version: string;
  readonly nodePath: string;
}

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
const COMPRESSIONS = ['zlib', 'none'] as const;
/**
 * A buffer must hold a few 1 MiB blocks to keep the sealing pipeline fed; past 1 GiB it only
 * hides a copy that cannot keep up, at the cost of a huge process.
 */
const MAX_BUFFER_BOUNDS = { min: 2 * 1024 ** 2, minText: '2M', max: 1024 ** 3, maxText: '1G' };
const MIN_QUIT_LENGTH = 8;
/**
 * A longer session-key window saves nothing more (one public-key operation a minute is already
 * negligible) and only widens what one snapshot of the copy's memory opens.
 */
const MAX_SESSION_KEY_WINDOW_MS = 3_600_000;

export async function resolveEncrypterOptions(raw: RawEncrypterOptions, ctx: ResolveContext): Promise<ResolvedEncrypter> {
  if (raw.recipientKey.length === 0 && raw.recipient.length === 0) {
    throw usageError('NO_RECIPIENT', 'give at least one --recipient-key FILE or --recipient EMAIL: the key the logs are encrypted to');
  }
  const pipePath = resolvePipePath(raw, ctx.cwd);
  const outputPath = requiredPath('--output', raw.output, ctx.cwd);
  const savePath = requiredPath('--save-path', raw.savePath, ctx.cwd);
  if (!savePath.endsWith('.mjs')) {
    // The copy is an ES module: node refuses it under .sh (unknown extension) and takes .js or
    // no extension by guesswork that depends on the node version and a package.json nearby.
    throw usageError('SAVE_PATH_EXTENSION', `--save-path must end in .mjs: the copy is a Node.js ES module and node runs it only under that name, got ${JSON.stringify(raw.savePath)}`);
  }
  assertDistinct({ ...(pipePath === null ? {} : { '--pipe': pipePath }), '--output': outputPath, '--save-path': savePath });

  const pipeMode = parseMode('--pipe-mode', raw.pipeMode ?? '600', checkPipeMode);
  const outputMode = parseMode('--output-mode', raw.outputMode ?? '640', checkOutputMode);
  const saveMode = parseMode('--save-mode', raw.saveMode ?? '500', checkSaveMode);
  const compress = oneOf('--compress', raw.compress ?? 'zlib', COMPRESSIONS);
  const logLevel = oneOf('--log-level', raw.logLevel ?? 'info', LOG_LEVELS);
  const overload: BakedOverload = {
    maxBufferBytes: parseSize('--max-buffer', raw.maxBuffer ?? '8M', MAX_BUFFER_BOUNDS),
    policy: oneOf('--on-overload', raw.onOverload ?? 'block', OVERLOAD_POLICIES),
  };
  const sessionKeyWindowMs = parseSessionKeyWindow(raw.sessionKeyWindow ?? '60s');
  if (raw.armor === true && raw.binary === true) throw usageError('ARMOR_AND_BINARY', '--armor and --binary exclude each other: pick one');
  const quitString = raw.quitString === undefined ? null : checkQuitString(raw.quitString);
  const heartbeatMs = raw.heartbeat === undefined ? null : checkHeartbeat(parseDuration('--heartbeat', raw.heartbeat), raw.heartbeat);
  const header = raw.header.map((line, i) => checkLine(`--header #${i + 1}`, line));

  const saveOwner = raw.saveOwner === undefined ? await ownerOfIds(ctx.system.uid, ctx.system.gid, ctx.system) : await resolveOwner('--save-owner', raw.saveOwner, ctx.system);
  const runAs = await resolveRunAs('--run-as', raw.runAs ?? `${saveOwner.uid}:${saveOwner.gid}`, ctx.system);
  const runAsOwner: Owner = { uid: runAs.uid, gid: runAs.gid, label: runAs.label };
  const pipeOwner = raw.pipeOwner === undefined ? runAsOwner : await resolveOwner('--pipe-owner', raw.pipeOwner, ctx.system);
  const outputOwner = raw.outputOwner === undefined ? runAsOwner : await resolveOwner('--output-owner', raw.outputOwner, ctx.system);
  if (runAs.uid !== 0 && (outputOwner.uid !== runAs.uid || !runAs.groups.includes(outputOwner.gid))) {
    // After the privilege drop, SIGHUP (and rotation) create the output as the run-as user, who
    // can only give it to themselves and to groups they belong to.
    throw usageError(
      'OUTPUT_OWNER_NOT_RUN_AS',
      `--output-owner ${outputOwner.label} must be the run-as user ${runAs.label} and one of its groups (${runAs.groups.join(',')}): the copy recreates the log after dropping privileges`,
    );
  }
  if (ctx.system.uid !== 0 && saveOwner.uid !== ctx.system.uid) {
    throw refusal('NEED_ROOT', `--save-owner ${saveOwner.label}: only root can give the copy to another user`);
  }
  assertJailedDirectory(savePath, saveOwner);
  if (/\s/.test(ctx.nodePath) || !ctx.nodePath.startsWith('/')) {
    throw usageError('NODE_PATH', `the node binary path ${JSON.stringify(ctx.nodePath)} cannot go in a shebang (absolute, no spaces)`);
  }

  const recipients = await loadRecipients(raw.recipientKey, raw.recipient, ctx.system, ctx.now);
  const rotation = await resolveRotation(
    raw,
    { system: ctx.system, now: ctx.now, resolvePath: (option, value) => requiredPath(option, value, ctx.cwd), parseMode: (option, value) => parseMode(option, value, checkOutputMode) },
    recipients,
    outputOwner,
    outputPath,
  );
  const archiveOwner = rotation?.archive?.owner;
  if (archiveOwner !== undefined && runAs.uid !== 0 && (archiveOwner.uid !== runAs.uid || !runAs.groups.includes(archiveOwner.gid))) {
    throw usageError('ARCHIVE_OWNER_NOT_RUN_AS', `--archive-owner ${archiveOwner.label} must be the run-as user ${runAs.label} and one of its groups: the copy writes archives after dropping privileges`);
  }
  const forward = resolveForwards(raw.forward, ctx.cwd);
  const filters = resolveFilters(raw);
  const monitor = await resolveMonitor(raw, ctx.cwd, outputPath);
  const report = resolveReport(raw);
  const watch = resolveWatch(raw, { pipe: pipePath, output: outputPath, save: savePath });
  const sessions = resolveSession(raw, { pipe: pipePath, output: outputPath, save: savePath }, await ownerOfIds(ctx.system.uid, ctx.system.gid, ctx.system));
  const baked: BakedOptions = {
    format: 1,
    copyVersion: ctx.version,
    generatedAt: ctx.now.toISOString(),
    recipients,
    pipe: pipePath === null ? null : { path: pipePath, owner: pipeOwner, mode: pipeMode },
    output: { path: outputPath, owner: outputOwner, mode: outputMode },
    runAs,
    compress,
    armor: raw.binary !== true,
    sessionKeyWindowMs,
    quitString,
    header,
    logLevel,
    overload,
    heartbeatMs,
    rotation,
    saveOwner,
    // Only when given: copies without forwarding bake exactly what they did before.
    ...(forward.length > 0 ? { forward } : {}),
    ...(filters === null ? {} : { filters }),
    ...(monitor === null ? {} : { monitor }),
    ...(report === null ? {} : { report }),
    ...(watch === null ? {} : { watch }),
    ...(sessions.session === null ? {} : { session: sessions.session }),
  };
  const save: BakedPath = { path: savePath, owner: saveOwner, mode: saveMode };
  const force = raw.force === true;
  const dryRun = raw.help === true;
  const service = await resolveService(raw, baked, save, {
    system: ctx.system,
    force,
    dryRun,
    nodePath: ctx.nodePath,
    resolvePath: (option, value) => requiredPath(option, value, ctx.cwd),
  });
  return { baked, save, force, start: raw.start === true, dryRun, nodePath: ctx.nodePath, service, sessionProfile: sessions.profile };
}

/** `0`, or a duration up to an hour. */
function parseSessionKeyWindow(value: string): number {
  if (value === '0') return 0;
  if (!/^[1-9][0-9]*[smhd]$/.test(value)) throw usageError('BAD_DURATION', `--session-key-window must be 0 or a duration like 60s, 5m or 1h, got ${JSON.stringify(value)}`);
  const ms = parseDuration('--session-key-window', value);
  if (ms > MAX_SESSION_KEY_WINDOW_MS) throw usageError('BAD_DURATION', `--session-key-window must be at most 1h, got ${JSON.stringify(value)}`);
  return ms;
}

/**
 * --pipe is needed unless the copy has another source to read (--watch-file, --session-dir); then
 * it may be left out, and the copy makes no FIFO at all. Null: no pipe. The pipe's own options
 * (and the quit string, which is a line written into the pipe) mean nothing without one.
 */
function resolvePipePath(raw: RawEncrypterOptions, cwd: string): string | null {
  if (raw.pipe !== undefined) return requiredPath('--pipe', raw.pipe, cwd);
  if (raw.watchFile.length === 0 && raw.sessionDir === undefined) {
    throw usageError('NO_SOURCE', 'give --pipe PATH (a named pipe the copy creates and reads), --watch-file PATH or --session-dir DIR: the copy needs something to read');
  }
  const pipeOnly: Array<[boolean, string, string]> = [
    [raw.pipeOwner !== undefined, '--pipe-owner', 'there is no pipe to own'],
    [raw.pipeMode !== undefined, '--pipe-mode', 'there is no pipe to give a mode'],
    [raw.quitString !== undefined, '--quit-string', 'it is a line written into the pipe, and this copy has none: it stops on SIGTERM or SIGINT'],
  ];
  for (const [given, option, why] of pipeOnly) {
    if (given) throw usageError('PIPE_OPTION_ALONE', `${option} needs --pipe: ${why}`);
  }
  return null;
}

function requiredPath(option: string, value: string | undefined, cwd: string): string {
  if (value === undefined || value === '') throw usageError('MISSING_OPTION', `${option} is required`);
  if (value.includes('\0') || value.includes('\n')) throw usageError('BAD_PATH', `${option} must not contain NUL or newline characters`);
  return resolvePath(cwd, value);
}

function assertDistinct(paths: Record<string, string>): void {
  const seen = new Map<string, string>();
  for (const [option, path] of Object.entries(paths)) {
    const other = seen.get(path);
    if (other !== undefined) throw usageError('SAME_PATH', `${option} and ${other} name the same path ${JSON.stringify(path)}`);
    seen.set(path, option);
  }
}

function parseMode(option: string, value: string, check: (mode: number) => string | null): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw usageError('BAD_MODE', `${option} must be an octal mode like 640, got ${JSON.stringify(value)}`);
  const mode = Number.parseInt(value, 8);
  const problem = check(mode);
  if (problem !== null) throw usageError('BAD_MODE', `${option} ${octal(mode)}: ${problem}`);
  return mode;
}

/** Reading a FIFO consumes its lines: a group or other reader could steal log lines. */
function checkPipeMode(mode: number): string | null {
  if ((mode & 0o400) === 0) return 'the owner (the copy) must be able to read it (e.g. 600, 620)';
  if ((mode & 0o044) !== 0) return 'group and others may only write: a reader there could take lines before the copy sees them (e.g. 620)';
  if ((mode & 0o111) !== 0) return 'execute bits mean nothing on a pipe; leave them out (e.g. 620)';
  return null;
}

function checkOutputMode(mode: number): string | null {
  if ((mode & 0o200) === 0) return 'the owner must be able to write it (e.g. 640)';
  if ((mode & 0o022) !== 0) return 'group and others must not write the encrypted log: they could truncate or forge it (e.g. 640)';
  if ((mode & 0o111) !== 0) return 'a log is not a program; leave execute bits out (e.g. 640)';
  return null;
}

/** The copy runs with root's rights at start: nobody else may be able to change it. */
function checkSaveMode(mode: number): string | null {
  if ((mode & 0o100) === 0) return 'the owner must be able to execute it (e.g. 500, or 100 when root starts it)';
  if ((mode & 0o022) !== 0) return 'group and others must not be able to modify the copy (e.g. 500)';
  return null;
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const near = suggest(value, allowed);
  throw usageError(
    'BAD_CHOICE',
    `${option} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}${near === null ? '' : ` (did you mean ${near}?)`}`,
  );
}

function checkQuitString(value: string): string {
  checkLine('--quit-string', value);
  if (value.length < MIN_QUIT_LENGTH) {
    throw usageError(
      'WEAK_QUIT_STRING',
      `--quit-string must be at least ${MIN_QUIT_LENGTH} characters: anyone who can write to the pipe and guesses it stops the logging (try: openssl rand -hex 16)`,
    );
  }
  return value;
}

/** One a second at most (each is a sealed message), once a day at least (or the gap proves little). */
const HEARTBEAT_BOUNDS = { minMs: 1000, maxMs: 86_400_000 };

function checkHeartbeat(ms: number, given: string): number {
  if (ms < HEARTBEAT_BOUNDS.minMs || ms > HEARTBEAT_BOUNDS.maxMs) throw usageError('BAD_DURATION', `--heartbeat must be between 1s and 1d, got ${JSON.stringify(given)}`);
  return ms;
}

function checkLine(option: string, value: string): string {
  if (value === '') throw usageError('EMPTY_VALUE', `${option} must not be empty`);
  if (/[\n\r\0]/.test(value)) throw usageError('BAD_LINE', `${option} must be one line (no newline, carriage return or NUL)`);
  return value;
}

/**
 * Root runs the copy: every directory from it up to / must belong to root or the save owner and
 * be writable by nobody else (runtime/path-chain.ts). A missing directory is a usage error of
 * its own, checked first so the message says just that.
 */
function assertJailedDirectory(savePath: string, saveOwner: Owner): void {
  const dir = dirname(savePath);
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    throw usageError('SAVE_DIR_MISSING', `--save-path: directory ${JSON.stringify(dir)} does not exist (${errnoCode(err) ?? String(err)})`);
  }
  if (!st.isDirectory()) throw usageError('SAVE_DIR_MISSING', `--save-path: ${JSON.stringify(dir)} is not a directory (symlinks are refused)`);
  assertTrustedChain(savePath, { uids: [saveOwner.uid], what: '--save-path' }, false);
}
