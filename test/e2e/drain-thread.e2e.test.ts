import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit, waitFor } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

/** Said (at --log-level debug) once the flood's drain thread is up and reads the pipe. */
const DRAIN_STARTED = /debug DRAIN_THREAD: started/;

/**
 * Starts writers `ids` flooding the pipe with 2,000,000 lines each (far more than a test lets
 * them write) and returns once each has begun and the copy's drain thread has read for 300 ms;
 * `accepted`: how many lines each writer got into the pipe, once they end.
 */
async function floodWithThread(pipe: string, ids: readonly string[], stderr: () => string, tag: string): Promise<{ accepted: Promise<number[]> }> {
  const ready = (id: string) => join(fx.tmp.path, `${tag}-ready-${id}`);
  const writing = ids.map((id) => writerProcess(pipe, id, 2_000_000, 40, 0, ready(id)));
  for (const id of ids) {
    for (let i = 0; i < 1000 && !existsSync(ready(id)); i += 1) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(ready(id))).toBe(true);
  }
  await waitFor(stderr, DRAIN_STARTED, 20_000);
  await new Promise((r) => setTimeout(r, 300));
  return { accepted: Promise.all(writing) };
}

/** Every line of the output is one writer's whole line (`writer=ID seq=N len=L x{L}`, as writer.mjs writes `varied`). */
function wholeVariedLines(text: string): void {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^writer=\w+ seq=\d+ len=(\d+) (x*)$/.exec(line);
    if (m === null) throw new Error(`not a whole line: ${JSON.stringify(line.slice(0, 120))}`);
    expect(m[2]!.length).toBe(Number(m[1]));
  }
}

const bySeq = (text: string) => {
  const by = new Map<string, number[]>();
  for (const m of text.matchAll(/^writer=(\w+) seq=(\d+) /gm)) {
    const list = by.get(m[1]!) ?? [];
    list.push(Number(m[2]));
    by.set(m[1]!, list);
  }
  return by;
};

