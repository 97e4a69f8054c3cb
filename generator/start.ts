import { spawn } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readlinkSync } from 'node:fs';
import { errnoCode, PipesError } from '../runtime/errors.ts';

/** How long --start waits for the copy to show its pipe (or hold its log open) before calling the start failed. */
const START_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

/**
 * What tells that a copy has started: its pipe has a reader, or, for a copy without a pipe
 * (files or sessions only), the copy holds its log open (it opens it right after its keys load).
 */
export type StartSign = { readonly pipe: string } | { readonly output: string };

/**
 * Starts an installed copy detached and waits until it shows its start sign, so an admin learns
 * at once if it refused to start. Its stderr is shown until then; afterwards the copy is on its
 * own (a systemd unit is the way to keep its diagnostics).
 */
export async function startCopy(savePath: string, sign: StartSign): Promise<number> {
  const child = spawn(savePath, [], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(-1));
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if ('pipe' in sign ? fifoHasReader(sign.pipe) : child.pid !== undefined && holdsOpen(child.pid, sign.output)) break;
    const code = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), POLL_MS))]);
    const what = 'pipe' in sign ? 'creating its pipe' : 'opening its log';
    if (code !== 'wait') throw new PipesError('START_FAILED', `the copy exited (${code}) before ${what}:\n${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new PipesError('START_FAILED', `the copy did not ${'pipe' in sign ? `create ${sign.pipe}` : `open ${sign.output}`} within ${START_TIMEOUT_MS} ms:\n${stderr.trim()}`);
    }
  }
  child.stderr.destroy();
  child.unref();
  return child.pid ?? -1;
}

/**
 * True once some process has the FIFO open for reading. A non-blocking open for writing fails
 * with ENXIO until then (and ENOENT before the FIFO exists); when it succeeds we close at once,
 * writing nothing, which a reader opened O_RDWR does not even notice.
 */
export function fifoHasReader(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW));
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENXIO' || code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * True once process `pid` has `path` open (one of its /proc/PID/fd links names it). The
 * generator started the copy, as the same user or as root, so it may look there.
 */
export function holdsOpen(pid: number, path: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or not ours to look at: the exit (or the timeout) says more
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile
    }
  });
}

/** Polls until the FIFO has a reader; throws after `timeoutMs`. */
export async function waitForReader(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fifoHasReader(path)) {
    if (Date.now() > deadline) throw new PipesError('NO_READER', `nothing reads ${path} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
