import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, run, writerProcess } from '../helpers/cli.ts';
import { TempGpg } from '../helpers/gpg.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';

const fx = new E2eFixture();
let keyDir: string;
let pub: string;
let sec: string;
let passFile: string;
let log: string;
const PASS = 'correct horse battery staple';

/** Encrypts `lines` lines from one writer to the keygen key, in blocks, and returns the log. */
async function makeLog(name: string, lines: number): Promise<string> {
  const paths = await fx.generate(['--recipient-key', pub, '--quit-string', QUIT], name);
  const copy = fx.start(paths);
  await waitForReader(paths.pipe, 10_000);
  // Three bursts with pauses between them: several data blocks.
  for (let burst = 0; burst < 3; burst += 1) {
    await writerProcess(paths.pipe, `${name}${burst}`, lines);
    await new Promise((r) => setTimeout(r, 30));
  }
  sendQuit(paths.pipe);
  expect(await copy.exited).toBe(0);
  return paths.output;
}

beforeAll(async () => {
  await fx.setup();
  // A directory that does not exist yet, two levels deep: keygen creates it.
  keyDir = join(fx.tmp.path, 'keys', 'ops');
  passFile = join(fx.tmp.path, 'pass');
  writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
  const r = await cli(['keygen', '--email', 'ops@example.org', '--out-dir', keyDir, '--passphrase-file', passFile]);
  expect(r.code).toBe(0);
  pub = join(keyDir, 'ops@example.org.pub.asc');
  sec = join(keyDir, 'ops@example.org.sec.asc');
  log = await makeLog('k', 200);
});
afterAll(() => fx.dispose());

const decrypt = (args: string[], env?: NodeJS.ProcessEnv, input?: Buffer) => cli(['decrypt', '--key', sec, ...args], { env, input });

describe('keygen', () => {
  it('writes a public key (644) and a passphrase-protected secret key (600), into a directory it creates (700)', () => {
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(keyDir, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(pub).mode & 0o777).toBe(0o644);
    expect(statSync(sec).mode & 0o777).toBe(0o600);
    expect(readFileSync(sec, 'utf8')).toMatch(/BEGIN PGP PRIVATE KEY BLOCK/);
  });

  it('makes a key GnuPG imports and decrypts with, given the passphrase', () => {
    const gpg = new TempGpg();
    try {
      gpg.run(['--pinentry-mode', 'loopback', '--passphrase-file', passFile, '--import', sec]);
      const first = readFileSync(log, 'utf8').split('-----END PGP MESSAGE-----')[0] + '-----END PGP MESSAGE-----\n';
      const plain = gpg.run(['--pinentry-mode', 'loopback', '--passphrase-file', passFile, '--decrypt'], first).toString();
      expect(plain).toMatch(/"type":"stream-start"/);
    } finally {
      gpg.dispose();
    }
  });

  it('refuses a directory others may write before asking for a passphrase (exit 3)', async () => {
    const open = join(fx.tmp.path, 'shared-keys');
    const { chmodSync, mkdirSync } = await import('node:fs');
    mkdirSync(open);
    chmodSync(open, 0o775);
    const r = await cli(['keygen', '--email', 'ops@example.org', '--out-dir', open]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/KEY_DIR_UNSAFE.*writable by group or others \(mode 775\)/);
  });

  it('refuses to overwrite an existing key', async () => {
    const r = await cli(['keygen', '--email', 'ops@example.org', '--out-dir', keyDir, '--passphrase-file', passFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/KEY_WRITE.*already exists/);
  });
});

describe('paranoid-pipes decrypt', () => {
  const expectAllLines = (text: string) => {
    const by = linesByWriter(text);
    for (const id of ['k0', 'k1', 'k2']) expect(by.get(id)).toEqual(range(200));
  };

  it('takes the passphrase from a file, a file descriptor or a named environment variable', async () => {
    expectAllLines((await decrypt(['--passphrase-file', passFile, log])).stdout.toString());
    expectAllLines((await decrypt(['--passphrase-env', 'PP_TEST_PASS', log], { ...process.env, PP_TEST_PASS: PASS })).stdout.toString());
    // fd 0 is a file descriptor like any other: the passphrase arrives on stdin, the log as a file.
    expectAllLines((await decrypt(['--passphrase-fd', '0', log], undefined, Buffer.from(`${PASS}\n`))).stdout.toString());
  });

  it('says clearly when the passphrase is missing or wrong (exit 2)', async () => {
    const missing = await decrypt([log]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/PASSPHRASE_NEEDED/);
    const wrong = await decrypt(['--passphrase-env', 'P', log], { ...process.env, P: 'nope' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/BAD_PASSPHRASE/);
    expect(wrong.stdout.length).toBe(0);
  });

  it('reads the log from standard input', async () => {
    const r = await cli(['decrypt', '--key', sec, '--passphrase-env', 'P'], { env: { ...process.env, P: PASS }, input: readFileSync(log) });
    expect(r.code).toBe(0);
    expectAllLines(r.stdout.toString());
  });

  it('reports a torn tail by its offset, still decrypts the rest, and exits 1', async () => {
    const torn = join(fx.tmp.path, 'torn.log');
    const full = readFileSync(log);
    const lastBegin = full.lastIndexOf('-----BEGIN PGP MESSAGE-----');
    writeFileSync(torn, full);
    truncateSync(torn, lastBegin + 100);
    const r = await decrypt(['--passphrase-file', passFile, torn]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`offset ${lastBegin}: torn`);
    expectAllLines(r.stdout.toString()); // the torn block was the stream-end record
  });

  it('reports a corrupted block and keeps going with the blocks after it', async () => {
    const bad = join(fx.tmp.path, 'bad.log');
    const text = readFileSync(log, 'utf8');
    const blocks = text.split(/(?<=-----END PGP MESSAGE-----\n)/);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const victim = blocks[2]!;
    blocks[2] = victim.replace(/\n([A-Za-z0-9+/]{10})/, (_, s: string) => `\n${s.split('').reverse().join('')}`);
    writeFileSync(bad, blocks.join(''));
    const r = await decrypt(['--passphrase-file', passFile, bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`offset ${blocks[0]!.length + blocks[1]!.length}: undecryptable`));
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('k2')).toEqual(range(200));
  });

  it('writes to --output with mode 600 and never over an existing file', async () => {
    const out = join(fx.tmp.path, 'plain.txt');
    const r = await decrypt(['--passphrase-file', passFile, '--output', out, log]);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expectAllLines(readFileSync(out, 'utf8'));
    const again = await decrypt(['--passphrase-file', passFile, '--output', out, log]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('decrypts a log that gpg wrote, message after message', async () => {
    const gpg = new TempGpg();
    try {
      gpg.importKey(readFileSync(pub, 'utf8'));
      const parts = ['one\n', 'two\n', 'three\n'].map((t) => gpg.run(['--trust-model', 'always', '--encrypt', '--recipient', 'ops@example.org'], t));
      const file = join(fx.tmp.path, 'gpg.log');
      writeFileSync(file, Buffer.concat(parts));
      const r = await decrypt(['--passphrase-file', passFile, file]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe('one\ntwo\nthree\n');
    } finally {
      gpg.dispose();
    }
  });

  it('runs from the built bin with no option misuse: unknown option exits 2', async () => {
    const r = await run(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'cli.mjs'), 'decrypt', '--kee', sec]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Did you mean --key\?/);
  });
});
