import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, CLI, ROOT, run, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { TempGpg } from '../helpers/gpg.ts';

/**
 * `decrypt` and `verify` with the keys admins have (a `paranoid-pipes keygen` key, a gpg
 * future-default key with a passphrase, an unprotected one, gpg 2.2's RSA shape) read the copy's log and archives
 * without loading openpgp.js: they run under module hooks that make any import of it fail
 * (test/helpers/no-openpgp.mjs), so a static import anywhere on their path fails these tests.
 * A message of another shape (gpg's, with AES-128) still needs openpgp.js: under the hooks it
 * fails, which shows the hooks work; without them it decrypts.
 */
const PASS = 'a passphrase for the keys';
const NO_OPENPGP = join(ROOT, 'test', 'helpers', 'no-openpgp.mjs');
const fx = new E2eFixture();
const gpg = new TempGpg();
let passFile: string;
let log: string;
let archives: string;
const keys: Record<string, { sec: string; pub: string; protected: boolean }> = {};
const LINES = 4_000;

beforeAll(async () => {
  await fx.setup();
  passFile = join(fx.tmp.path, 'pass');
  writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
  const keyDir = join(fx.tmp.path, 'ops-keys');
  expect((await cli(['keygen', '--email', 'ops@example.org', '--out-dir', keyDir, '--passphrase-file', passFile])).code).toBe(0);
  keys.keygen = { sec: join(keyDir, 'ops@example.org.sec.asc'), pub: join(keyDir, 'ops@example.org.pub.asc'), protected: true };
  const pass = ['--pinentry-mode', 'loopback', '--passphrase', PASS];
  gpg.run([...pass, '--quick-gen-key', 'gpg-admin@example.org', 'future-default', 'default', 'never']);
  keys.gpg = { sec: join(fx.tmp.path, 'gpg.sec.asc'), pub: join(fx.tmp.path, 'gpg.pub.asc'), protected: true };
  writeFileSync(keys.gpg.sec, gpg.run([...pass, '--armor', '--export-secret-keys', 'gpg-admin@example.org']), { mode: 0o600 });
  writeFileSync(keys.gpg.pub, gpg.run(['--armor', '--export', 'gpg-admin@example.org']));
  keys.plain = { ...fx.keyFiles, protected: false };
  // GnuPG 2.2's default shape: an RSA primary key for signing and an RSA encryption subkey.
  gpg.run([...pass, '--quick-gen-key', 'rsa-admin@example.org', 'rsa2048', 'cert,sign', 'never']);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg.run(['--with-colons', '--list-keys', 'rsa-admin@example.org']).toString())![1]!;
  gpg.run([...pass, '--quick-add-key', fpr, 'rsa2048', 'encr', 'never']);
  keys.rsa = { sec: join(fx.tmp.path, 'rsa.sec.asc'), pub: join(fx.tmp.path, 'rsa.pub.asc'), protected: true };
  writeFileSync(keys.rsa.sec, gpg.run([...pass, '--armor', '--export-secret-keys', 'rsa-admin@example.org']), { mode: 0o600 });
  writeFileSync(keys.rsa.pub, gpg.run(['--armor', '--export', 'rsa-admin@example.org']));

  archives = join(fx.tmp.path, 'archive');
  mkdirSync(archives, { mode: 0o700 });
  const paths = await fx.generate(['--recipient-key', keys.keygen.pub, '--recipient-key', keys.gpg.pub, '--recipient-key', keys.rsa.pub, '--quit-string', QUIT, '--compress', 'none', '--rotate-size', '256K', '--rotate-check-every', '1', '--archive-dir', archives]);
  const copy = await fx.startReading(paths);
  // Bursts of lines, uncompressed: blocks large enough for the decrypter's worker threads.
  for (let at = 0; at < LINES; at += 1_000) await writerProcess(paths.pipe, 'n', 1_000, 200, at);
  sendQuit(paths.pipe);
  expect(await copy.exited).toBe(0);
  log = paths.output;
  expect(readdirSync(archives).filter((n) => n.endsWith('.gz.gpg')).length).toBeGreaterThan(0);
}, 120_000);
afterAll(() => {
  gpg.dispose();
  fx.dispose();
});

const withoutOpenpgp = (args: readonly string[]) => run(process.execPath, ['--import', NO_OPENPGP, CLI, ...args]);
const keyArgs = (name: string) => ['--key', keys[name]!.sec, ...(keys[name]!.protected ? ['--passphrase-file', passFile] : [])];

describe('decrypt without openpgp.js', () => {
  it.each(['keygen', 'gpg', 'plain', 'rsa'])('decrypts the log and its archives with the %s key, every line once, and verify finds them sound', async (name) => {
    const r = await withoutOpenpgp(['decrypt', ...keyArgs(name), '--archive-dir', archives, log]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('n')).toEqual(range(LINES));
    const v = await withoutOpenpgp(['verify', ...keyArgs(name), '--archive-dir', archives, log]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
  });

  it('a wrong passphrase is still BAD_PASSPHRASE (exit 2)', async () => {
    const wrong = join(fx.tmp.path, 'wrong');
    writeFileSync(wrong, 'not it\n', { mode: 0o600 });
    const r = await withoutOpenpgp(['decrypt', '--key', keys.gpg!.sec, '--passphrase-file', wrong, log]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/BAD_PASSPHRASE/);
  });

  it('a message of another shape needs openpgp.js: it fails under the hooks and decrypts without them', async () => {
    gpg.importKey(readFileSync(keys.keygen!.pub, 'utf8'));
    const msg = join(fx.tmp.path, 'from-gpg.asc');
    // AES-128: a shape the native path leaves to openpgp.js (a small message of gpg's defaults it opens itself).
    writeFileSync(msg, gpg.run(['--trust-model', 'always', '--cipher-algo', 'AES128', '--armor', '--encrypt', '--recipient', 'ops@example.org'], 'written by gpg\n'));
    const hooked = await withoutOpenpgp(['decrypt', ...keyArgs('keygen'), msg]);
    expect(hooked.code).toBe(1);
    expect(hooked.stderr).toMatch(/openpgp\.js was imported, which test\/helpers\/no-openpgp\.mjs forbids/);
    const plain = await cli(['decrypt', ...keyArgs('keygen'), msg]);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout.toString()).toBe('written by gpg\n');
  });
});
