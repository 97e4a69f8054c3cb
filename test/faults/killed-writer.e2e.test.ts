import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a writer killed in the middle of a line', () => {
  it('its partial line is sealed after the wait, and a quit line written next still stops the copy', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    const ready = join(fx.tmp.path, 'half.ready');
    const half = 'writer=killed seq=100 this line never ends';
    const writer = spawn(process.execPath, [join(ROOT, 'test', 'helpers', 'half-line-writer.mjs'), paths.pipe, '100', half, ready], { stdio: 'ignore' });
    const writerGone = new Promise((r) => writer.on('exit', (_code, signal) => r(signal)));
    try {
      await until(() => existsSync(ready), 'the writer to write its half line');
      writer.kill('SIGKILL');
      expect(await writerGone).toBe('SIGKILL');
      // Wait until the copy has sealed the partial line (after its 200 ms wait): the decrypted
      // live log then ends with it. Before that, the next bytes would still join that line.
      await until(async () => (await fx.decrypt([paths.output])).stdout.toString().endsWith(half), 'the partial line in the log');

      // What an admin types: `echo QUIT > pipe`, a separate process writing one whole line.
      const echo = await run('/bin/sh', ['-c', 'echo "$1" > "$2"', 'sh', QUIT, paths.pipe]);
      expect(echo.code).toBe(0);
      const code = await Promise.race([copy.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
      expect(code, copy.stderr()).toBe(0);

      const r = await fx.decrypt([paths.output], ['--show-control']);
      expect(r.code).toBe(0);
      const text = r.stdout.toString();
      expect(linesByWriter(text).get('killed')).toEqual(range(100));
      // The partial line is kept as it was, without a newline; the quit line is not logged.
      expect(text.endsWith(`\n${half}`)).toBe(true);
      expect(text).not.toContain(QUIT);
      expect(r.stderr).toMatch(/"type":"stream-end"[^\n]*"reason":"quit/);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});
