import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { errnoCode, PipesError } from '../runtime/errors.ts';

/** How long --start waits for the copy to show its pipe before calling the start failed. */
const START_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

/**
 * Starts an installed copy detached and waits until its pipe exists, so an admin learns at once
 * if it refused to start. Its stderr is shown until then; afterwards the copy is on its own
 * (a systemd unit is the way to keep its diagnostics).
 */
export async function startCopy(savePath: string, pipePath: string): Promise<number> {
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
    if (fifoHasReader(pipePath)) break;
    const code = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), POLL_MS))]);
    if (code !== 'wait') throw new PipesError('START_FAILED', `the copy exited (${code}) before creating its pipe:\n${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new PipesError('START_FAILED', `the copy did not create ${pipePath} within ${START_TIMEOUT_MS} ms:\n${stderr.trim()}`);
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

/** Polls until the FIFO has a reader; throws after `timeoutMs`. */
export async function waitForReader(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fifoHasReader(path)) {
    if (Date.now() > deadline) throw new PipesError('NO_READER', `nothing reads ${path} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
