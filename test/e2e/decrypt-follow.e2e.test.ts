import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, writerProcess } from '../helpers/cli.ts';
import { type CopyPaths, E2eFixture, linesByWriter, QUIT, range, sendQuit, waitFor } from '../helpers/e2e.ts';

/** `decrypt --follow` and `--to-pipe` as child processes next to a real running copy. */
const fx = new E2eFixture();
const children: ChildProcess[] = [];

beforeAll(async () => {
  await fx.setup();
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => fx.dispose());

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  out(): string;
  err(): string;
}

function started(child: ChildProcess): Running {
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (err += t));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, out: () => out, err: () => err };
}

const decryptChild = (args: string[], stdin: 'ignore' | 'pipe' = 'ignore') =>
  started(spawn(process.execPath, [CLI, 'decrypt', '--key', fx.keyFiles.sec, ...args], { stdio: [stdin, 'pipe', 'pipe'] }));

/** Resolves with the exit code, or fails the test if the process does not end within `ms`. */
async function exitWithin(r: Running, ms: number): Promise<number | null> {
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms));
  const code = await Promise.race([r.exited, timeout]);
  if (code === 'timeout') throw new Error(`still running after ${ms} ms; stderr:\n${r.err()}`);
  return code;
}

async function rotatingCopy(): Promise<{ paths: CopyPaths; archives: string; copy: Awaited<ReturnType<E2eFixture['startReading']>> }> {
  const archives = join(fx.tmp.path, `archive-${children.length}-${Date.now()}`);
  mkdirSync(archives, { mode: 0o700 });
  const paths = await fx.generate(['--quit-string', QUIT, '--rotate-size', '4K', '--rotate-check-every', '1', '--archive-dir', archives]);
  const copy = await fx.startReading(paths);
  return { paths, archives, copy };
}

/** Bursts of `per` lines from writer `id`, a pause between them (each burst its own blocks). */
async function bursts(pipe: string, id: string, from: number, count: number, per: number): Promise<void> {
  for (let at = from; at < from + count; at += per) {
    await writerProcess(pipe, id, per, 40, at);
    await new Promise((r) => setTimeout(r, 60));
  }
}

const lastLine = (id: string, seq: number) => new RegExp(`writer=${id} seq=${seq} x+\\n`);

