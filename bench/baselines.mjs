// The baselines `npm run bench` sets the copy against: plaintext `cat`, one gpg process reading
// the FIFO as one stream, a shell loop running gpg once per line, and gpg once per block to
// decrypt. Each flood is written by a writer process into a FIFO and timed from its first write
// until the output is durable (the bench fsyncs for `cat` and gpg, which do not sync).
import { spawn } from 'node:child_process';
import { closeSync, constants, fsyncSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flood } from './copy-flood.mjs';
import { exited, hashOutput, mkfifo, now, seconds, sha256 } from './bench-util.mjs';

/** A throughput row; the per-line loop moves a few kB, so its figures keep more digits. */
export function row(name, lines, bytes, secs) {
  const digits = bytes < 1e7 ? 3 : 1;
  return { name, lines, MB: +(bytes / 1e6).toFixed(digits), seconds: +secs.toFixed(3), 'MB/s': +(bytes / 1e6 / secs).toFixed(digits), 'lines/s': Math.round(lines / secs) };
}

function fsyncFile(file) {
  const fd = openSync(file, constants.O_RDONLY);
  fsyncSync(fd);
  closeSync(fd);
}

/** `cat FIFO >> file`: the plaintext limit. Returns the row and whether the file matches. */
export async function catRow({ dir, lines, expectedSha }) {
  const pipe = join(dir, 'cat.pipe');
  const file = join(dir, 'cat.log');
  await mkfifo(pipe);
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  const cat = spawn('cat', [pipe], { stdio: ['ignore', fd, 'inherit'] });
  const done = exited(cat);
  const w = await flood(pipe, lines);
  await done;
  fsyncSync(fd);
  const end = now();
  closeSync(fd);
  return { row: row('cat FIFO >> file (plaintext)', lines, w.bytes, seconds(w.startedAt, end)), matches: sha256(readFileSync(file)) === expectedSha };
}

/** One gpg process reading the whole FIFO as one stream. */
export async function gpgStreamRow({ dir, lines, expectedSha, gpgEncrypt, gpgEnv }) {
  const pipe = join(dir, 'gpg.pipe');
  const file = join(dir, 'gpg.log.gpg');
  await mkfifo(pipe);
  const gpg = spawn('gpg', [...gpgEncrypt, '--output', file, pipe], { stdio: ['ignore', 'ignore', 'inherit'], env: gpgEnv });
  const done = exited(gpg);
  const w = await flood(pipe, lines);
  await done;
  fsyncFile(file);
  const end = now();
  const back = await hashOutput('gpg', ['--batch', '--quiet', '--decrypt', file], gpgEnv);
  return { row: row('gpg --encrypt, one stream', lines, w.bytes, seconds(w.startedAt, end)), matches: back.sha256 === expectedSha };
}

/** A shell loop with one gpg per line, as simple encrypting-pipe scripts do (few lines, scaled). */
export async function gpgLoopRow({ dir, lines, expectedSha, gpgEncrypt, gpgEnv, decrypt }) {
  const pipe = join(dir, 'loop.pipe');
  const file = join(dir, 'loop.log.gpg');
  await mkfifo(pipe);
  // The baseline under test is this shell script itself; the data reaches gpg on stdin.
  const script = `while IFS= read -r line; do printf '%s\\n' "$line" | gpg ${gpgEncrypt.join(' ')} >> "$2"; done < "$1"; sync "$2"`;
  const sh = spawn('sh', ['-c', script, 'loop', pipe, file], { stdio: ['ignore', 'ignore', 'inherit'], env: gpgEnv });
  const done = exited(sh);
  const w = await flood(pipe, lines);
  await done;
  const end = now();
  const back = await decrypt(file);
  return { row: row(`gpg per line, shell loop (${lines} lines, scaled)`, lines, w.bytes, seconds(w.startedAt, end)), matches: back.sha256 === expectedSha };
}

/** One `gpg --decrypt` process per armored block of `log`, as a script over a split log would run. */
export async function gpgPerBlock({ log, blocks, gpgEnv }) {
  const text = readFileSync(log, 'latin1');
  const messages = text
    .split(/(?<=-----END PGP MESSAGE-----\n)/)
    .filter((m) => m.startsWith('-----BEGIN PGP MESSAGE-----'))
    .slice(0, blocks);
  let cipher = 0;
  let lines = 0;
  const t = now();
  for (const message of messages) {
    const child = spawn('gpg', ['--batch', '--quiet', '--decrypt'], { stdio: ['pipe', 'pipe', 'ignore'], env: gpgEnv });
    let newlines = 0;
    child.stdout.on('data', (chunk) => {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) newlines += 1;
    });
    child.stdin.end(message, 'latin1');
    await exited(child);
    cipher += message.length;
    lines += newlines;
  }
  const secs = seconds(t, now());
  return { name: 'gpg --decrypt per block', blocks: messages.length, cipherMB: +(cipher / 1e6).toFixed(1), seconds: +secs.toFixed(3), 'cipher MB/s': +(cipher / 1e6 / secs).toFixed(1), 'lines/s': Math.round(lines / secs) };
}
