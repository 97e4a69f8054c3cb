// How long can a writer stall while the copy rotates? (issue: rotation never stalls the service)
// Generates a copy that rotates every 64 KiB (compress-encrypt + remove-old), floods it from a
// separate writer process that times every write(2), checks every line came back, and fails if
// the longest stall exceeds a generous bound. Results: bench/results-rotation.json.
// Usage: npm run bench:rotation [-- LINES]
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import tmp from 'tmp';
import { waitForReader } from './copy-flood.mjs';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.mjs');
const LINES = Number(process.argv[2] ?? 300_000);
/** Generous on purpose: a stall this long would be felt by a web server. */
const MAX_STALL_MS = 1000;

const dir = tmp.dirSync({ prefix: 'pp-bench-', mode: 0o700, unsafeCleanup: true });
try {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'bench@example.org' }], format: 'armored', config: { aeadProtect: false } });
  const pub = join(dir.name, 'k.pub.asc');
  const sec = join(dir.name, 'k.sec.asc');
  writeFileSync(pub, publicKey);
  writeFileSync(sec, privateKey);
  const archive = join(dir.name, 'archive');
  mkdirSync(archive, { mode: 0o700 });
  const pipe = join(dir.name, 'bench.pipe');
  const log = join(dir.name, 'bench.log');
  const copyPath = join(dir.name, 'bench.mjs');
  await run(process.execPath, [CLI, 'encrypter', '--recipient-key', pub, '--pipe', pipe, '--output', log, '--save-path', copyPath, '--log-level', 'warn',
    '--rotate-size', '64K', '--rotate-check-every', '1', '--rotate-actions', 'compress-encrypt,remove-old', '--archive-dir', archive]);
  const copy = spawn(copyPath, [], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => copy.on('exit', r));
  await waitForReader(pipe);
  const { stdout } = await run(process.execPath, [join(ROOT, 'bench', 'stall-writer.mjs'), pipe, String(LINES)], { maxBuffer: 1 << 20 });
  const writer = JSON.parse(stdout);
  copy.kill('SIGTERM');
  await exited;
  const archives = readdirSync(archive).filter((n) => n.endsWith('.gz.gpg')).length;
  const decrypted = await run(process.execPath, [CLI, 'decrypt', '--key', sec, '--archive-dir', archive, log], { maxBuffer: 1 << 30 });
  const lines = decrypted.stdout.split('\n').filter(Boolean).length;
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    lines: LINES,
    writerSeconds: Number(writer.seconds.toFixed(3)),
    rotations: archives,
    maxStallMs: Number(writer.maxMs.toFixed(2)),
    p99StallMs: Number(writer.p99Ms.toFixed(3)),
    p999StallMs: Number(writer.p999Ms.toFixed(3)),
    allLinesBack: lines === LINES,
    boundMs: MAX_STALL_MS,
  };
  writeFileSync(join(ROOT, 'bench', 'results-rotation.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.table(result);
  const ok = result.allLinesBack && result.maxStallMs <= MAX_STALL_MS && archives >= 2;
  if (!ok) console.error(`FAILED: ${!result.allLinesBack ? `${lines} of ${LINES} lines came back; ` : ''}${archives < 2 ? 'fewer than 2 rotations; ' : ''}longest stall ${result.maxStallMs} ms (bound ${MAX_STALL_MS} ms)`);
  process.exitCode = ok ? 0 : 1;
} finally {
  dir.removeCallback();
}
