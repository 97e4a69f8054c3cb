import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, CLI, ROOT, run, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { TempGpg } from '../helpers/gpg.ts';

/**
 * `decrypt --gpg`: no key file; a real GnuPG home whose secret key has a passphrase, given to
 * gpg-agent beforehand (gpg-preset-passphrase), as an admin's agent or smartcard would hold it.
 */
const PRESET = '/usr/lib/gnupg/gpg-preset-passphrase';
const PASS = 'agent holds this passphrase';
const fx = new E2eFixture();
const gpg = new TempGpg();
let log: string;
let archives: string;
/** A copy with a fresh session key for every block: one private-key operation per block. */
let perBlockLog: string;
const LINES = 3_000;
const BURSTS = 150;
const PER_BURST = 4;

beforeAll(async () => {
  await fx.setup();
  const passFile = join(fx.tmp.path, 'pass');
  writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
  const keyDir = join(fx.tmp.path, 'ops-keys');
  expect((await cli(['keygen', '--email', 'ops@example.org', '--out-dir', keyDir, '--passphrase-file', passFile])).code).toBe(0);
  // gpg-agent unlocks the key anew for every operation; its default S2K count (calibrated to
  // ~100 ms a pass) would make a test of a hundred session keys slow. The lowest count keeps
  // the passphrase in play at a test's pace.
  writeFileSync(join(gpg.home, 'gpg-agent.conf'), 'allow-preset-passphrase\ns2k-count 65536\n');
  gpg.run(['--pinentry-mode', 'loopback', '--passphrase-file', passFile, '--import', join(keyDir, 'ops@example.org.sec.asc')]);

  archives = join(fx.tmp.path, 'archive');
  mkdirSync(archives, { mode: 0o700 });
  const paths = await fx.generate(['--recipient-key', join(keyDir, 'ops@example.org.pub.asc'), '--quit-string', QUIT, '--rotate-size', '4K', '--rotate-check-every', '1', '--archive-dir', archives]);
  const copy = await fx.startReading(paths);
  for (let at = 0; at < LINES; at += 150) {
    await writerProcess(paths.pipe, 'g', 150, 40, at);
    await new Promise((r) => setTimeout(r, 30));
  }
  sendQuit(paths.pipe);
  expect(await copy.exited).toBe(0);
  log = paths.output;

  // Bursts a few ms apart, as a quiet server writes: each one sealed as its own block.
  const perBlock = await fx.generate(['--recipient-key', join(keyDir, 'ops@example.org.pub.asc'), '--quit-string', QUIT, '--session-key-window', '0']);
  const second = await fx.startReading(perBlock);
  const fd = openSync(perBlock.pipe, constants.O_WRONLY);
  for (let b = 0; b < BURSTS; b += 1) {
    for (let i = 0; i < PER_BURST; i += 1) writeSync(fd, `writer=w seq=${b * PER_BURST + i} xxxx\n`);
    await new Promise((r) => setTimeout(r, 8));
  }
  closeSync(fd);
  sendQuit(perBlock.pipe);
  expect(await second.exited).toBe(0);
  perBlockLog = perBlock.output;
}, 120_000);
afterAll(() => {
  gpg.dispose();
  fx.dispose();
});

const decryptGpg = (args: string[], env = gpg.env) => cli(['decrypt', '--gpg', ...args], { env });

describe.skipIf(!existsSync(PRESET))('decrypt --gpg', () => {
  it('without the passphrase in the agent, no block opens (and nothing hangs on a prompt)', async () => {
    const r = await decryptGpg([log]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/undecryptable/);
    expect(r.stdout.length).toBe(0);
  });

  it('with the passphrase given to gpg-agent, decrypts the log and its archives, every line once and in order', async () => {
    // The keygrips of the secret keys (primary and encryption subkey), as the agent knows them.
    const grips = gpg
      .run(['--with-colons', '--with-keygrip', '--list-secret-keys'])
      .toString()
      .split('\n')
      .filter((l) => l.startsWith('grp:'))
      .map((l) => l.split(':')[9]!);
    expect(grips.length).toBeGreaterThanOrEqual(1);
    for (const grip of grips) execFileSync(PRESET, ['--preset', '--passphrase', PASS, grip], { env: gpg.env });
    const r = await decryptGpg(['--archive-dir', archives, log]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('g')).toEqual(range(LINES));
  });

  it('asks gpg-agent directly for each of many distinct session keys (window 0): every line back, no fallback', async () => {
    // Preset by the test before (the agent keeps it for this GNUPGHOME).
    const blocks = readFileSync(perBlockLog, 'latin1').split('-----BEGIN PGP MESSAGE-----').length - 1;
    expect(blocks).toBeGreaterThanOrEqual(BURSTS / 2);
    const r = await decryptGpg([perBlockLog]);
    expect(r.stderr).toBe(''); // the fallback to gpg calls would say so
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('w')).toEqual(range(BURSTS * PER_BURST));
    // The agent route reads GnuPG's public keys natively: openpgp.js is not loaded (its import would fail here).
    const hooked = await run(process.execPath, ['--import', join(ROOT, 'test', 'helpers', 'no-openpgp.mjs'), CLI, 'decrypt', '--gpg', perBlockLog], { env: gpg.env });
    expect(hooked.stderr).toBe('');
    expect(hooked.stdout.equals(r.stdout)).toBe(true);
  });

  it('refuses key files and passphrase options next to --gpg (exit 2), and says when gpg is missing', async () => {
    const both = await decryptGpg(['--key', fx.keyFiles.sec, log]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/GPG_AND_KEY.*leave out --key/);
    const noGpg = await decryptGpg([log], { ...gpg.env, PATH: '/nonexistent' });
    expect(noGpg.stderr).toMatch(/GPG_MISSING/);
    expect(noGpg.code).toBe(1);
  });
});
