import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { nextPiece, readPacket } from '../../runtime/format/split.ts';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

/** The key packets (everything before the SEIPD packet) of every message of a binary log, as hex. */
function keyPacketsOf(file: string): string[] {
  const buf = readFileSync(file);
  const out: string[] = [];
  for (let p = nextPiece(buf, 0); p !== null; p = nextPiece(buf, p.end)) {
    expect(p.kind).toBe('message');
    let at = p.offset;
    for (;;) {
      const h = readPacket(buf, at);
      if (h.status !== 'ok') throw new Error('not a whole packet');
      if (h.tag === 18) break;
      at = h.end;
    }
    out.push(buf.toString('hex', p.offset, at));
  }
  return out;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function quit(pipe: string): void {
  const fd = openSync(pipe, 'w');
  writeSync(fd, `${QUIT}\n`);
  closeSync(fd);
}

describe('session-key window in a running copy', () => {
  it('blocks of one file share their key packets; a reopen starts a new key; gpg opens every block alone', { timeout: 60_000 }, async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--binary']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    // Several writer processes: several blocks.
    for (const id of ['a', 'b', 'c']) await writerProcess(paths.pipe, id, 50);
    await until(() => existsSync(paths.output) && keyPacketsOf(paths.output).length >= 4, 'the first blocks');
    const aside = `${paths.output}.1`;
    renameSync(paths.output, aside);
    copy.child.kill('SIGHUP');
    await until(() => copy.stderr().includes('OUTPUT_REOPENED') || existsSync(paths.output), 'the reopen');
    for (const id of ['d', 'e']) await writerProcess(paths.pipe, id, 50);
    quit(paths.pipe);
    expect(await copy.exited).toBe(0);

    const first = keyPacketsOf(aside);
    const second = keyPacketsOf(paths.output);
    expect(first.length).toBeGreaterThanOrEqual(4);
    expect(second.length).toBeGreaterThanOrEqual(2);
    expect(new Set(first).size).toBe(1);
    expect(new Set(second).size).toBe(1);
    expect(second[0]).not.toBe(first[0]);
    // Standalone: stock gpg opens each message alone, and the decrypter reads both files.
    const text = Buffer.concat([fx.gpgBlocks(aside).data, fx.gpgBlocks(paths.output).data]).toString();
    const by = linesByWriter(text);
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(by.get(id)).toEqual(range(50));
    const r = await fx.decrypt([aside, paths.output]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(text);
  });

  it('--session-key-window 0: every block has key packets of its own', { timeout: 60_000 }, async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--binary', '--session-key-window', '0']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    for (const id of ['a', 'b', 'c']) await writerProcess(paths.pipe, id, 50);
    quit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const packets = keyPacketsOf(paths.output);
    expect(packets.length).toBeGreaterThanOrEqual(4);
    expect(new Set(packets).size).toBe(packets.length);
    const by = linesByWriter(fx.gpgBlocks(paths.output).data.toString());
    for (const id of ['a', 'b', 'c']) expect(by.get(id)).toEqual(range(50));
  });
});
