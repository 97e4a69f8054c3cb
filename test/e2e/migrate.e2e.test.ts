import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, run, startCopy, tempDir, writerProcess, type RunningCopy } from '../helpers/cli.ts';
import { linesByWriter, range } from '../helpers/e2e.ts';
import { TempGpg } from '../helpers/gpg.ts';
import { makeKey, writeKeyFiles } from '../helpers/keys.ts';
import { SCENARIO_ONE } from '../helpers/scenario-one.ts';

/**
 * The scenario-one Paranoid_Pipes command line, migrated, run through a real shell exactly as
 * printed, then with its paths swapped for temp ones (and its accounts for real ones) generating
 * a copy that works: lines in, stopped by the migrated quit string, every line decrypted.
 */
const isRoot = process.getuid?.() === 0;
const QUIT = 'sOmErAnDoM_sTrInG_wItHoUt_SpAcEs_tHaT_iS_nOt_NoRmAlY_rEaD';
const tmp = tempDir('pp-migrate-');
const gpg = new TempGpg();
let keyFiles: { pub: string; sec: string };
let copy: RunningCopy | null = null;

beforeAll(async () => {
  // The recipient of scenario one, in the GnuPG keyring the generator exports from.
  const key = await makeKey('user@host.domain');
  keyFiles = writeKeyFiles(tmp.path, 'admin', key);
  gpg.importKey(key.publicArmored);
  prepareHost();
});
afterAll(() => {
  if (copy !== null && copy.child.exitCode === null && copy.child.signalCode === null) copy.child.kill('SIGKILL');
  gpg.dispose();
  tmp.dispose();
});

/** Temp paths for the jail's, real accounts for the scenario's (root: nobody and www-data). */
let dirs: { run: string; logs: string; archive: string; lib: string };
let swaps: Record<string, string>;
let runUser: string;
const env = () => ({ ...process.env, GNUPGHOME: gpg.home });

function prepareHost(): void {
  const base = join(tmp.path, 'srv');
  dirs = { run: join(base, 'run'), logs: join(base, 'logs'), archive: join(base, 'logs', 'archive'), lib: join(base, 'lib') };
  mkdirSync(base, { mode: 0o755 });
  chmodSync(tmp.path, 0o755); // nobody must reach its log directory after the privilege drop
  for (const dir of Object.values(dirs)) mkdirSync(dir, { mode: 0o755 });
  runUser = isRoot ? 'nobody' : account('-un');
  const runGroup = isRoot ? 'nogroup' : account('-gn');
  if (isRoot) {
    const [uid, gid] = execFileSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).split(':').slice(2, 4).map(Number);
    for (const dir of [dirs.logs, dirs.archive]) {
      chownSync(dir, uid!, gid!);
      chmodSync(dir, 0o700);
    }
  }
  swaps = {
    '/jailed_servers/website_host/var/log/www/access.log.pipe': join(dirs.run, 'access.log.pipe'),
    '/jailed_logs/website_host/www_access.gpg': join(dirs.logs, 'www_access.gpg'),
    '/jailed_logs/website_host/archive': dirs.archive,
    '/jailer_scripts/website_host/Web_log_encrypter.mjs': join(dirs.lib, 'Web_log_encrypter.mjs'),
    'notwwwuser:notwwwgroup': `${runUser}:${runGroup}`,
    'notwwwuser:wwwgroup': isRoot ? 'nobody:www-data' : `${runUser}:${runGroup}`,
    'root:root': isRoot ? 'root:root' : `${runUser}:${runGroup}`,
  };
}

/** The migrated command as a POSIX shell splits it, with the swaps applied. */
async function migratedArgs(): Promise<string[]> {
  const migrated = await cli(['migrate', '--', ...SCENARIO_ONE]);
  expect(migrated.code).toBe(0);
  expect(migrated.stderr).toMatch(/1 option\(s\) not carried over/); // --debug-level
  const words = await wordsThroughShell(migrated.stdout.toString());
  expect(words.slice(0, 3)).toEqual(['encrypter', '--recipient', 'user@host.domain']);
  expect(words).toContain(QUIT);
  const args = words.map((w) => swaps[w] ?? w);
  expect(args.filter((w) => w.startsWith('/jail') || w.includes('notwww'))).toEqual([]);
  return args;
}

