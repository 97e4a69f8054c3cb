import { basename, dirname, relative } from 'node:path';
import type { BakedOptions, BakedPath, Owner } from '../runtime/baked.ts';
import { refusal, usageError } from '../runtime/errors.ts';
import { lstatOrNull, octal, describeFileType } from '../runtime/paths.ts';
import { assertTrustedChain } from '../runtime/path-chain.ts';
import type { RawEncrypterOptions } from './options.ts';
import { suggest } from './suggest.ts';
import type { SystemPort } from './system.ts';

/**
 * How the unit starts the copy.
 * - run-as: systemd starts it as --run-as with every privilege dropped (User=, empty capability
 *   set, system call filter): the locked-down shape. The copy file must be readable and
 *   executable by that user.
 * - root: systemd starts it as root with the few capabilities the copy needs to create its pipe
 *   and log, and the copy drops to --run-as itself. Needed for a copy only root can read (mode 100).
 */
export const UNIT_START_AS = ['run-as', 'root'] as const;
export type UnitStartAs = (typeof UNIT_START_AS)[number];

/** What the unit and the init script are made from; every string is already safe to write. */
export interface ServiceModel {
  readonly copyPath: string;
  /** Null: a copy without a pipe (files or sessions only); nothing waits for a FIFO. */
  readonly pipePath: string | null;
  readonly outputPath: string;
  readonly before: readonly string[];
  readonly startAs: UnitStartAs;
  /** Names (or numbers) for User=, Group=, SupplementaryGroups=. */
  readonly user: string;
  readonly group: string;
  readonly supplementaryGroups: readonly string[];
  readonly runAsIds: { readonly uid: number; readonly gid: number };
  /** Directories the copy writes, split by how systemd provides them. */
  readonly runtimeDirectories: readonly string[];
  readonly logsDirectories: readonly string[];
  readonly readWritePaths: readonly string[];
  /** --session-dir: the copy sets the directory's setgid bit, which RestrictSUIDSGID= forbids. */
  readonly sessions: boolean;
  readonly mail: 'none' | 'smtp' | 'sendmail';
  /** An IP literal of the SMTP host: the only address the unit lets the copy reach. */
  readonly smtpAddress: string | null;
  /** --forward: the copy connects out (NATS) or runs ssh; the unit allows the network. */
  readonly forward: boolean;
  readonly privateTmp: boolean;
  readonly protectHome: 'yes' | 'read-only';
}

export interface ResolvedService {
  readonly model: ServiceModel;
  readonly unit: BakedPath | null;
  readonly initScript: BakedPath | null;
}

/**
 * Characters a path or name may hold to be written into a unit or a shell script as it is:
 * no whitespace, quotes, backslashes, `$` (unit and shell expansion), `%` (unit specifiers),
 * `;` or glob characters. Anything else is refused rather than escaped.
 */
const SAFE_VALUE = /^[A-Za-z0-9._/@+,:=-]+$/;
const UNIT_NAME = /^[A-Za-z0-9:_.@-]+\.(service|socket|target|mount|path|timer)$/;
const ROOT_OWNER: Owner = { uid: 0, gid: 0, label: 'root:root' };

export function assertSafeValue(option: string, value: string): string {
  if (!SAFE_VALUE.test(value) || value.startsWith('-')) {
    throw usageError(
      'UNSAFE_FOR_SERVICE',
      `${option} ${JSON.stringify(value)} cannot be written safely into a unit or init script: use only letters, digits and . _ / @ + , : = -`,
    );
  }
  return value;
}

