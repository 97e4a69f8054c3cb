import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, has, tempDir } from '../helpers/cli.ts';
import { makeKey, testEncryptor, writeKeyFiles } from '../helpers/keys.ts';

/**
 * Decrypted text on a terminal (a real pty made by script(1)): a problem report on stderr shows
 * where the problem is, between the lines of the blocks before and after it, not ahead of lines
 * still held for a larger write.
 */
const dir = tempDir('pp-tty-order-');
const haveScript = has('script', ['--version']);
let sec: string;
let log: string;
const BLOCKS = 12;
const DAMAGED = 6;
const lineOf = (block: number, i: number) => `block=${block} line=${i}`;

beforeAll(async () => {
  const key = await makeKey('order@example.org');
  sec = writeKeyFiles(dir.path, 'admin', key).sec;
  // Small blocks: all of them together are far below one output batch.
  const enc = await testEncryptor([key.publicArmored], 'zlib', true);
  const messages: Buffer[] = [];
  for (let seq = 0; seq < BLOCKS; seq += 1) {
    const text = Array.from({ length: 5 }, (_, i) => `${lineOf(seq, i)}\n`).join('');
    messages.push(Buffer.from(await enc.seal(Buffer.from(text), { streamId: 'ef'.repeat(16), seq, kind: 'data' }, new Date())));
  }
  const bad = messages[DAMAGED] as Buffer;
  // One base64 character of the body changed: the block fails its integrity check.
  let at = bad.length - 60;
  while (bad[at] === 0x0a || bad[at] === 0x3d) at -= 1;
  bad[at] = bad[at] === 0x41 ? 0x42 : 0x41;
  log = join(dir.path, 'damaged.log');
  writeFileSync(log, Buffer.concat(messages));
});
afterAll(() => dir.dispose());

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe.skipIf(!haveScript)('decrypt to a terminal', () => {
  if (!haveScript) console.log('skipped: script(1) is not installed (util-linux)');

  it('shows the report of a damaged block between the lines before and after it', async () => {
    const command = [process.execPath, CLI, 'decrypt', '--quiet', '--key', sec, log].map(quote).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (screen += t));
    const code = await Promise.race([new Promise<number | null>((r) => child.on('exit', (c) => r(c))), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(1);
    const report = screen.indexOf('undecryptable');
    expect(report, screen).toBeGreaterThan(0);
    for (let block = 0; block < BLOCKS; block += 1) {
      if (block === DAMAGED) continue;
      const at = screen.indexOf(lineOf(block, 4));
      expect(at, `${lineOf(block, 4)} in:\n${screen}`).toBeGreaterThanOrEqual(0);
      if (block < DAMAGED) expect(at, screen).toBeLessThan(report);
      else expect(at, screen).toBeGreaterThan(report);
    }
    expect(screen).not.toContain(lineOf(DAMAGED, 0));
  }, 30_000);
});
