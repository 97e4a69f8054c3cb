import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cli, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit, waitFor } from '../helpers/e2e.ts';

/** The passphrase prompt of `decrypt`, on a real pty made by script(1), typed like a person would. */
const fx = new E2eFixture();
const PASS = 'typed at the prompt';
let sec: string;
let log: string;

beforeAll(async () => {
  await fx.setup();
  const passFile = join(fx.tmp.path, 'pass');
  writeFileSync(passFile, `${PASS}\n`, { mode: 0o600 });
  const keyDir = join(fx.tmp.path, 'keys');
  expect((await cli(['keygen', '--email', 'tty@example.org', '--out-dir', keyDir, '--passphrase-file', passFile])).code).toBe(0);
  sec = join(keyDir, 'tty@example.org.sec.asc');
  const paths = await fx.generate(['--recipient-key', join(keyDir, 'tty@example.org.pub.asc'), '--quit-string', QUIT]);
  const copy = await fx.startReading(paths);
  await writerProcess(paths.pipe, 't', 100);
  sendQuit(paths.pipe);
  expect(await copy.exited).toBe(0);
  log = paths.output;
});
afterAll(() => fx.dispose());

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs decrypt under a pty; `typed` is sent once the prompt shows. Resolves with what the pty showed. */
async function onPty(out: string, typed: string): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, CLI, 'decrypt', '--key', sec, '--output', out, log].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (screen += t));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(() => screen, /Passphrase for [0-9A-F]{40}: /, 20_000);
    child.stdin.write(typed);
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') throw new Error(`decrypt did not end; the pty showed:\n${screen}`);
    return { code, screen };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('decrypt passphrase prompt on a terminal', () => {
  it('asks on the terminal, does not echo what is typed, and decrypts with it (backspace works)', async () => {
    const out = join(fx.tmp.path, 'plain.txt');
    const { code, screen } = await onPty(out, `${PASS}x\x7f\r`);
    expect(screen).not.toContain(PASS);
    expect(code).toBe(0);
    expect(linesByWriter(readFileSync(out, 'utf8')).get('t')).toEqual(range(100));
  });

  it('a wrong passphrase exits 2; ^C at the prompt cancels (exit 2), and nothing is written', async () => {
    const wrong = await onPty(join(fx.tmp.path, 'wrong.txt'), 'not it\r');
    expect(wrong.screen).toMatch(/BAD_PASSPHRASE/);
    expect(wrong.code).toBe(2);
    const cancelled = await onPty(join(fx.tmp.path, 'cancelled.txt'), '\x03');
    expect(cancelled.screen).toMatch(/PASSPHRASE_CANCELLED/);
    expect(cancelled.code).toBe(2);
    expect(existsSync(join(fx.tmp.path, 'wrong.txt')) || existsSync(join(fx.tmp.path, 'cancelled.txt'))).toBe(false);
  });
});
