import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eFixture, QUIT, sendQuit, waitFor } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Entry {
  path: string;
  sha256: string | null;
  mode: number;
}
interface MonitorRecord {
  kind: 'baseline' | 'change' | 'check';
  files?: Entry[];
  change?: string;
  path?: string;
  before?: Entry | null;
  after?: Entry | null;
}

describe('--monitor', () => {
  it('records a baseline, then a changed, a removed, an added file and a mode change, with their hashes', async () => {
    const dir = join(fx.tmp.path, 'watched');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const [a, b, c, d] = ['a.conf', 'b.conf', 'sub/c.conf', 'd.conf'].map((n) => join(dir, n)) as [string, string, string, string];
    writeFileSync(a, 'alpha\n');
    writeFileSync(b, 'bravo\n');
    writeFileSync(c, 'charlie\n');
    chmodSync(c, 0o644);
    symlinkSync(a, join(dir, 'link-to-a')); // not followed, not listed
    const before = { a: sha(a), b: sha(b), c: sha(c) };

    const paths = await fx.generate(['--quit-string', QUIT, '--monitor', dir, '--monitor-every', '1s']);
    const copy = await fx.startReading(paths);
    await waitFor(copy.stderr, /MONITOR_BASELINE: 3 files listed/, 10_000);
    // d last: the check that lists it sees every other change too (or an earlier check did).
    writeFileSync(a, 'alpha, changed\n');
    rmSync(b);
    chmodSync(c, 0o600);
    writeFileSync(d, 'delta\n');
    await waitFor(copy.stderr, /MONITOR_CHANGE: new: .*d\.conf/, 10_000);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([paths.output], ['--monitor-report', '--json']);
    expect(r.code).toBe(0);
    const records = r.stdout.toString().trim().split('\n').map((l) => (JSON.parse(l) as { type: string; record: MonitorRecord }));
    expect(records.every((o) => o.type === 'monitor')).toBe(true);
    const monitor = records.map((o) => o.record);
    const baseline = monitor.find((m) => m.kind === 'baseline')!;
    expect(baseline.files!.map((f) => [f.path, f.sha256])).toEqual([
      [a, before.a],
      [b, before.b],
      [c, before.c],
    ]);
    const byPath = (x: unknown[], y: unknown[]) => String(x[1]).localeCompare(String(y[1]));
    const changes = monitor.filter((m) => m.kind === 'change').map((m) => [m.change, m.path, m.before?.sha256 ?? null, m.after?.sha256 ?? null]).sort(byPath);
    expect(changes).toEqual([
      ['changed', a, before.a, sha(a)],
      ['gone', b, before.b, null],
      ['new', d, null, sha(d)],
      ['mode', c, before.c, before.c],
    ].sort(byPath));
    const mode = monitor.find((m) => m.change === 'mode')!;
    expect([mode.before!.mode, mode.after!.mode]).toEqual([0o644, 0o600]);
    expect(monitor.some((m) => m.kind === 'check')).toBe(true);

    const text = await fx.decrypt([paths.output], ['--monitor-report']);
    expect(text.stdout.toString()).toContain(`${before.a}  0644`);
    expect(text.stdout.toString()).toMatch(new RegExp(`CHANGED ${a}: sha256 ${before.a} -> ${sha(a)}`));
    expect(text.stdout.toString()).toMatch(new RegExp(`GONE ${b}: was sha256 ${before.b}`));
  }, 60_000);

  it('refuses a symlink, a missing path and too many files at generation (exit 2)', async () => {
    const { cli } = await import('../helpers/cli.ts');
    const base = ['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', `${fx.tmp.path}/m.pipe`, '--output', `${fx.tmp.path}/m.log`, '--save-path', `${fx.tmp.path}/m.mjs`];
    const link = join(fx.tmp.path, 'link');
    symlinkSync(fx.tmp.path, link);
    const r1 = await cli([...base, '--monitor', link]);
    expect([r1.code, r1.stderr]).toEqual([2, expect.stringMatching(/is a symlink/)]);
    const r2 = await cli([...base, '--monitor', join(fx.tmp.path, 'nope')]);
    expect([r2.code, r2.stderr]).toEqual([2, expect.stringMatching(/ENOENT/)]);
    const many = join(fx.tmp.path, 'many');
    mkdirSync(many);
    for (let i = 0; i <= 10_000; i += 1) writeFileSync(join(many, String(i)), '');
    const r3 = await cli([...base, '--monitor', many]);
    expect([r3.code, r3.stderr]).toEqual([2, expect.stringMatching(/more than 10000 regular files/)]);
  }, 60_000);
});