/** The argument words a POSIX shell makes of the printed snippet, via a stand-in paranoid-pipes. */
async function wordsThroughShell(snippet: string): Promise<string[]> {
  const bin = join(tmp.path, 'bin');
  mkdirSync(bin, { mode: 0o700, recursive: true });
  const stub = join(bin, 'paranoid-pipes');
  writeFileSync(stub, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n`, { mode: 0o700 });
  const r = await run('/bin/sh', ['-c', snippet], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.toString()) as string[];
}

function account(flag: '-un' | '-gn'): string {
  return execFileSync('id', [flag], { encoding: 'utf8' }).trim();
}

describe('paranoid-pipes migrate, end to end', () => {
  it('scenario one converts, and the converted command generates a copy that works', async () => {
    const args = await migratedArgs();

    // As printed it is a dry run (scenario one ends in --help): valid, and writes nothing.
    const dry = await cli(args, { env: env() });
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout.toString()).toMatch(/^dry run: these options are valid/);
    expect(existsSync(join(dirs.lib, 'Web_log_encrypter.mjs'))).toBe(false);

    // Without the dry run and the detached start, it installs; the test starts the copy itself.
    const install = args.filter((a) => a !== '--help' && a !== '--start');
    const generated = await cli(install, { env: env() });
    expect(generated.stderr).toBe('');
    expect(generated.code).toBe(0);
    const copyPath = join(dirs.lib, 'Web_log_encrypter.mjs');
    expect(statSync(copyPath).mode & 0o777).toBe(0o100);

    const pipe = join(dirs.run, 'access.log.pipe');
    copy = startCopy(copyPath);
    await waitForReader(pipe, 10_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; the copy said:\n${copy?.stderr()}`);
    });
    expect(statSync(pipe).mode & 0o777).toBe(0o620);
    expect(await Promise.all(['a', 'b'].map((id) => writerProcess(pipe, id, 2000)))).toEqual([2000, 2000]);
    // The seed's way to stop it: the quit string written into the pipe.
    const fd = openSync(pipe, 'w');
    writeSync(fd, `${QUIT}\n`);
    closeSync(fd);
    expect(await copy.exited).toBe(0);

    const output = join(dirs.logs, 'www_access.gpg');
    // Started by root, the copy dropped to the scenario's run-as account, which owns the log.
    expect(statSync(output).uid).toBe(Number(execFileSync('id', ['-u', runUser], { encoding: 'utf8' }).trim()));
    const decrypted = await cli(['decrypt', '--key', keyFiles.sec, '--show-control', output]);
    expect(decrypted.code).toBe(0);
    expect(decrypted.stderr).toMatch(/"type":"stream-end".*"lines":4000.*"reason":"quit string"/);
    const text = decrypted.stdout.toString();
    expect(text).not.toContain(QUIT);
    const by = linesByWriter(text);
    expect(by.get('a')).toEqual(range(2000));
    expect(by.get('b')).toEqual(range(2000));
  });

  it('--json gives a config file that bakes the same as the migrated command', async () => {
    const dryFromArgs = await cli(await migratedArgs(), { env: env() });
    expect(dryFromArgs.code).toBe(0);

    const migrated = await cli(['migrate', '--json', '--', ...SCENARIO_ONE]);
    expect(migrated.code).toBe(0);
    const config = JSON.parse(migrated.stdout.toString()) as Record<string, string | string[] | boolean>;
    const swapped = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? (swaps[v] ?? v) : v]));
    const file = join(tmp.path, 'www.json');
    writeFileSync(file, JSON.stringify(swapped), { mode: 0o600 });
    const dryFromFile = await cli(['encrypter', '--config', file, '--help'], { env: env() });
    expect(dryFromFile.stderr).toBe('');
    expect(dryFromFile.code).toBe(0);
    // Everything but the digest line (it covers the generation time) is the same.
    const withoutDigest = (out: Buffer) => out.toString().replace(/options digest [0-9a-f]+/, '');
    expect(withoutDigest(dryFromFile.stdout)).toBe(withoutDigest(dryFromArgs.stdout));
  });
});