export async function resolveService(
  raw: RawEncrypterOptions,
  baked: BakedOptions,
  save: BakedPath,
  ctx: { system: SystemPort; force: boolean; dryRun: boolean; nodePath: string; resolvePath: (option: string, value: string) => string },
): Promise<ResolvedService | null> {
  const unitPath = raw.systemdUnit === undefined ? null : ctx.resolvePath('--systemd-unit', raw.systemdUnit);
  const initPath = raw.initScript === undefined ? null : ctx.resolvePath('--init-script', raw.initScript);
  if (unitPath === null && initPath === null) {
    for (const [given, option] of [[raw.serviceBefore.length > 0, '--service-before'], [raw.unitStartAs !== undefined, '--unit-start-as']] as const) {
      if (given) throw usageError('UNUSED_OPTION', `${option} goes with --systemd-unit or --init-script`);
    }
    return null;
  }
  if (raw.start === true) {
    throw usageError('START_WITH_SERVICE', '--start would run a second copy beside the one the service manager starts: leave it out and start the service (systemctl enable --now, or the init script\'s start)');
  }
  if (raw.unitStartAs !== undefined && unitPath === null) throw usageError('UNUSED_OPTION', '--unit-start-as goes with --systemd-unit');
  const startAs = oneOf('--unit-start-as', raw.unitStartAs ?? 'run-as', UNIT_START_AS);
  const before = raw.serviceBefore.map(checkUnitName);
  for (const [option, path] of [['--systemd-unit', unitPath], ['--init-script', initPath]] as const) {
    if (path !== null) checkServiceFile(option, path, save.path, ctx);
  }
  if (initPath !== null) initScriptName(initPath);
  if (unitPath !== null && initPath !== null && unitPath === initPath) throw usageError('SAME_PATH', '--systemd-unit and --init-script name the same path');

  const paths: Array<[string, string]> = [['--save-path', save.path], ...(baked.pipe === null ? [] : [['--pipe', baked.pipe.path] as [string, string]]), ['--output', baked.output.path]];
  if (baked.rotation?.archive) paths.push(['--archive-dir', baked.rotation.archive.path]);
  for (const [option, path] of paths) assertSafeValue(option, path);
  assertNotReadableByWriters(baked, save);
  if (unitPath !== null && startAs === 'run-as') assertRunAsCanStart(baked, save);

  const userShape = unitPath !== null && startAs === 'run-as';
  const dirs = writtenDirectories(baked);
  // Under /run (a tmpfs) the directory is made at every start: systemd does it, owned by User=.
  const runtime = dirs.filter((d) => under('/run', d));
  const logs = userShape ? dirs.filter((d) => under('/var/log', d)) : [];
  const rest = dirs.filter((d) => !runtime.includes(d) && !logs.includes(d));
  for (const top of ['/run', ...(userShape ? ['/var/log'] : [])]) {
    if (dirs.includes(top)) throw usageError('DIRECTORY_OF_ITS_OWN', `the copy's files need a directory of their own under ${top} (e.g. ${top}/paranoid-pipes/), not ${top} itself: systemd gives that directory to the copy's user`);
  }
  // Rotation mail and the mailed report (--report-every) share the mail options.
  const transport = baked.rotation?.mail?.transport ?? baked.report?.mail.transport;
  const smtpHost = transport?.kind === 'smtp' ? new URL(transport.url).hostname.replace(/^\[|\]$/g, '') : null;
  // --monitor paths are only read: ProtectSystem=strict leaves them readable, but a private /tmp
  // or an inaccessible /home would hide them.
  const monitored = baked.monitor?.paths ?? [];
  // Watched files are read through the unit's read-only view of the system; --consume writes them.
  // Their directories, not the files: a file bound into the unit would hide logrotate's new one.
  const watched = [...new Set((baked.watch?.files ?? []).map((f) => dirname(f)))];
  const tmpPaths = [save.path, ...dirs, ctx.nodePath, ...monitored, ...watched].some((p) => under('/tmp', p) || under('/var/tmp', p));
  const extraGroups = [...(baked.pipe === null ? [] : [baked.pipe.owner.gid]), baked.output.owner.gid, ...(baked.rotation?.archive ? [baked.rotation.archive.owner.gid] : [])];
  return {
    model: {
      copyPath: save.path,
      pipePath: baked.pipe?.path ?? null,
      outputPath: baked.output.path,
      before,
      startAs,
      user: await nameOf(ctx.system, 'passwd', baked.runAs.uid),
      group: await nameOf(ctx.system, 'group', baked.runAs.gid),
      runAsIds: { uid: baked.runAs.uid, gid: baked.runAs.gid },
      supplementaryGroups: await Promise.all([...new Set(extraGroups.filter((g) => g !== baked.runAs.gid))].map((g) => nameOf(ctx.system, 'group', g))),
      runtimeDirectories: runtime.map((d) => relative('/run', d)),
      logsDirectories: logs.map((d) => relative('/var/log', d)),
      readWritePaths: baked.watch?.consume === true ? [...new Set([...rest, ...watched])] : rest,
      sessions: baked.session !== undefined,
      mail: transport === undefined ? 'none' : transport.kind,
      smtpAddress: smtpHost !== null && /^[0-9.]+$|:/.test(smtpHost) ? smtpHost : null,
      forward: (baked.forward ?? []).length > 0,
      privateTmp: !tmpPaths,
      protectHome: ['/home', '/root', '/run/user'].some((h) => [ctx.nodePath, save.path, ...monitored, ...watched].some((p) => under(h, p))) ? 'read-only' : 'yes',
    },
    unit: unitPath === null ? null : { path: unitPath, owner: ROOT_OWNER, mode: 0o644 },
    initScript: initPath === null ? null : { path: initPath, owner: ROOT_OWNER, mode: 0o755 },
  };
}

/** The name in the LSB header and the pidfile: the script's file name. */
export function initScriptName(scriptPath: string): string {
  const name = basename(scriptPath);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw usageError('BAD_INIT_NAME', `--init-script: the file name ${JSON.stringify(name)} must be letters, digits, . _ - (it names the service)`);
  return name;
}

