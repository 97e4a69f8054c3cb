// Small helpers the benchmark modules share: child processes, FIFOs, hashing output as it streams.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);
export const now = () => process.hrtime.bigint();
export const seconds = (from, to) => Number(to - from) / 1e9;
export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/**
 * This environment as an admin's machine has it, for timing the decrypter: without
 * NODE_EXTRA_CA_CERTS, which some machines set to the whole system CA bundle (node then parses it
 * at every start: 0.03–0.06 s more for any node process on this VM). bench/decrypt-flood.mjs measures
 * it both ways when it is set.
 */
export function adminEnv() {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Resolves with the child's exit code and signal. */
export function exited(child) {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

export async function mkfifo(path) {
  await execFileAsync('mkfifo', ['-m', '600', path]);
}

/** Runs a command and hashes its stdout as it streams (never holding it all). */
export async function hashOutput(file, args, env = process.env) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const hash = createHash('sha256');
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const { code } = await exited(child);
  return { code, bytes, sha256: hash.digest('hex'), stderr };
}

/** Writes a bench's results to `path` as JSON, stamped with the date and node's version. */
export function writeResults(path, body) {
  writeFileSync(path, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...body }, null, 2)}\n`);
}
