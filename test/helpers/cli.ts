import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import tmp from 'tmp';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.mjs');
export const WRITER = join(ROOT, 'test', 'helpers', 'writer.mjs');

/** Whether `program args` runs and exits 0: to skip a test, with a reason, where a tool is missing. */
export function has(program: string, args: readonly string[]): boolean {
  try {
    execFileSync(program, [...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a program to completion with an argument array (no shell). */
export function run(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    // A hard bound: a helper stuck (say, a writer opening a pipe nobody reads) must not outlive the test.
    const child = execFile(file, [...args], { env: options.env ?? process.env, encoding: 'buffer', maxBuffer: 512 * 1024 * 1024, cwd: options.cwd, timeout: 120_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolvePromise({ code, stdout, stderr: stderr.toString('utf8') });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

export function cli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer; cwd?: string } = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], options);
}

/** A temp dir (mode 700) that only its owner can write: what the generator requires. */
export function tempDir(prefix = 'pp-test-'): { path: string; dispose: () => void } {
  const dir = tmp.dirSync({ prefix, mode: 0o700, unsafeCleanup: true });
  return { path: dir.name, dispose: () => dir.removeCallback() };
}

export interface RunningCopy {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

export function startCopy(copyPath: string, args: readonly string[] = []): RunningCopy {
  const child = spawn(copyPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (err += t));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, stderr: () => err };
}

/**
 * Runs test/helpers/writer.mjs: lines `first` .. `first + count - 1`; resolves with how many
 * lines the kernel accepted.
 */
export function writerProcess(pipe: string, id: string, count: number, pad: number | 'varied' = 40, first = 0, readyFile?: string): Promise<number> {
  const args = [WRITER, pipe, id, String(count), String(pad), String(first), ...(readyFile === undefined ? [] : [readyFile])];
  return run(process.execPath, args).then((r) => {
    if (r.code !== 0) throw new Error(`writer ${id} failed (${r.code}): ${r.stderr}`);
    return Number(r.stdout.toString().trim());
  });
}
