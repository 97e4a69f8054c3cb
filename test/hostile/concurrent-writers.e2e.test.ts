import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const WRITERS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const LINES = 50_000;

describe('many writers at once', () => {
  it('8 writers x 50,000 lines of up to 4096 bytes: every line back exactly once, whole, never interleaved', { timeout: 240_000 }, async () => {
    const paths = await fx.generate(['--binary']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const accepted = await Promise.all(WRITERS.map((id) => writerProcess(paths.pipe, id, LINES, 'varied')));
    expect(accepted).toEqual(WRITERS.map(() => LINES));
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([paths.output]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = r.stdout.toString('latin1');
    const next = new Map(WRITERS.map((id) => [id, 0]));
    let count = 0;
    let at = 0;
    while (at < text.length) {
      const end = text.indexOf('\n', at);
      const line = text.slice(at, end < 0 ? text.length : end);
      at = end < 0 ? text.length : end + 1;
      // A line cut by another writer's bytes would break this shape or its stated length.
      const m = /^writer=([a-h]) seq=(\d+) len=(\d+) (x*)$/.exec(line);
      if (m === null) throw new Error(`line ${count + 1} is not a whole line: ${JSON.stringify(line.slice(0, 120))}`);
      const [, id, seq, len, padding] = m as unknown as [string, string, string, string, string];
      expect(padding.length).toBe(Number(len));
      // In order per writer, none missing, none twice.
      expect(Number(seq)).toBe(next.get(id));
      next.set(id, Number(seq) + 1);
      count += 1;
    }
    expect(count).toBe(WRITERS.length * LINES);
    expect([...next.values()]).toEqual(WRITERS.map(() => LINES));
  });
});