function checkUnitName(name: string): string {
  if (UNIT_NAME.test(name)) return name;
  const hint = /^[A-Za-z0-9:_.@-]+$/.test(name) ? ` (did you mean ${name}.service?)` : '';
  throw usageError('BAD_UNIT_NAME', `--service-before must be a unit name like nginx.service, got ${JSON.stringify(name)}${hint}`);
}

/** Root reads the unit and runs the init script: same chain rules as the copy, root only. */
function checkServiceFile(option: string, path: string, savePath: string, ctx: { system: SystemPort; force: boolean; dryRun: boolean }): void {
  assertSafeValue(option, path);
  if (path === savePath) throw usageError('SAME_PATH', `${option} and --save-path name the same path`);
  const dir = lstatOrNull(dirname(path));
  if (dir === null || !dir.isDirectory()) throw usageError('SERVICE_DIR_MISSING', `${option}: directory ${JSON.stringify(dirname(path))} does not exist`);
  assertTrustedChain(path, { uids: [], what: option }, false);
  const existing = lstatOrNull(path);
  if (existing !== null && (!ctx.force || existing.isDirectory())) {
    throw refusal('SERVICE_FILE_EXISTS', `${option} ${JSON.stringify(path)} already exists (${describeFileType(existing)})${existing.isDirectory() ? '' : '; add --force to replace it'}`);
  }
  if (!ctx.dryRun && ctx.system.uid !== 0) throw refusal('NEED_ROOT', `${option}: only root can install a file owned by root, which root then reads or runs`);
}

/** Directories the copy creates files in, after its privileges are dropped too. */
function writtenDirectories(baked: BakedOptions): string[] {
  const dirs = [...(baked.pipe === null ? [] : [dirname(baked.pipe.path)]), dirname(baked.output.path)];
  if (baked.rotation?.archive) dirs.push(baked.rotation.archive.path);
  // The copy makes its session directory itself, in this one.
  if (baked.session !== undefined) dirs.push(dirname(baked.session.dir));
  return [...new Set(dirs)];
}

function under(parent: string, path: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

/**
 * The quit string is inside the copy: whoever can read it can stop the logging. The writers get
 * in through the pipe's group, so that group (and others) must not be able to read the copy.
 */
function assertNotReadableByWriters(baked: BakedOptions, save: BakedPath): void {
  if (baked.quitString === null || baked.pipe === null) return;
  const byOthers = (save.mode & 0o004) !== 0;
  // Group writers are members of the pipe's group: if that is the copy's group too, they read it.
  const byWriters = (save.mode & 0o040) !== 0 && save.owner.gid === baked.pipe.owner.gid && (baked.pipe.mode & 0o020) !== 0;
  if (byOthers || byWriters) {
    throw refusal(
      'COPY_READABLE_BY_WRITERS',
      `--save-mode ${octal(save.mode)} with --save-owner ${save.owner.label} lets ${byOthers ? 'every user' : `the writers' group (${baked.pipe.owner.gid})`} read the copy and its quit string; use --save-owner root:<run-as group> --save-mode 550 with writers in a group of their own (--pipe-owner <run-as user>:www-data)`,
    );
  }
}

/** In the run-as shape nothing runs as root: the run-as user must be able to read and run the copy, and create the pipe itself. */
function assertRunAsCanStart(baked: BakedOptions, save: BakedPath): void {
  const { runAs } = baked;
  const fix = `use --save-owner root:<run-as group> --save-mode 550 (root owns it, the run-as group reads and runs it), or --unit-start-as root (the copy starts as root and drops privileges itself)`;
  if (runAs.uid === 0) throw usageError('UNIT_RUN_AS_ROOT', `--unit-start-as run-as with --run-as ${runAs.label} (root) would give the copy root for good; choose a --run-as user, or --unit-start-as root`);
  const bits = save.owner.uid === runAs.uid ? (save.mode >> 6) & 7 : runAs.groups.includes(save.owner.gid) ? (save.mode >> 3) & 7 : save.mode & 7;
  if ((bits & 5) !== 5) {
    throw refusal(
      'UNIT_CANNOT_START',
      `the unit starts the copy as ${runAs.label}, who cannot read and execute it (--save-owner ${save.owner.label}, --save-mode ${octal(save.mode)}; a script needs both): ${fix}`,
    );
  }
  if (baked.pipe !== null && baked.pipe.owner.uid !== runAs.uid) {
    throw usageError('UNIT_PIPE_OWNER', `--pipe-owner ${baked.pipe.owner.label}: started as ${runAs.label}, the copy can only create its pipe as that user (the writers get in through the group); or use --unit-start-as root`);
  }
}

async function nameOf(system: SystemPort, db: 'passwd' | 'group', id: number): Promise<string> {
  const name = (await system.getent(db, String(id)))?.split(':')[0];
  return assertSafeValue(db === 'passwd' ? 'user name' : 'group name', name !== undefined && name !== '' ? name : String(id));
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  const near = suggest(value, allowed);
  throw usageError('BAD_CHOICE', `${option} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}${near === null ? '' : ` (did you mean ${near}?)`}`);
}