describe('the flood drain thread', () => {
  it('a flood of writers read by the drain thread: every line back exactly once, whole, in order per writer', { timeout: 180_000 }, async () => {
    const paths = await fx.generate(['--log-level', 'debug']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const accepted = await Promise.all(ids.map((id) => writerProcess(paths.pipe, id, 40_000, 'varied')));
    expect(accepted).toEqual(ids.map(() => 40_000));
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    // The path under test was taken: the thread read (part of) this flood.
    expect(copy.stderr()).toMatch(DRAIN_STARTED);

    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"type":"stream-end".*"lines":240000.*"droppedLines":0/);
    const text = r.stdout.toString('latin1');
    wholeVariedLines(text);
    const by = bySeq(text);
    for (const id of ids) expect(by.get(id)).toEqual(range(40_000));
  });

  it('SIGTERM in a flood the thread reads: lines from before the stop all kept; the rest a whole, in-order prefix, loss within one pipe buffer', { timeout: 180_000 }, async () => {
    const paths = await fx.generate(['--log-level', 'debug']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const before = await Promise.all(['a', 'b'].map((id) => writerProcess(paths.pipe, id, 2000)));
    expect(before).toEqual([2000, 2000]);
    const flooders = ['p', 'q', 'r', 's'];
    // Stop while the thread reads: it has started, and the writers are still far from done.
    const flood = await floodWithThread(paths.pipe, flooders, copy.stderr, 'drain');
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const accepted = await flood.accepted;
    for (const n of accepted) expect(n).toBeLessThan(2_000_000);

    const r = await fx.decrypt([paths.output]);
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    expect(text.split('\n').filter((l) => l !== '' && !/^writer=[abpqrs] seq=\d+ x{40}$/.test(l))).toEqual([]);
    const by = linesByWriter(text);
    expect(by.get('a')).toEqual(range(2000));
    expect(by.get('b')).toEqual(range(2000));
    let lostBytes = 0;
    flooders.forEach((id, i) => {
      const got = by.get(id) ?? [];
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(range(got.length));
      expect(got.length).toBeLessThanOrEqual(accepted[i]!);
      for (let seq = got.length; seq < accepted[i]!; seq += 1) lostBytes += `writer=${id} seq=${seq} ${'x'.repeat(40)}\n`.length;
    });
    // As without the thread: only what writers add to the emptied pipe while the copy closes it.
    expect(lostBytes).toBeLessThanOrEqual(65536);
  });

  it('the quit string in a flood the thread reads: the copy stops, and what the thread read after it is kept too', { timeout: 180_000 }, async () => {
    const paths = await fx.generate(['--log-level', 'debug', '--quit-string', QUIT]);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const flooders = ['p', 'q', 'r', 's'];
    const flood = await floodWithThread(paths.pipe, flooders, copy.stderr, 'quit');
    // The quit line lands among the flood's lines: the copy finds it in what the thread read,
    // with more lines behind it in the ring and the pipe.
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const accepted = await flood.accepted;

    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"reason":"quit string"/);
    const text = r.stdout.toString();
    expect(text.split('\n').filter((l) => l !== '' && !/^writer=[pqrs] seq=\d+ x{40}$/.test(l))).toEqual([]);
    const by = linesByWriter(text);
    let lostBytes = 0;
    flooders.forEach((id, i) => {
      const got = by.get(id) ?? [];
      expect(got).toEqual(range(got.length));
      for (let seq = got.length; seq < accepted[i]!; seq += 1) lostBytes += `writer=${id} seq=${seq} ${'x'.repeat(40)}\n`.length;
    });
    expect(lostBytes).toBeLessThanOrEqual(65536);
  });

  it('--on-overload drop with the thread reading: whatever is dropped is counted exactly; the rest comes back once, in order', { timeout: 180_000 }, async () => {
    const paths = await fx.generate(['--log-level', 'debug', '--max-buffer', '2M', '--on-overload', 'drop']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    // A dropping copy never makes writers wait: the kernel accepts every line.
    expect(await Promise.all(ids.map((id) => writerProcess(paths.pipe, id, 40_000, 200)))).toEqual(ids.map(() => 40_000));
    expect(await writerProcess(paths.pipe, 'after', 100, 200)).toBe(100);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    expect(copy.stderr()).toMatch(DRAIN_STARTED);

    const r = await fx.decrypt([paths.output], ['--show-control']);
    const end = /"type":"stream-end".*"lines":(\d+),"bytes":(\d+),"droppedLines":(\d+),"droppedBytes":(\d+)/.exec(r.stderr);
    expect(end).not.toBeNull();
    const [kept, keptBytes, dropped, droppedBytes] = end!.slice(1).map(Number) as [number, number, number, number];
    // Eight writers outrun sealing into a 2 MiB buffer: the drop path is taken.
    expect(dropped).toBeGreaterThan(0);
    expect(r.code).toBe(1);
    expect(kept + dropped).toBe(ids.length * 40_000 + 100);
    const lineBytes = (id: string, seq: number) => `writer=${id} seq=${seq} ${'x'.repeat(200)}\n`.length;
    const written = [...ids.flatMap((id) => range(40_000).map((s) => lineBytes(id, s))), ...range(100).map((s) => lineBytes('after', s))].reduce((a, b) => a + b, 0);
    expect(keptBytes + droppedBytes).toBe(written);
    const text = r.stdout.toString();
    expect(text.split('\n').filter((l) => l !== '' && !/^writer=\w+ seq=\d+ x{200}$/.test(l))).toEqual([]);
    const by = linesByWriter(text);
    const back = [...by.values()].reduce((n, seqs) => n + seqs.length, 0);
    expect(back).toBe(kept);
    for (const id of ids) {
      const seqs = by.get(id) ?? [];
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    expect(by.get('after')).toEqual(range(100));
  });
});
