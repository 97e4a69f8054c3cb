import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers/cli.ts';
import { TempGpg } from '../helpers/gpg.ts';
import { makeKey, testEncryptor, writeKeyFiles, type TestKey } from '../helpers/keys.ts';

/**
 * An archive far larger than the memory the decrypter may take: it is read as a stream (the
 * outer layer deciphered, the rotated log gunzipped and split as it comes), so the process's
 * peak RSS (the kernel's VmHWM) stays well under the archive's size. Opened whole, as before,
 * it took the archive, its decrypted and its gunzipped copy at once: over three times its size.
 */
const INNER_MB = 80;
/**
 * Generous: Node.js and openpgp.js take ~75 MB, the worker threads that open the large blocks
 * and the read-ahead up to ~170 more (about 240 MB measured, the same for an archive three
 * times as large). Opened whole, this archive took 525 MB.
 */
const PEAK_BOUND_MB = 320;
const streamId = 'ee'.repeat(16);

const dir = tempDir('pp-archive-mem-');
const gpg = new TempGpg();
let key: TestKey;
let archive: string;
let keyFiles: { pub: string; sec: string };
let textSha = '';

beforeAll(async () => {
  key = await makeKey('archive-mem@example.org');
  keyFiles = writeKeyFiles(dir.path, 'admin', key);
  // The rotated log: blocks of ~1 MiB of lines as a flood writes them (uncompressed, so the
  // log is as large as its text), sealed by the copy's own encryptor.
  const enc = await testEncryptor([key.publicArmored], 'none', false, 60_000);
  const inner = join(dir.path, 'inner.log');
  const fd = openSync(inner, 'w');
  const text = createHash('sha256');
  for (let seq = 0; seq * 1024 * 1024 < INNER_MB * 1024 * 1024; seq += 1) {
    const lines = randomBytes(512 * 1024).toString('hex').replace(/(.{120})/g, `$1\n`);
    const block = Buffer.from(`${lines}\n`);
    text.update(block);
    writeSync(fd, await enc.seal(block, { streamId, seq, kind: 'data' }, new Date()));
  }
  closeSync(fd);
  textSha = text.digest('hex');
  // The archive as gpg would make it from the rotated log (the copy's openpgp.js archives are
  // read by the same stream reader; the unit tests cover both shapes).
  const gz = join(dir.path, 'inner.log.gz');
  writeFileSync(gz, gzipSync(readFileSync(inner), { level: 1 }));
  gpg.importKey(key.publicArmored);
  archive = join(dir.path, 'www.log.20261202T000000Z.1.gz.gpg');
  execFileSync('gpg', ['--batch', '--quiet', '--trust-model', 'always', '--compress-algo', 'none', '--recipient', key.fingerprint, '--output', archive, '--encrypt', gz], { env: gpg.env });
}, 180_000);
afterAll(() => {
  gpg.dispose();
  dir.dispose();
});

/** Runs `decrypt` as a process, sampling its VmHWM (a high-water mark: the last sample is the peak so far). */
function decryptMeasured(args: readonly string[]): Promise<{ code: number | null; peakMb: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'decrypt', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peakKb = 0;
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited
      }
    }, 10);
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearInterval(timer);
      clearTimeout(kill);
      resolve({ code, peakMb: peakKb / 1024, stderr });
    });
  });
}

describe('a large archive', () => {
  it(`decrypts every line with a peak RSS under ${PEAK_BOUND_MB} MB (the archive is ${INNER_MB} MB)`, async () => {
    const out = join(dir.path, 'out.txt');
    // --quiet: the test encryptor's stream is unsealed, which decrypt notes; problems still show.
    const r = await decryptMeasured(['--quiet', '--key', keyFiles.sec, '--output', out, archive]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(textSha);
    expect(r.peakMb).toBeGreaterThan(20); // it was measured at all
    expect(r.peakMb).toBeLessThan(PEAK_BOUND_MB);
  }, 150_000);
});
