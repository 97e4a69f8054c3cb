import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { nextPiece } from '../../runtime/format/split.ts';
import { cli, startCopy, tempDir, type RunningCopy } from './cli.ts';
import { TempGpg } from './gpg.ts';
import { makeKey, writeKeyFiles, type TestKey } from './keys.ts';

export const QUIT = 'test-quit-0f9e8d7c6b5a';

/** Stops a copy made with `--quit-string QUIT` the way an operator does: the quit line into its pipe. */
export function sendQuit(pipe: string): void {
  const fd = openSync(pipe, 'w');
  writeSync(fd, `${QUIT}\n`);
  closeSync(fd);
}

export interface CopyPaths {
  readonly dir: string;
  readonly pipe: string;
  readonly output: string;
  readonly copy: string;
}

/** One temp dir, one key (also imported into a temp GnuPG home), and helpers around the CLI. */
export class E2eFixture {
  readonly tmp = tempDir('pp-e2e-');
  readonly gpg = new TempGpg();
  key!: TestKey;
  keyFiles!: { pub: string; sec: string };
  private count = 0;

  async setup(): Promise<this> {
    this.key = await makeKey('e2e@example.org');
    this.keyFiles = writeKeyFiles(this.tmp.path, 'admin', this.key);
    this.gpg.importKey(this.key.privateArmored);
    return this;
  }

  private readonly started: RunningCopy[] = [];

  /** Kills any copy a failed test left running, then removes everything. */
  dispose(): void {
    for (const copy of this.started) if (copy.child.exitCode === null && copy.child.signalCode === null) copy.child.kill('SIGKILL');
    this.gpg.dispose();
    this.tmp.dispose();
  }

  /** Generates a copy with the given extra options; fails the test if the generator fails. */
  async generate(extra: readonly string[] = [], name = `c${(this.count += 1)}`): Promise<CopyPaths> {
    const paths = { dir: this.tmp.path, pipe: join(this.tmp.path, `${name}.pipe`), output: join(this.tmp.path, `${name}.log`), copy: join(this.tmp.path, `${name}.mjs`) };
    const r = await cli(['encrypter', '--recipient-key', this.keyFiles.pub, '--pipe', paths.pipe, '--output', paths.output, '--save-path', paths.copy, ...extra]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The copy must run with nothing beside it: no node_modules anywhere up its tree.
    for (let d = dirname(paths.copy); d !== '/'; d = dirname(d)) expect(existsSync(join(d, 'node_modules'))).toBe(false);
    return paths;
  }

  start(paths: CopyPaths, args: readonly string[] = []): RunningCopy {
    const copy = startCopy(paths.copy, args);
    this.started.push(copy);
    return copy;
  }

  /** Starts the copy and waits until it reads its pipe; if it never does, says what it printed. */
  async startReading(paths: CopyPaths, args: readonly string[] = []): Promise<RunningCopy> {
    const copy = this.start(paths, args);
    await waitForReader(paths.pipe, 10_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; exit ${copy.child.exitCode}; the copy said:\n${copy.stderr()}`);
    });
    return copy;
  }

  /** `paranoid-pipes decrypt` on the given files. */
  decrypt(files: readonly string[], extra: readonly string[] = []) {
    return cli(['decrypt', '--key', this.keyFiles.sec, ...extra, ...files]);
  }

  /**
   * Every message of a log decrypted by real gpg, one `gpg --decrypt` per message. Control
   * blocks (JSON records) are returned apart from data blocks.
   */
  gpgBlocks(file: string): { data: Buffer; controls: Array<Record<string, unknown>> } {
    const buf = readFileSync(file);
    const data: Buffer[] = [];
    const controls: Array<Record<string, unknown>> = [];
    for (let p = nextPiece(buf, 0); p !== null; p = nextPiece(buf, p.end)) {
      expect(p.kind).toBe('message');
      const plain = this.gpg.decrypt(buf.subarray(p.offset, p.end));
      const control = asControl(plain);
      if (control) controls.push(control);
      else data.push(plain);
    }
    return { data: Buffer.concat(data), controls };
  }
}

function asControl(plain: Buffer): Record<string, unknown> | null {
  if (plain[0] !== 0x7b) return null;
  try {
    const v = JSON.parse(plain.toString()) as Record<string, unknown>;
    return ['stream-start', 'stream-end', 'event', 'filtered', 'monitor'].includes(String(v.type)) ? v : null;
  } catch {
    return null;
  }
}

/** Lines of the form `writer=ID seq=N ...`, grouped by writer, in log order. */
export function linesByWriter(text: string): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    const m = /^writer=(\S+) seq=(\d+) x*$/.exec(line);
    if (!m) continue;
    const list = by.get(m[1]!) ?? [];
    list.push(Number(m[2]));
    by.set(m[1]!, list);
  }
  return by;
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Resolves once `read()` matches, or rejects after `ms` with the end of what it read. */
export async function waitFor(read: () => string, pattern: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got:\n${read().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * After a test of a generated init script: a failed test may leave the copy running, so it is
 * killed by its pidfile; the pidfile and the diagnostics file go.
 */
export function removeInitScriptLeftovers(pidFile: string, diagnostics: string): void {
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(pidFile, { force: true });
  rmSync(diagnostics, { force: true });
}
