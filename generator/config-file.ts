import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { errnoCode, PipesError, refusal, usageError } from '../runtime/errors.ts';
import { assertTrustedChain } from '../runtime/path-chain.ts';
import { octal } from '../runtime/paths.ts';
import { JsonTextError, parseJsonText, type JsonValue } from './json-text.ts';
import { ENCRYPTER_OPTIONS, type RawEncrypterOptions } from './options.ts';
import { suggest } from './suggest.ts';

/**
 * `--config FILE.json`: the encrypter's options as a JSON object whose keys are the long option
 * names exactly as on the command line without the dashes ("recipient-key", "rotate-size"), one
 * spelling only. Values: a string; a list of strings (or one string) for repeatable options;
 * true/false for flags (false is the same as leaving the key out). Relative paths are taken
 * from the file's directory, not the current one, so the file means the same wherever it is
 * used from. The command line overrides the file, key by key; a repeatable option given on the
 * command line replaces the file's whole list.
 *
 * Root reads this file and bakes it into a program root starts, so it must be as trusted as the
 * copy: no symlink, a regular file, owned by root or the current user, writable by no one else.
 */
type Key = keyof RawEncrypterOptions;
type Kind = 'flag' | 'value' | 'list';

interface KeySpec {
  readonly key: Key;
  readonly kind: Kind;
  /** The value names a file or directory: resolved against the config file's directory. */
  readonly path: boolean;
}

/** Options that make no sense inside the file they would be read from. */
const NOT_IN_FILE: ReadonlyMap<string, string> = new Map([
  ['config', 'a config file cannot name another one (no includes: one file says everything)'],
  ['save-config', 'saving is an action of one run; give --save-config on the command line'],
  ['help', 'the dry run is an action of one run; give --help on the command line'],
]);
/** Above this it is not a config file; a bound so a wrong path cannot make us read gigabytes. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Long option name ("recipient-key") → how its value is read, from the one option table. */
export const CONFIG_KEYS: ReadonlyMap<string, KeySpec> = new Map(
  Object.entries(ENCRYPTER_OPTIONS).map(([key, spec]) => {
    const name = /--([a-z0-9-]+)/.exec(spec.flags)?.[1] ?? key;
    const placeholder = /<([^>]+)>/.exec(spec.flags)?.[1];
    const kind: Kind = placeholder === undefined ? 'flag' : spec.repeatable === true ? 'list' : 'value';
    return [name, { key: key as Key, kind, path: placeholder === 'path' || placeholder === 'file' || placeholder === 'dir' }];
  }),
);

/** The long option name of a key of the raw options ("recipientKey" → "recipient-key"). */
export function optionName(key: Key): string {
  for (const [name, spec] of CONFIG_KEYS) if (spec.key === key) return name;
  return key;
}

export interface ConfigFile {
  /** Absolute path of the file, for messages. */
  readonly path: string;
  readonly options: Partial<RawEncrypterOptions>;
}

export function readConfigFile(path: string, ctx: { cwd: string; uid: number }): ConfigFile {
  const absolute = resolvePath(ctx.cwd, path);
  const { text, mode } = readTrustedText(absolute, ctx.uid);
  const where = `--config ${JSON.stringify(absolute)}`;
  let json: JsonValue;
  try {
    json = parseJsonText(text);
  } catch (err) {
    if (err instanceof JsonTextError) throw usageError('CONFIG_BAD_JSON', `${where}: not valid JSON: ${err.message}`);
    throw err;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw usageError('CONFIG_NOT_OBJECT', `${where}: must hold one JSON object like {"pipe": "/run/pp/www.pipe"}, got ${Array.isArray(json) ? 'a list' : typeof json}`);
  }
  const options: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(json)) {
    const spec = keySpec(name, where);
    const read = readValue(name, spec, value, where);
    if (read === undefined) continue;
    options[spec.key] = spec.path ? resolvePaths(read, dirname(absolute)) : read;
  }
  if (options.quitString !== undefined && (mode & 0o044) !== 0) {
    // Whoever knows the quit string can stop the logging by writing one line into the pipe.
    throw refusal('CONFIG_SECRET_READABLE', `${where} holds the quit string and has mode ${octal(mode & 0o777)}: group or others can read the secret; chmod 600 it (and consider a new quit string)`);
  }
  return { path: absolute, options: options as Partial<RawEncrypterOptions> };
}

function keySpec(name: string, where: string): KeySpec {
  const why = NOT_IN_FILE.get(name);
  if (why !== undefined) throw usageError('CONFIG_KEY_NOT_ALLOWED', `${where}: key ${JSON.stringify(name)} is not allowed in a config file: ${why}`);
  const spec = CONFIG_KEYS.get(name);
  if (spec !== undefined) return spec;
  const allowed = [...CONFIG_KEYS.keys()].filter((k) => !NOT_IN_FILE.has(k));
  const near = suggest(name, allowed);
  throw usageError(
    'CONFIG_UNKNOWN_KEY',
    `${where}: unknown key ${JSON.stringify(name)}${near === null ? '' : ` (did you mean ${JSON.stringify(near)}?)`}; keys are the long option names without dashes, e.g. "recipient-key"`,
  );
}