describe('decrypt --follow', () => {
  it('prints blocks as they are appended, across rotations, each line once and in order; SIGTERM ends it cleanly', async () => {
    const { paths, archives, copy } = await rotatingCopy();
    await bursts(paths.pipe, 'f', 0, 200, 100); // history before the follow starts
    const follow = decryptChild(['--follow', paths.output]);
    await waitFor(follow.out, lastLine('f', 199), 10_000);
    const archivedBefore = readdirSync(archives).length;
    await bursts(paths.pipe, 'f', 200, 2_000, 100);
    // A line written after the follow started shows up promptly (bounded generously: not a speed test).
    await waitFor(follow.out, lastLine('f', 2_199), 10_000);
    expect(readdirSync(archives).length).toBeGreaterThan(archivedBefore + 1); // it followed through rotations
    follow.child.kill('SIGTERM');
    expect(await exitWithin(follow, 5_000)).toBe(0);
    expect(follow.err()).not.toMatch(/torn|missing|undecryptable|garbage/);
    expect(follow.err()).toMatch(/was rotated: following the new file/);
    expect(linesByWriter(follow.out()).get('f')).toEqual(range(2_200));
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
  });

  it('--follow - reads a stream: `tail -c +1 -F LOG | decrypt --follow -`, across a rotation; SIGINT ends it', async () => {
    const { paths, archives, copy } = await rotatingCopy();
    await bursts(paths.pipe, 't', 0, 100, 100);
    const tail = started(spawn('tail', ['-c', '+1', '-F', paths.output], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const follow = decryptChild(['--follow', '-'], 'pipe');
    tail.child.stdout?.removeAllListeners('data');
    tail.child.stdout?.pipe(follow.child.stdin!);
    await waitFor(follow.out, lastLine('t', 99), 10_000);
    await bursts(paths.pipe, 't', 100, 1_500, 100);
    await waitFor(follow.out, lastLine('t', 1_599), 10_000);
    expect(readdirSync(archives).length).toBeGreaterThanOrEqual(1);
    follow.child.kill('SIGINT');
    expect(await exitWithin(follow, 5_000)).toBe(0);
    tail.child.kill('SIGTERM');
    expect(follow.err()).not.toMatch(/torn|undecryptable|garbage/);
    expect(linesByWriter(follow.out()).get('t')).toEqual(range(1_600));
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
  });

  it('waits for a block still being written instead of reporting it torn', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    await bursts(paths.pipe, 'h', 0, 100, 50);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    // A log whose second data block arrives in two parts, a second apart, as a slow append would.
    const full = readFileSync(paths.output);
    const begins = [...full.toString('latin1').matchAll(/-----BEGIN PGP MESSAGE-----/g)].map((m) => m.index);
    expect(begins.length).toBe(4); // stream-start, two data blocks, stream-end
    const cut = begins[2]! + 150;
    const growing = join(fx.tmp.path, 'growing.log');
    writeFileSync(growing, full.subarray(0, cut));
    const follow = decryptChild(['--follow', growing]);
    await waitFor(follow.out, lastLine('h', 49), 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(follow.out()).not.toMatch(/seq=50 /);
    const fd = openSync(growing, 'a');
    writeSync(fd, full.subarray(cut));
    closeSync(fd);
    await waitFor(follow.out, lastLine('h', 99), 10_000);
    follow.child.kill('SIGTERM');
    expect(await exitWithin(follow, 5_000)).toBe(0);
    expect(linesByWriter(follow.out()).get('h')).toEqual(range(100));
    expect(follow.err()).not.toMatch(/torn|undecryptable|count-mismatch/);
  });
});

describe('decrypt on a FIFO', () => {
  it('waits for a writer, and SIGTERM ends the wait cleanly', async () => {
    const fifo = join(fx.tmp.path, 'nobody-writes.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const dec = decryptChild([fifo]);
    await waitFor(dec.err, /reading FIFO/, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(dec.child.exitCode).toBe(null);
    dec.child.kill('SIGTERM');
    expect(await exitWithin(dec, 5_000)).toBe(0);
    expect(dec.out()).toBe('');
  });
});

describe('decrypt --to-pipe', () => {
  it('makes a FIFO (mode 600), waits for a reader started later, feeds it every line, then removes the FIFO', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    await bursts(paths.pipe, 'p', 0, 3_000, 1_000);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const fifo = join(fx.tmp.path, 'plain.fifo');
    const dec = decryptChild(['--to-pipe', fifo, paths.output]);
    await waitFor(dec.err, /waiting for a reader/, 10_000);
    const st = statSync(fifo);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await new Promise((r) => setTimeout(r, 300)); // nobody reads yet: it must wait, not fail
    expect(dec.child.exitCode).toBe(null);
    const reader = started(spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(await exitWithin(dec, 20_000)).toBe(0);
    expect(await exitWithin(reader, 5_000)).toBe(0);
    expect(linesByWriter(reader.out()).get('p')).toEqual(range(3_000));
    expect(existsSync(fifo)).toBe(false);
  });

  it('a slow reader slows the decrypter down (backpressure) and still gets every line', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    await bursts(paths.pipe, 's', 0, 6_000, 2_000);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const fifo = join(fx.tmp.path, 'slow.fifo');
    const dec = decryptChild(['--to-pipe', fifo, paths.output]);
    await waitFor(dec.err, /waiting for a reader/, 10_000);
    // 8 KiB every 20 ms: far slower than decrypting, so writes wait on the full pipe.
    const slowReader = `const fs=require('fs');const fd=fs.openSync(process.argv[1],'r');const b=Buffer.alloc(8192);let n;
      while((n=fs.readSync(fd,b,0,b.length,null))>0){process.stdout.write(b.subarray(0,n));Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,20);}`;
    const reader = started(spawn(process.execPath, ['-e', slowReader, fifo], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await new Promise((r) => setTimeout(r, 300));
    expect(dec.child.exitCode).toBe(null); // still feeding the slow reader
    expect(await exitWithin(dec, 30_000)).toBe(0);
    expect(await exitWithin(reader, 10_000)).toBe(0);
    expect(linesByWriter(reader.out()).get('s')).toEqual(range(6_000));
  });

  it('with --follow, is a listening decrypter until SIGTERM', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    const fifo = join(fx.tmp.path, 'listen.fifo');
    const dec = decryptChild(['--follow', '--to-pipe', fifo, '--to-pipe-mode', '640', paths.output]);
    await waitFor(dec.err, /waiting for a reader/, 10_000);
    expect(statSync(fifo).mode & 0o777).toBe(0o640);
    const reader = started(spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await bursts(paths.pipe, 'l', 0, 300, 100);
    await waitFor(reader.out, lastLine('l', 299), 10_000);
    dec.child.kill('SIGTERM');
    expect(await exitWithin(dec, 5_000)).toBe(0);
    expect(await exitWithin(reader, 5_000)).toBe(0); // its writer closed: end of file
    expect(linesByWriter(reader.out()).get('l')).toEqual(range(300));
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
  });

  it('refuses an existing path that is not its FIFO (exit 3) and leaves it alone', async () => {
    const file = join(fx.tmp.path, 'not-a-fifo');
    writeFileSync(file, 'keep me\n');
    const dec = decryptChild(['--to-pipe', file, fx.keyFiles.pub]);
    expect(await exitWithin(dec, 10_000)).toBe(3);
    expect(dec.err()).toMatch(/TO_PIPE_NOT_FIFO/);
    expect(readFileSync(file, 'utf8')).toBe('keep me\n');
  });
});
