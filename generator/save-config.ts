import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import type { BakedMail, BakedRotation } from '../runtime/baked.ts';
import { errnoCode, PipesError, refusal, usageError } from '../runtime/errors.ts';
import { lstatOrNull, octal } from '../runtime/paths.ts';
import { assertTrustedChain } from '../runtime/path-chain.ts';
import { CONFIG_KEYS } from './config-file.ts';
import type { RawEncrypterOptions } from './options.ts';
import type { ResolvedEncrypter } from './resolve.ts';

type ConfigValue = string | string[] | true;

/**
 * Per-run actions, not part of what the copy is made of: a saved config that said "start" or
 * "force" would surprise whoever reuses it later.
 */
const NOT_SAVED = new Set(['force', 'start', 'config', 'save-config', 'help']);

/**
 * The resolved options as a config file for --config: defaults written out (so a later version
 * with other defaults bakes the same copy), paths absolute, owners as the admin named them. Keys
 * this function does not know (options added later) are written as given, so nothing is lost.
 */
export function configOfResolved(resolved: ResolvedEncrypter, raw: RawEncrypterOptions, cwd: string): Record<string, ConfigValue> {
  const { baked, save } = resolved;
  const absolute = (p: string) => (isAbsolute(p) ? p : resolvePath(cwd, p));
  const known: Record<string, ConfigValue | undefined> = {
    // A copy without a pipe (files or sessions only) saves no pipe keys.
    pipe: baked.pipe?.path,
    'pipe-owner': baked.pipe?.owner.label,
    'pipe-mode': baked.pipe === null ? undefined : octal(baked.pipe.mode),
    output: baked.output.path,
    'output-owner': baked.output.owner.label,
    'output-mode': octal(baked.output.mode),
    'save-path': save.path,
    'save-owner': save.owner.label,
    'save-mode': octal(save.mode),
    compress: baked.compress,
    'quit-string': baked.quitString ?? undefined,
    armor: baked.armor ? true : undefined,
    binary: baked.armor ? undefined : true,
    'run-as': baked.runAs.label,
    'log-level': baked.logLevel,
    'max-buffer': formatSize(baked.overload.maxBufferBytes),
    'on-overload': baked.overload.policy,
    ...rotationConfig(baked.rotation),
    // --report-every uses the same mail options, with or without rotation.
    ...(baked.report === undefined ? {} : mailConfig(baked.report.mail)),
  };
  const out: Record<string, ConfigValue> = {};
  for (const [name, spec] of CONFIG_KEYS) {
    if (NOT_SAVED.has(name)) continue;
    let value: ConfigValue | undefined;
    if (Object.prototype.hasOwnProperty.call(known, name)) {
      value = known[name];
    } else {
      const given = raw[spec.key];
      if (given === undefined || given === false || (Array.isArray(given) && given.length === 0)) continue;
      value = spec.path ? (Array.isArray(given) ? given.map(absolute) : typeof given === 'string' ? absolute(given) : given) : given;
    }
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function rotationConfig(r: BakedRotation | null): Record<string, ConfigValue | undefined> {
  const off = { 'rotate-size': undefined, 'rotate-check-every': undefined, 'rotate-interval': undefined, 'rotate-actions': undefined };
  if (r === null) return { ...off, 'archive-dir': undefined, 'archive-owner': undefined, 'archive-mode': undefined, 'mail-to': undefined, 'mail-from': undefined, 'mail-transport': undefined };
  return {
    'rotate-size': r.maxBytes === null ? undefined : formatSize(r.maxBytes),
    'rotate-check-every': String(r.checkEvery),
    'rotate-interval': r.intervalMs === null ? undefined : formatDuration(r.intervalMs),
    'rotate-actions': r.actions.join(','),
    'archive-dir': r.archive?.path,
    'archive-owner': r.archive?.owner.label,
    'archive-mode': r.archive === null ? undefined : octal(r.archive.mode),
    ...(r.mail === null ? { 'mail-to': undefined, 'mail-from': undefined, 'mail-transport': undefined } : mailConfig(r.mail)),
  };
}

function mailConfig(mail: BakedMail): Record<string, ConfigValue> {
  return { 'mail-to': [...mail.to], 'mail-from': mail.from, 'mail-transport': mail.transport.kind === 'smtp' ? mail.transport.url : mail.transport.path };
}

export function formatSize(bytes: number): string {
  for (const [unit, size] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) if (bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.ceil(ms / 1000)}s`;
}

/**
 * Writes the config file. It holds the quit string, a secret, so: created mode 600 with
 * O_EXCL|O_NOFOLLOW (nothing already there is followed or reused), fsynced, in a directory only
 * root or the current user can write (anyone else could swap the file that root reads back). An
 * existing file is replaced only with --force, through a new file renamed over it; one that group
 * or others could read is refused outright: its secret may already be out.
 */
export function writeConfigFile(path: string, config: Record<string, ConfigValue>, options: { force: boolean; uid: number }): void {
  const where = `--save-config ${JSON.stringify(path)}`;
  const exists = checkConfigTarget(path, options);
  const text = `${JSON.stringify(config, null, 2)}\n`;
  const target = exists ? `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp` : path;
  writeNew(target, text, where);
  if (target !== path) {
    try {
      renameSync(target, path);
    } catch (err) {
      unlinkSync(target);
      throw new PipesError('CONFIG_WRITE', `${where}: cannot replace it: ${errnoCode(err) ?? String(err)}`);
    }
  }
  syncDirectory(dirname(path));
}

/**
 * Everything that would refuse the write, checked without writing: run before the copy is
 * installed, so a config that cannot be saved stops the run before anything is written.
 * Returns whether a file is there already (to be replaced).
 */
export function checkConfigTarget(path: string, options: { force: boolean; uid: number }): boolean {
  const where = `--save-config ${JSON.stringify(path)}`;
  assertPrivateDirectory(path, options.uid, where);
  const existing = lstatOrNull(path);
  if (existing === null) return false;
  if (!existing.isFile()) throw refusal('CONFIG_EXISTS', `${where} exists and is not a regular file (a symlink, say); nothing was written`);
  if ((existing.mode & 0o077) !== 0) {
    throw refusal('CONFIG_READABLE', `${where} exists with mode ${octal(existing.mode & 0o777)}: group or others could read it, and with it the quit string; remove it (and choose a new quit string) first`);
  }
  if (!options.force) throw refusal('CONFIG_EXISTS', `${where} exists; give --force to replace it`);
  return true;
}

function writeNew(path: string, text: string, where: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') throw refusal('CONFIG_EXISTS', `${where}: something appeared at ${JSON.stringify(path)} while writing; nothing was written`);
    throw new PipesError('CONFIG_WRITE', `${where}: cannot create it: ${code ?? String(err)}`);
  }
  try {
    fchmodSync(fd, 0o600); // exact, whatever the umask
    const bytes = Buffer.from(text);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(path);
    throw new PipesError('CONFIG_WRITE', `${where}: cannot write it: ${errnoCode(err) ?? String(err)}`);
  }
  closeSync(fd);
}

function assertPrivateDirectory(path: string, uid: number, where: string): void {
  const dir = dirname(path);
  const st = lstatOrNull(dir);
  if (st === null || !st.isDirectory()) throw usageError('CONFIG_DIR_MISSING', `${where}: directory ${JSON.stringify(dir)} does not exist or is not a directory (symlinks are refused)`);
  if (st.uid !== 0 && st.uid !== uid) {
    throw refusal('CONFIG_DIR_UNSAFE', `${where}: directory ${JSON.stringify(dir)} belongs to uid ${st.uid}, who could swap the file; use a directory of root or of uid ${uid}`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw refusal('CONFIG_DIR_UNSAFE', `${where}: directory ${JSON.stringify(dir)} has mode ${octal(st.mode & 0o7777)}: group or others could swap the file; use a directory only its owner can write`);
  }
  // And every directory above it: root reads this file later and bakes what it says.
  assertTrustedChain(path, { uids: [uid], what: '--save-config' }, false);
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
