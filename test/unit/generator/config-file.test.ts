import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli.ts';
import { mergeConfig, readConfigFile } from '../../../generator/config-file.ts';
import { runEncrypterCommand } from '../../../generator/encrypter-command.ts';
import { rawOptions, type RawEncrypterOptions } from '../../../generator/options.ts';
import { optionsDigest } from '../../../runtime/describe.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { ROOT, tempDir } from '../../helpers/cli.ts';
import { fakeSystem } from '../../helpers/fake-system.ts';
import { makeKey } from '../../helpers/keys.ts';

const tmp = tempDir();
const uid = process.getuid?.() ?? 0;
const system = () => fakeSystem({}, uid);
const quiet = { out: () => undefined, err: () => undefined };
let keyFile: string;
let n = 0;
const fresh = (name: string) => join(tmp.path, `${(n += 1)}-${name}`);

beforeAll(async () => {
  keyFile = join(tmp.path, 'admin.pub.asc');
  writeFileSync(keyFile, (await makeKey('config@example.org')).publicArmored);
});
afterAll(() => tmp.dispose());

function configFile(content: unknown, mode = 0o600, dir = tmp.path): string {
  const path = join(dir, `${(n += 1)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

function errorOf(fn: () => unknown): PipesError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PipesError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t), env: {}, stdin: async () => Buffer.alloc(0), writeData: async () => undefined });
  return { code, out, err };
}

const read = (path: string) => readConfigFile(path, { cwd: tmp.path, uid });

describe('--config: reading', () => {
  it('reads the long option names; lists, single strings and flags; relative paths from the file’s directory', () => {
    const sub = join(tmp.path, 'etc');
    mkdirSync(sub, { mode: 0o700 });
    const file = read(configFile({ 'recipient-key': 'keys/admin.asc', pipe: '/run/pp/www.pipe', output: 'www.log.asc', header: ['# a', '# b'], 'mail-to': 'ops@example.org', binary: true, start: false, 'pipe-mode': '620' }, 0o600, sub));
    expect(file.options).toEqual({
      recipientKey: [join(sub, 'keys/admin.asc')],
      pipe: '/run/pp/www.pipe',
      output: join(sub, 'www.log.asc'),
      header: ['# a', '# b'],
      mailTo: ['ops@example.org'],
      binary: true,
      pipeMode: '620',
    });
  });

  it.each([
    ['a camelCase key', { recipientKey: 'k.asc' }, 'CONFIG_UNKNOWN_KEY', /unknown key "recipientKey" \(did you mean "recipient-key"\?\)/],
    ['a key with its dashes', { '--pipe': '/p' }, 'CONFIG_UNKNOWN_KEY', /unknown key "--pipe" \(did you mean "pipe"\?\)/],
    ['a number for a mode', { 'pipe-mode': 620 }, 'CONFIG_BAD_TYPE', /key "pipe-mode" must be a string \(quote it: "620"\), got the number 620/],
    ['a list for a single option', { pipe: ['/a', '/b'] }, 'CONFIG_BAD_TYPE', /key "pipe" must be a string, got a list/],
    ['a string for a flag', { binary: 'yes' }, 'CONFIG_BAD_TYPE', /key "binary" must be true or false, got the string "yes"/],
    ['a number in a list', { header: ['# a', 5] }, 'CONFIG_BAD_TYPE', /key "header" must be a list of strings, but item 2 is the number 5/],
    ['--config inside a config', { config: 'other.json' }, 'CONFIG_KEY_NOT_ALLOWED', /key "config" is not allowed in a config file/],
    ['--save-config inside a config', { 'save-config': 'x.json' }, 'CONFIG_KEY_NOT_ALLOWED', /key "save-config" is not allowed/],
    ['--help inside a config', { help: true }, 'CONFIG_KEY_NOT_ALLOWED', /key "help" is not allowed/],
    ['a key named like an Object property', { constructor: 'x' }, 'CONFIG_UNKNOWN_KEY', /unknown key "constructor"/],
    ['a list at the top', ['pipe'], 'CONFIG_NOT_OBJECT', /must hold one JSON object/],
    ['a duplicate key', '{\n  "pipe": "/a",\n  "pipe": "/b"\n}', 'CONFIG_BAD_JSON', /line 3, column 3: key "pipe" appears twice/],
    ['a missing comma', '{\n  "pipe": "/a"\n  "output": "/b"\n}', 'CONFIG_BAD_JSON', /line 3, column 3: unexpected character "\\"": ',' or '}' was expected/],
    ['single quotes', "{'pipe': '/a'}", 'CONFIG_BAD_JSON', /line 1, column 2: unexpected character "'": a key in double quotes was expected/],
  ])('refuses %s with exit 2', (_what, content, code, message) => {
    const err = errorOf(() => read(configFile(content)));
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
  });

  it('refuses, exit 3: a symlink, a group-writable file, a file of another user', () => {
    const target = configFile({ pipe: '/a' });
    const link = fresh('link.json');
    symlinkSync(target, link);
    expect(errorOf(() => read(link))).toMatchObject({ code: 'CONFIG_SYMLINK', exitCode: 3 });
    expect(errorOf(() => read(configFile({ pipe: '/a' }, 0o620)))).toMatchObject({ code: 'CONFIG_WRITABLE', exitCode: 3 });
    // Someone else's file: as root, one given to nobody; otherwise read as if another uid ran this.
    const foreign = configFile({ pipe: '/a' });
    if (uid === 0) chownSync(foreign, 65534, 65534);
    expect(errorOf(() => readConfigFile(foreign, { cwd: tmp.path, uid: uid === 0 ? 0 : uid + 4242 }))).toMatchObject({ code: 'CONFIG_OWNER', exitCode: 3 });
  });

  it.runIf(uid === 0)('refuses, exit 3: a file whose directory chain another user could change (root only)', () => {
    // The file is root's and private, but www-data owns a directory above it: it could rename the
    // file away and put its own options in its place before root runs the generator again.
    const theirs = fresh('www-data-dir');
    mkdirSync(theirs, { mode: 0o755 });
    const inner = join(theirs, 'etc');
    mkdirSync(inner, { mode: 0o755 });
    const file = configFile({ pipe: '/a' }, 0o600, inner);
    expect(read(file).options).toEqual({ pipe: '/a' });
    chownSync(theirs, 33, 33);
    expect(errorOf(() => read(file))).toMatchObject({ code: 'CHAIN_OWNER', exitCode: 3 });
  });

  it('refuses, exit 3: a quit string that group or others can read', () => {
    expect(errorOf(() => read(configFile({ 'quit-string': 'a-secret-quit' }, 0o644)))).toMatchObject({ code: 'CONFIG_SECRET_READABLE', exitCode: 3 });
    expect(read(configFile({ pipe: '/a' }, 0o644)).options).toEqual({ pipe: '/a' }); // nothing secret in it
  });

  it('a missing file: exit 2, naming it', () => {
    const err = errorOf(() => read(join(tmp.path, 'nope.json')));
    expect(err).toMatchObject({ code: 'CONFIG_UNREADABLE', exitCode: 2 });
    expect(err.message).toMatch(/nope\.json.*ENOENT/);
  });
});

describe('--config: the README example', () => {
  it('is a config file --config reads', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /## Config files[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const file = read(configFile(example!));
    expect(file.options).toMatchObject({ pipe: '/run/paranoid-pipes/www.pipe', runAs: 'pplog', header: ['# www.example.org access log'] });
  });
});

describe('--config: merging', () => {
  const file = (options: Partial<RawEncrypterOptions>) => ({ path: '/etc/pp.json', options });

  it('the command line wins key by key; its list replaces the file’s list', () => {
    const merged = mergeConfig({ pipe: '/cli.pipe', header: ['# cli'] }, file({ pipe: '/file.pipe', output: '/file.log', header: ['# f1', '# f2'] }));
    expect(merged).toEqual({ pipe: '/cli.pipe', output: '/file.log', header: ['# cli'] });
  });

  it('--armor or --binary on the command line drops both from the file', () => {
    expect(mergeConfig({ armor: true }, file({ binary: true }))).toEqual({ armor: true });
    expect(mergeConfig({}, file({ binary: true }))).toEqual({ binary: true });
  });
});

describe('--save-config', () => {
  const now = new Date();
  const deps = { system: system(), cwd: tmp.path, now, nodePath: '/usr/bin/node' };

  it('--save-config then --config gives the same options digest (dry run writes only the config, mode 600)', async () => {
    const saved = fresh('saved.json');
    const given = rawOptions({
      recipientKey: [keyFile],
      pipe: 'www.pipe', // relative to the cwd: saved absolute
      output: join(tmp.path, 'www.log.asc'),
      savePath: join(tmp.path, 'www.mjs'),
      pipeMode: '620',
      quitString: 'a-secret-quit-string',
      header: ['# www', '# second'],
      binary: true,
      runAs: 'pplog',
      maxBuffer: '16M',
      onOverload: 'drop',
      rotateSize: '8388608',
      rotateInterval: '3600s',
      rotateCheckEvery: '25000',
      rotateActions: 'compress-encrypt,encrypted-email,remove-old',
      archiveDir: join(tmp.path, 'archive'),
      mailTo: ['ops@example.org'],
      mailFrom: 'pp@example.org',
      saveConfig: saved,
      help: true,
    });
    const first = await runEncrypterCommand(given, quiet, deps);
    const st = statSync(saved);
    expect(st.mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(saved, 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({ 'recipient-key': [keyFile], pipe: join(tmp.path, 'www.pipe'), 'quit-string': 'a-secret-quit-string', binary: true, 'rotate-size': '8M', 'rotate-interval': '1h', 'pipe-mode': '620', 'output-mode': '640' });
    expect(Object.keys(json)).not.toContain('help');

    const again = await runEncrypterCommand(rawOptions(mergeConfig({ help: true }, read(saved))), quiet, deps);
    expect(optionsDigest(again.baked)).toBe(optionsDigest(first.baked));
    expect(again.save).toEqual(first.save);
  });

  it('--save-config keeps filters, the monitor and the mailed report (its mail options without rotation)', async () => {
    const saved = fresh('saved-report.json');
    const watched = join(tmp.path, 'watched');
    mkdirSync(watched, { recursive: true });
    const given = rawOptions({
      recipientKey: [keyFile],
      pipe: join(tmp.path, 'r.pipe'),
      output: join(tmp.path, 'r.log.asc'),
      savePath: join(tmp.path, 'r.mjs'),
      ignore: ['health', '^DEBUG'],
      keep: ['GET'],
      monitor: [watched],
      monitorEvery: '10m',
      reportEvery: '1d',
      mailTo: ['ops@example.org'],
      mailFrom: 'pp@example.org',
      mailTransport: 'smtp://127.0.0.1:25',
      saveConfig: saved,
      help: true,
    });
    const first = await runEncrypterCommand(given, quiet, deps);
    const json = JSON.parse(readFileSync(saved, 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({ ignore: ['health', '^DEBUG'], keep: ['GET'], monitor: [watched], 'report-every': '1d', 'mail-to': ['ops@example.org'], 'mail-transport': 'smtp://127.0.0.1:25' });
    const again = await runEncrypterCommand(rawOptions(mergeConfig({ help: true }, read(saved))), quiet, deps);
    expect(optionsDigest(again.baked)).toBe(optionsDigest(first.baked));
  });

  it('refuses an existing file without --force, and one that group or others could read even with it', async () => {
    const saved = fresh('exists.json');
    const base = rawOptions({ recipientKey: [keyFile], pipe: 'x.pipe', output: 'x.log', savePath: 'x.mjs', saveConfig: saved, help: true });
    writeFileSync(saved, '{}', { mode: 0o600 });
    await expect(runEncrypterCommand(base, quiet, deps)).rejects.toMatchObject({ code: 'CONFIG_EXISTS', exitCode: 3 });
    await runEncrypterCommand({ ...base, force: true }, quiet, deps);
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toMatchObject({ pipe: join(tmp.path, 'x.pipe') });
    expect(statSync(saved).mode & 0o777).toBe(0o600);
    chmodSync(saved, 0o640);
    await expect(runEncrypterCommand({ ...base, force: true }, quiet, deps)).rejects.toMatchObject({ code: 'CONFIG_READABLE', exitCode: 3 });
  });

  it('installing: the config is written after the copy, and a failed install leaves none', async () => {
    const saved = fresh('installed.json');
    const copy = fresh('installed.mjs');
    const options = rawOptions({ recipientKey: [keyFile], pipe: 'i.pipe', output: 'i.log', savePath: copy, saveConfig: saved });
    await runEncrypterCommand(options, quiet, deps);
    expect(statSync(copy).mode & 0o777).toBe(0o500);
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toMatchObject({ 'save-path': copy });

    const other = fresh('never.json');
    await expect(runEncrypterCommand({ ...options, saveConfig: other }, quiet, deps)).rejects.toMatchObject({ code: 'SAVE_EXISTS' });
    expect(() => statSync(other)).toThrow(/ENOENT/);
  });

  it.runIf(uid === 0)('refuses a directory below one another user owns (root only)', async () => {
    const theirs = fresh('www-data-owned');
    mkdirSync(join(theirs, 'etc'), { recursive: true, mode: 0o755 });
    chownSync(theirs, 33, 33);
    const base = rawOptions({ recipientKey: [keyFile], pipe: 'z.pipe', output: 'z.log', savePath: 'z.mjs', saveConfig: join(theirs, 'etc', 'c.json'), help: true });
    await expect(runEncrypterCommand(base, quiet, deps)).rejects.toMatchObject({ code: 'CHAIN_OWNER', exitCode: 3 });
    expect(() => statSync(join(theirs, 'etc', 'c.json'))).toThrow(/ENOENT/);
  });

  it('refuses a directory group or others can write', async () => {
    const open = fresh('open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const base = rawOptions({ recipientKey: [keyFile], pipe: 'y.pipe', output: 'y.log', savePath: 'y.mjs', saveConfig: join(open, 'c.json'), help: true });
    await expect(runEncrypterCommand(base, quiet, deps)).rejects.toMatchObject({ code: 'CONFIG_DIR_UNSAFE', exitCode: 3 });
  });
});

describe('paranoid-pipes encrypter --config (CLI)', () => {
  const base = () => ({ 'recipient-key': keyFile, pipe: 'c.pipe', output: 'c.log', 'save-path': 'c.mjs' });

  it('a dry run from a config file, with the command line overriding it', async () => {
    const path = configFile({ ...base(), 'log-level': 'warn' });
    const r = await runCli(['encrypter', '--config', path, '--log-level', 'debug', '--help']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`pipe:         ${join(tmp.path, 'c.pipe')}`);
    expect(r.out).toMatch(/log level: +debug/);
  });

  it('an unknown key, a bad value, an unreadable file: a clear error and exit 2', async () => {
    const unknown = await runCli(['encrypter', '--config', configFile({ ...base(), 'rotate-sise': '8M' }), '--help']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/error \[CONFIG_UNKNOWN_KEY\]: --config ".*": unknown key "rotate-sise" \(did you mean "rotate-size"\?\)/);

    const path = configFile({ ...base(), 'pipe-mode': '666' });
    const bad = await runCli(['encrypter', '--config', path, '--help']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`error [BAD_MODE]: --pipe-mode 666: group and others may only write`);
    expect(bad.err).toContain(`(key "pipe-mode" of --config ${JSON.stringify(path)})`);

    const missing = await runCli(['encrypter', '--config', join(tmp.path, 'missing.json'), '--help']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/error \[CONFIG_UNREADABLE\]: --config ".*missing\.json": cannot read it: ENOENT/);
  });
});
