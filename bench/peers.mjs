// Issue 14, target 6: the tools a user might pick today, on the same flood as the copy, each
// reading the FIFO as one stream: `age -r` (a key made with age-keygen here) and `gpg --encrypt`
// (the bench's GnuPG key, ZLIB first in its preferences). For each: the rate until the output is
// fsync'd, its CPU (rusage of the process, all threads), the output's size, and a check that it
// decrypts to exactly what was written (SHA-256).
import { execFile } from 'node:child_process';
import { closeSync, constants, fsyncSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTimed } from './copy-process.mjs';
import { flood } from './copy-flood.mjs';
import { hashOutput } from './bench-util.mjs';

const execFileAsync = promisify(execFile);
const now = () => process.hrtime.bigint();

/** Hashes a command's stdout as it streams; a failing command is an error. */
async function hashOf(file, args, env = process.env) {
  const r = await hashOutput(file, args, env);
  if (r.code !== 0) throw new Error(`${file} exited ${r.code}: ${r.stderr.trim()}`);
  return r.sha256;
}

/** One tool reading PIPE whole into OUT: timed from the writer's first write until OUT is fsync'd. */
async function oneStream({ name, argv, pipe, out, lines, env }) {
  rmSync(pipe, { force: true });
  rmSync(out, { force: true });
  await execFileAsync('mkfifo', ['-m', '600', pipe]);
  const tool = await startTimed(argv, { env });
  const w = await flood(pipe, lines);
  const { code, cpuSeconds } = await tool.done;
  if (code !== 0) throw new Error(`${name} exited ${code}`);
  const fd = openSync(out, constants.O_RDONLY);
  fsyncSync(fd);
  closeSync(fd);
  const seconds = Number(now() - w.startedAt) / 1e9;
  const mb = w.bytes / 1e6;
  return { name, MB: +mb.toFixed(1), seconds: +seconds.toFixed(3), 'MB/s': +(mb / seconds).toFixed(1), 'CPU s': cpuSeconds, 'CPU ms/MB': +((cpuSeconds * 1000) / mb).toFixed(2), 'output MB': +(statSync(out).size / 1e6).toFixed(1) };
}

/** Runs age and gpg on the flood; `key` is the bench's GnuPG key (fpr, gpgEnv). */
export async function peers({ dir, key, lines, expectedSha }) {
  const rows = [];
  const checks = {};
  try {
    const ageKey = join(dir, 'age.key');
    rmSync(ageKey, { force: true });
    await execFileAsync('age-keygen', ['-o', ageKey]);
    const recipient = /public key: (age1\w+)/.exec(readFileSync(ageKey, 'utf8'))?.[1];
    const pipe = join(dir, 'age.pipe');
    const out = join(dir, 'age.out');
    rows.push(await oneStream({ name: 'age -r, one stream', argv: ['age', '-r', recipient, '-o', out, pipe], pipe, out, lines }));
    checks.age = (await hashOf('age', ['-d', '-i', ageKey, out])) === expectedSha;
    rmSync(out, { force: true });
  } catch (err) {
    // age is a Debian package (`age`), not needed by the tests: say why the row is missing.
    rows.push({ name: 'age -r, one stream', skipped: err.message });
  }
  {
    const pipe = join(dir, 'gpg-peer.pipe');
    const out = join(dir, 'gpg-peer.gpg');
    const argv = ['gpg', '--batch', '--quiet', '--yes', '--trust-model', 'always', '--recipient', key.fpr, '--encrypt', '--output', out, pipe];
    rows.push(await oneStream({ name: 'gpg --encrypt, one stream (zlib)', argv, pipe, out, lines, env: key.gpgEnv }));
    checks.gpg = (await hashOf('gpg', ['--batch', '--quiet', '--decrypt', out], key.gpgEnv)) === expectedSha;
    rmSync(out, { force: true });
  }
  return { rows, checks };
}
