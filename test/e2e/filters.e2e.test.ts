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

  it('filters each source on its own: a watched file and the pipe are counted apart, each under its own name', async () => {
    const { appendFileSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(fx.tmp.path, 'filtered-app.log');
    writeFileSync(file, '');
    const paths = await fx.generate(['--quit-string', QUIT, '--watch-file', file, '--watch-from', 'start', '--ignore', 'health'], 'per-source');
    const copy = await fx.startReading(paths);
    appendFileSync(file, [...repeat('file GET /health', 4), ...repeat('file GET /x', 3)].map((l) => `${l}\n`).join(''));
    writeLines(paths.pipe, [...repeat('pipe GET /health', 2), ...repeat('pipe GET /y', 5)]);
    // The file is read on its own schedule: wait until its position file holds its whole size.
    const { readFileSync, statSync } = await import('node:fs');
    const size = statSync(file).size;
    for (let i = 0; i < 100 && !readState(`${paths.output}.watch.pos`).includes(`"offset":${size}`); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    function readState(path: string): string {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      }
    }
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const json = await fx.decrypt([paths.output], ['--json']);
    const objects = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; type?: string; line?: string; source?: string; record?: Record<string, unknown> });
    const lines = objects.filter((o) => o.kind === 'line');
    expect(lines.filter((o) => o.source === 'f1').map((o) => o.line)).toEqual(repeat('file GET /x', 3));
    expect(lines.filter((o) => o.source === undefined).map((o) => o.line)).toEqual(repeat('pipe GET /y', 5));
    const final = objects.filter((o) => o.type === 'filtered').at(-1)!.record as { final: boolean; sources: Array<{ source: string; totalLines: number; keptLines: number }> };
    expect(final.final).toBe(true);
    const bySource = Object.fromEntries(final.sources.map((s) => [s.source, [s.totalLines, s.keptLines]]));
    expect(bySource).toEqual({ [paths.pipe]: [2, 5], f1: [4, 3] });
  }, 60_000);

  it('a watched file whose last lines are all filtered out still moves on: --consume empties it, and a restart neither reads nor counts them again', async () => {
    const { appendFileSync, readFileSync, statSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(fx.tmp.path, 'mostly-noise.log');
    writeFileSync(file, '');
    const paths = await fx.generate(['--quit-string', QUIT, '--watch-file', file, '--watch-from', 'start', '--consume', '--ignore', 'noise'], 'noisy');
    let copy = await fx.startReading(paths);
    appendFileSync(file, 'keep 1\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    appendFileSync(file, 'noise 2\nnoise 3\n');
    // Emptied once it is quiet for a second and every byte read is accounted for.
    for (let i = 0; i < 60 && statSync(file).size > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readFileSync(file, 'utf8')).toBe('');
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    copy = await fx.startReading(paths);
    await new Promise((resolve) => setTimeout(resolve, 800));
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const json = await fx.decrypt([paths.output], ['--json']);
    const objects = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; type?: string; line?: string; record?: Record<string, unknown> });
    expect(objects.filter((o) => o.kind === 'line').map((o) => o.line)).toEqual(['keep 1']);
    const finals = objects.filter((o) => o.type === 'filtered' && (o.record as { final: boolean }).final).map((o) => (o.record as { sources: Array<{ source: string; totalLines: number }> }).sources);
    // Two runs, two final records: the two noise lines are counted by the first only.
    expect(finals.map((sources) => sources.find((x) => x.source === 'f1')?.totalLines ?? 0)).toEqual([2, 0]);
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
