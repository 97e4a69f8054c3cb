import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { splitMessages } from '../helpers/tamper.ts';

/**
 * The decrypter's own sequence checks, each shown by a real log cut or repeated: with any one of
 * them switched off, a test here fails (the gap report, the repeat drop, the stream-end count).
 */
const fx = new E2eFixture();
let log: string;

beforeAll(async () => {
  await fx.setup();
  const paths = await fx.generate(['--quit-string', QUIT], 'seq');
  const copy = await fx.startReading(paths);
  // Bursts with pauses between them: several data blocks.
  for (let burst = 0; burst < 4; burst += 1) {
    await writerProcess(paths.pipe, `w${burst}`, 50);
    await new Promise((r) => setTimeout(r, 40));
  }
  sendQuit(paths.pipe);
  expect(await copy.exited).toBe(0);
  log = paths.output;
});
afterAll(() => fx.dispose());

describe('decrypt checks the sequence of a real log', () => {
  it('an untouched log decrypts with no problem', async () => {
    const r = await fx.decrypt([log]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const id of ['w0', 'w1', 'w2', 'w3']) expect(linesByWriter(r.stdout.toString()).get(id)).toEqual(range(50));
  });

  it('names the blocks cut out of the middle, and the stream-end count no longer matches (exit 1)', async () => {
    const messages = splitMessages(readFileSync(log));
    expect(messages.length).toBeGreaterThanOrEqual(5);
    const cut = join(fx.tmp.path, 'cut.log');
    // Message 0 is the stream-start; 2 is a data block in the middle.
    const kept = messages.filter((_, i) => i !== 2);
    writeFileSync(cut, Buffer.concat(kept));
    const r = await fx.decrypt([cut]);
    expect(r.code).toBe(1);
    const offset = messages[0]!.length + messages[1]!.length;
    expect(r.stderr).toMatch(new RegExp(`offset ${offset}: missing-blocks: stream [0-9a-f]{32}: 1 block\\(s\\) missing before sequence 3`));
    expect(r.stderr).toMatch(/count-mismatch: stream [0-9a-f]{32}: the copy wrote 200 lines/);
  });

  it('drops a repeated block, so every line comes out once (exit 0)', async () => {
    const messages = splitMessages(readFileSync(log));
    const doubled = join(fx.tmp.path, 'doubled.log');
    writeFileSync(doubled, Buffer.concat([...messages.slice(0, 3), messages[2]!, ...messages.slice(3)]));
    const r = await fx.decrypt([doubled]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const id of ['w0', 'w1', 'w2', 'w3']) expect(linesByWriter(r.stdout.toString()).get(id)).toEqual(range(50));
  });
});
