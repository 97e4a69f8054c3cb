// `decrypt --gpg`: private-key operations per second through gpg-agent (issue 11: at least 200).
//
// A GnuPG home with a key made by gpg (ed25519 + cv25519) under a passphrase that is preset in
// gpg-agent, as an admin's agent holds it; a log of N blocks that each carry their own session
// key (as a copy with --session-key-window 0 writes them), so every block is one private-key
// operation. `paranoid-pipes decrypt --gpg` is timed as a whole process; the text is checked.
//
// Two keys: protected as gpg protects keys by default (an S2K count calibrated to ~100 ms of
// hashing, which gpg-agent pays again for every operation: it caches the passphrase, not the
// unlocked key), and re-protected with the lowest count (`s2k-count 65536` in gpg-agent.conf).
//
//   node bench/decrypt-gpg.mjs [--blocks 300] [--calibrated-blocks 10]   # writes bench/results-decrypt-gpg.json
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import * as openpgp from 'openpgp';
import tmp from 'tmp';
import { writeResults } from './bench-util.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.mjs');
const PRESET = '/usr/lib/gnupg/gpg-preset-passphrase';
const PASS = 'bench passphrase held by the agent';
const execFileAsync = promisify(execFile);

async function gnupgHome(dir, name, lowS2k) {
  const home = join(dir, name);
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(home, 'gpg-agent.conf'), `allow-preset-passphrase\n${lowS2k ? 's2k-count 65536\n' : ''}`);
  const env = { ...process.env, GNUPGHOME: home };
  await execFileAsync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', PASS, '--quiet', '--quick-gen-key', `${name}@example.org`, 'future-default', 'default', 'never'], { env });
  const { stdout: colons } = await execFileAsync('gpg', ['--batch', '--with-colons', '--with-keygrip', '--list-secret-keys'], { env });
  for (const line of colons.split('\n').filter((l) => l.startsWith('grp:'))) await execFileAsync(PRESET, ['--preset', '--passphrase', PASS, line.split(':')[9]], { env });
  const { stdout: s2k } = await execFileAsync('gpg-connect-agent', ['GETINFO s2k_count', '/bye'], { env });
  const { stdout: publicKey } = await execFileAsync('gpg', ['--batch', '--armor', '--export', `${name}@example.org`], { env });
  return { env, publicKey, agentS2kCount: Number(/^D (\d+)/m.exec(s2k)?.[1] ?? 0) };
}

/** N standalone messages, each with its own session key (AES-256, SEIPDv1, as the copy's). */
async function logOf(publicKey, blocks) {
  const key = await openpgp.readKey({ armoredKey: publicKey });
  const parts = [];
  const text = createHash('sha256');
  for (let i = 0; i < blocks; i += 1) {
    const line = Buffer.from(`block ${i} of a log sealed with a fresh session key per block\n`);
    text.update(line);
    const message = await openpgp.createMessage({ binary: line, format: 'binary' });
    parts.push(Buffer.from(await openpgp.encrypt({ message, encryptionKeys: key, format: 'binary', config: { aeadProtect: false, preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256 } })));
  }
  return { log: Buffer.concat(parts), sha256: text.digest('hex') };
}

/** One timed `decrypt --gpg` of `blocks` distinct session keys. */
export async function decryptGpgRun({ dir, blocks, lowS2k }) {
  const name = lowS2k ? 'lows2k' : 'calibrated';
  const home = await gnupgHome(dir, name, lowS2k);
  try {
    const { log, sha256 } = await logOf(home.publicKey, blocks);
    const logPath = join(dir, `${name}.log`);
    const out = join(dir, `${name}.out`);
    writeFileSync(logPath, log);
    rmSync(out, { force: true });
    const t0 = performance.now();
    const { stderr } = await execFileAsync(process.execPath, [CLI, 'decrypt', '--gpg', '--quiet', '--output', out, logPath], { env: home.env, maxBuffer: 16 << 20 });
    const seconds = (performance.now() - t0) / 1000;
    const matches = createHash('sha256').update(readFileSync(out)).digest('hex') === sha256;
    return {
      key: lowS2k ? 'passphrase, s2k-count 65536' : "passphrase, gpg's calibrated S2K",
      agentS2kCount: home.agentS2kCount,
      operations: blocks,
      seconds: +seconds.toFixed(3),
      opsPerSecond: +(blocks / seconds).toFixed(1),
      route: stderr.includes('asking gpg instead') ? 'gpg calls (fallback)' : 'gpg-agent socket',
      decryptedMatches: matches,
    };
  } finally {
    await execFileAsync('gpgconf', ['--kill', 'all'], { env: home.env }).catch(() => {});
  }
}

/** Both keys; `blocks` for the cheap one, `calibratedBlocks` for the one that costs ~0.1–1 s an operation. */
export async function decryptGpgBench({ dir, blocks = 300, calibratedBlocks = 10 }) {
  return [await decryptGpgRun({ dir, blocks: calibratedBlocks, lowS2k: false }), await decryptGpgRun({ dir, blocks, lowS2k: true })];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { blocks: { type: 'string', default: '300' }, 'calibrated-blocks': { type: 'string', default: '10' } } });
  const dir = tmp.dirSync({ prefix: 'pp-bench-gpg-', mode: 0o700, unsafeCleanup: true });
  try {
    const rows = await decryptGpgBench({ dir: dir.name, blocks: Number(values.blocks), calibratedBlocks: Number(values['calibrated-blocks']) });
    console.table(rows);
    writeResults(join(ROOT, 'bench', 'results-decrypt-gpg.json'), { rows });
    process.exitCode = rows.every((r) => r.decryptedMatches) ? 0 : 1;
  } finally {
    dir.removeCallback();
  }
}