function readValue(name: string, spec: KeySpec, value: JsonValue, where: string): string | string[] | true | undefined {
  const bad = (wanted: string): never => {
    throw usageError('CONFIG_BAD_TYPE', `${where}: key ${JSON.stringify(name)} must be ${wanted}, got ${typeName(value)}`);
  };
  if (spec.kind === 'flag') {
    if (typeof value !== 'boolean') return bad('true or false');
    return value ? true : undefined;
  }
  if (spec.kind === 'list') {
    if (typeof value === 'string') return [value];
    if (!Array.isArray(value)) return bad('a list of strings (or one string)');
    return value.map((v, i) => {
      if (typeof v === 'string') return v;
      throw usageError('CONFIG_BAD_TYPE', `${where}: key ${JSON.stringify(name)} must be a list of strings, but item ${i + 1} is ${typeName(v)}`);
    });
  }
  // Numbers are refused on purpose: a mode 640 written as a JSON number reads as decimal to
  // everything but us, and one spelling for every value is easier to check by eye.
  if (typeof value !== 'string') return bad(typeof value === 'number' ? `a string (quote it: "${value}")` : 'a string');
  return value;
}

function typeName(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value === 'number' ? 'the number' : 'the boolean'} ${String(value)}`;
}

function resolvePaths<T extends string | string[] | true>(value: T, base: string): T {
  const one = (p: string) => (p === '' || isAbsolute(p) ? p : resolvePath(base, p));
  if (typeof value === 'string') return one(value) as T;
  if (Array.isArray(value)) return value.map(one) as T;
  return value;
}

/**
 * Opens without following a symlink and without blocking on a FIFO, then checks the opened file
 * itself (fstat), so what is checked is what is read.
 */
function readTrustedText(path: string, uid: number): { text: string; mode: number } {
  const where = `--config ${JSON.stringify(path)}`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP') throw refusal('CONFIG_SYMLINK', `${where} is a symlink; name the file itself (root bakes what it reads)`);
    throw usageError('CONFIG_UNREADABLE', `${where}: cannot read it: ${code ?? String(err)}`);
  }
  try {
    const st = fstatSync(fd);
    assertTrustedConfig(path, st, uid);
    if (st.size > MAX_CONFIG_BYTES) throw usageError('CONFIG_TOO_BIG', `${where} is ${st.size} bytes; a config file is at most ${MAX_CONFIG_BYTES}`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, null);
    return { text: buf.subarray(0, got).toString('utf8'), mode: st.mode };
  } catch (err) {
    if (err instanceof PipesError) throw err;
    throw usageError('CONFIG_UNREADABLE', `${where}: cannot read it: ${errnoCode(err) ?? String(err)}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * THE trust check of a config file, its one call site: the opened file itself, and every
 * directory up to / owned by root or the current user and writable by no one else (whoever can
 * write one of them can swap the file between two runs).
 */
export function assertTrustedConfig(path: string, st: Stats, uid: number): void {
  const where = `--config ${JSON.stringify(path)}`;
  if (!st.isFile()) throw usageError('CONFIG_NOT_FILE', `${where} is not a regular file`);
  assertTrustedChain(path, { uids: [uid], what: '--config' }, false);
  if (st.uid !== 0 && st.uid !== uid) {
    throw refusal('CONFIG_OWNER', `${where} is owned by uid ${st.uid}: only a file of root or of the user running this (uid ${uid}) is trusted, since it decides what root installs`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw refusal('CONFIG_WRITABLE', `${where} has mode ${octal(st.mode & 0o777)}: group or others could change what gets baked; chmod go-w it`);
  }
}

/**
 * Command line over file, key by key. A repeatable option on the command line replaces the file's
 * list (appending would leave no way to drop an entry of the file). --armor and --binary are one
 * choice: either on the command line drops both from the file.
 */
export function mergeConfig(commandLine: Partial<RawEncrypterOptions>, file: ConfigFile | null): Partial<RawEncrypterOptions> {
  if (file === null) return commandLine;
  const fromFile: Record<string, unknown> = { ...file.options };
  if (commandLine.armor !== undefined || commandLine.binary !== undefined) {
    delete fromFile.armor;
    delete fromFile.binary;
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [key, value] of Object.entries(commandLine)) if (value !== undefined) merged[key] = value;
  return merged as Partial<RawEncrypterOptions>;
}

/**
 * A bad value that came from the file is reported by the resolver as "--pipe-mode ...": say
 * where it came from, so the admin looks in the file and not at the command line.
 */
export function blameConfig(err: unknown, commandLine: Partial<RawEncrypterOptions>, file: ConfigFile | null): unknown {
  if (file === null || !(err instanceof PipesError)) return err;
  const name = /^--([a-z0-9-]+)/.exec(err.message)?.[1];
  const spec = name === undefined ? undefined : CONFIG_KEYS.get(name);
  if (spec === undefined || file.options[spec.key] === undefined || commandLine[spec.key] !== undefined) return err;
  return new PipesError(err.code, `${err.message} (key ${JSON.stringify(name)} of --config ${JSON.stringify(file.path)})`, err.exitCode, { cause: err });
}
