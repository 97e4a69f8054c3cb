import { closeSync, openSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eFixture, QUIT, sendQuit } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

function writeLines(pipe: string, lines: readonly string[]): void {
  const fd = openSync(pipe, 'w');
  writeSync(fd, lines.map((l) => `${l}\n`).join(''));
  closeSync(fd);
}

const repeat = (line: string, n: number) => Array.from({ length: n }, (_, i) => `${line} #${i}`);

describe('--ignore / --keep', () => {
  it('drops exactly the lines the patterns say, counts each against one pattern, and says so in sealed records', async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--header', '# filtered', '--ignore', 'health', '--ignore', '^DEBUG', '--keep', '^(GET|POST|DEBUG) ', '--keep', ' [0-9]{3}( #[0-9]+)?$']);
    // The copy's --help shows the baked patterns (they are in its options digest too).
    const { run } = await import('../helpers/cli.ts');
    const help = await run(paths.copy, ['--help']);
    expect(help.stdout.toString()).toMatch(/^ignore: +"health"\nignore: +"\^DEBUG"\nkeep: +"\^\(GET\|POST\|DEBUG\) "\n/m);
    const copy = await fx.startReading(paths);
    const kept = [...repeat('GET /a 200', 5), ...repeat('POST /b 500', 4)];
    const long = `GET /health ${'x'.repeat(9000)} 200`; // over the match limit: kept unjudged
    const lines = [
      ...kept.slice(0, 3),
      ...repeat('GET /health 200', 3), // ignore "health"
      ...repeat('DEBUG x 200', 2), // ignore "^DEBUG"
      ...kept.slice(3),
      ...repeat('PUT /c 200', 2), // misses keep #1
      ...repeat('GET /d', 1), // misses keep #2
      long,
    ];
    writeLines(paths.pipe, lines);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(`# filtered\n${[...kept, long].map((l) => `${l}\n`).join('')}`);
    expect(r.stderr).toMatch(/^filtered: stream [0-9a-f]{32} .* \(final\): ".*c1\.pipe": 8 lines/m);

    const json = await fx.decrypt([paths.output], ['--json']);
    const records = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; type?: string; record?: Record<string, unknown> });
    const filtered = records.filter((o) => o.type === 'filtered').map((o) => o.record as { final: boolean; sources: Array<{ patterns: Array<{ kind: string; pattern: string; lines: number; bytes: number }>; totalLines: number; keptLines: number; unjudgedLines: number }> });
    const final = filtered.at(-1)!;
    expect(final.final).toBe(true);
    const byPattern = new Map<string, { lines: number; bytes: number }>();
    for (const rec of filtered) for (const p of rec.sources[0]!.patterns) {
      const c = byPattern.get(`${p.kind} ${p.pattern}`) ?? { lines: 0, bytes: 0 };
      byPattern.set(`${p.kind} ${p.pattern}`, { lines: c.lines + p.lines, bytes: c.bytes + p.bytes });
    }
    const bytesOf = (ls: string[]) => ls.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    expect(Object.fromEntries(byPattern)).toEqual({
      'ignore health': { lines: 3, bytes: bytesOf(repeat('GET /health 200', 3)) },
      'ignore ^DEBUG': { lines: 2, bytes: bytesOf(repeat('DEBUG x 200', 2)) },
      'keep ^(GET|POST|DEBUG) ': { lines: 2, bytes: bytesOf(repeat('PUT /c 200', 2)) },
      'keep  [0-9]{3}( #[0-9]+)?$': { lines: 1, bytes: bytesOf(repeat('GET /d', 1)) },
    });
    expect(final.sources[0]!.totalLines).toBe(8);
    expect(final.sources[0]!.keptLines).toBe(10);
    expect(final.sources[0]!.unjudgedLines).toBe(1);
    const end = records.find((o) => o.type === 'stream-end')!.record!;
    // The filtered records are sealed like every block: verify finds the stream whole.
    const { cli } = await import('../helpers/cli.ts');
    const verified = await cli(['verify', '--key', fx.keyFiles.sec, paths.output]);
    expect([verified.code, verified.stderr]).toEqual([0, '']);
    expect(end).toMatchObject({ filteredLines: 8, filteredBytes: [...byPattern.values()].reduce((n, c) => n + c.bytes, 0), lines: 10 });
  }, 60_000);

  it('refuses an invalid or backtracking-prone pattern at generation, naming it (exit 2)', async () => {
    const { cli } = await import('../helpers/cli.ts');
    const base = ['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', `${fx.tmp.path}/x.pipe`, '--output', `${fx.tmp.path}/x.log`, '--save-path', `${fx.tmp.path}/x.mjs`];
    const bad = await cli([...base, '--ignore', '(unclosed']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--ignore "\(unclosed": not a valid regular expression/);
    const nested = await cli([...base, '--keep', '^(a+)+$']);
    expect(nested.code).toBe(2);
    expect(nested.stderr).toMatch(/--keep "\^\(a\+\)\+\$": .*exponential time/);
  });
});
