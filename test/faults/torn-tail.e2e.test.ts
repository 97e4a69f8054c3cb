import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { nextPiece } from '../../runtime/format/split.ts';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, range, type CopyPaths } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

async function runWriting(paths: CopyPaths, id: string, lines: number): Promise<void> {
  const copy = await fx.startReading(paths);
  expect(await writerProcess(paths.pipe, id, lines)).toBe(lines);
  copy.child.kill('SIGTERM');
  expect(await copy.exited).toBe(0);
}

describe('a copy killed mid-write', () => {
  for (const format of ['armored', 'binary'] as const) {
    it(`${format}: a restarted copy appends cleanly after a torn tail; the decrypter reports the tail and reads every block after it`, async () => {
      const paths = await fx.generate(format === 'binary' ? ['--binary'] : []);
      await runWriting(paths, 'first', 500);
      // Cut the log inside its last message (the stream-end): what a kill during write(2) leaves.
      const buf = readFileSync(paths.output);
      let last = nextPiece(buf, 0);
      for (let p = last; p !== null; p = nextPiece(buf, p.end)) last = p;
      const cut = last!.offset + Math.floor((last!.end - last!.offset) / 2);
      truncateSync(paths.output, cut);

      await runWriting(paths, 'second', 500);
      const r = await fx.decrypt([paths.output]);
      expect(r.code).toBe(1);
      const problems = r.stderr.split('\n').filter((l) => / offset \d+: /.test(l));
      expect(problems).toHaveLength(1);
      // Armored, the missing END line says "torn"; binary, the cut message's length runs into the
      // next one, so it fails its integrity check ("undecryptable") and the next one is found.
      expect(problems[0]).toMatch(new RegExp(`offset ${last!.offset}: ${format === 'armored' ? 'torn' : 'undecryptable'}: `));
      const by = linesByWriter(r.stdout.toString());
      expect(by.get('first')).toEqual(range(500));
      expect(by.get('second')).toEqual(range(500));
      // Stock gpg opens every block the restarted copy wrote after the torn bytes.
      const after = readFileSync(paths.output).subarray(cut);
      let opened = 0;
      for (let p = nextPiece(after, 0); p !== null; p = nextPiece(after, p.end)) {
        if (p.kind !== 'message') continue;
        fx.gpg.decrypt(after.subarray(p.offset, p.end));
        opened += 1;
      }
      expect(opened).toBeGreaterThanOrEqual(3); // stream-start, data, stream-end
    });
  }

  it('a real SIGKILL under a flood: every block on disk decrypts, lines are a gapless prefix, the restart adds its own', async () => {
    const paths = await fx.generate(['--binary']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const writing = writerProcess(paths.pipe, 'flood', 2_000_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 700));
    copy.child.kill('SIGKILL');
    await copy.exited;
    await writing; // EPIPE once the reader is gone
    await runWriting(paths, 'after', 300);

    const r = await fx.decrypt([paths.output]);
    for (const line of r.stderr.split('\n').filter((l) => / offset \d+: /.test(l))) expect(line).toMatch(/: (torn|garbage|undecryptable): /);
    const by = linesByWriter(r.stdout.toString());
    const flood = by.get('flood') ?? [];
    expect(flood.length).toBeGreaterThan(0);
    expect(flood).toEqual(range(flood.length)); // what was lost is the unwritten tail only
    expect(by.get('after')).toEqual(range(300));
  });

  it('a log or pipe a killed copy left half made (empty or a FIFO, ours, not yet its baked mode) is finished at the next start, not refused', async () => {
    const paths = await fx.generate(['--pipe-mode', '620']);
    // What a kill between open(O_CREAT)/mkfifo and fchmod leaves, with the umask of 077.
    writeFileSync(paths.output, '', { mode: 0o600 });
    execFileSync('mkfifo', ['-m', '600', paths.pipe]);
    await runWriting(paths, 'next', 100);
    expect(statSync(paths.output).mode & 0o777).toBe(0o640);
    const r = await fx.decrypt([paths.output]);
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('next')).toEqual(range(100));
    expect(() => lstatSync(paths.pipe)).toThrow(/ENOENT/); // adopted as its own, so removed at stop
  });
});
