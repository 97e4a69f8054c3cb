import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveFilters, resolveMonitor, resolveReport } from '../../../generator/filter-options.ts';
import { rawOptions, type RawEncrypterOptions } from '../../../generator/options.ts';
import { resolveRotation } from '../../../generator/rotation-options.ts';
import { optionsDigest } from '../../../runtime/describe.ts';
import { PipesError } from '../../../runtime/errors.ts';
import { tempDir } from '../../helpers/cli.ts';
import { fakeSystem } from '../../helpers/fake-system.ts';

const tmp = tempDir();
afterAll(() => tmp.dispose());
const raw = (over: Partial<RawEncrypterOptions>) => rawOptions(over);

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof PipesError) return `${err.code} ${err.exitCode}`;
    throw err;
  }
  return 'none';
}

describe('filter, monitor and report options', () => {
  it('filters: absent without patterns; bad patterns are usage errors', () => {
    expect(resolveFilters(raw({}))).toBeNull();
    expect(resolveFilters(raw({ ignore: ['a'], keep: ['b', 'c'] }))).toEqual({ ignore: ['a'], keep: ['b', 'c'] });
    expect(codeOf(() => resolveFilters(raw({ keep: ['(x+)*'] })))).toBe('BAD_FILTER 2');
  });

  it('filters change the options digest; a copy without them bakes what it did before', () => {
    const base = { format: 1 } as unknown as Parameters<typeof optionsDigest>[0];
    expect(optionsDigest({ ...base, filters: { ignore: ['a'], keep: [] } })).not.toBe(optionsDigest({ ...base, filters: { ignore: ['b'], keep: [] } }));
    expect(JSON.stringify(base)).not.toContain('filters');
  });

  it('monitor: absolute paths, --monitor-every bounds, --monitor-every alone refused', async () => {
    const dir = join(tmp.path, 'm');
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), '');
    expect(await resolveMonitor(raw({ monitor: ['m'] }), tmp.path, '/var/log/x.log')).toEqual({ paths: [dir], everyMs: 3_600_000 });
    await expect(resolveMonitor(raw({ monitor: [dir], monitorEvery: '8d' }), tmp.path, '/var/log/x.log')).rejects.toMatchObject({ code: 'BAD_DURATION' });
    await expect(resolveMonitor(raw({ monitorEvery: '1h' }), tmp.path, '/var/log/x.log')).rejects.toMatchObject({ code: 'UNUSED_OPTION' });
    await expect(resolveMonitor(raw({ monitor: [dir] }), tmp.path, join(dir, 'sub', 'www.log.asc'))).rejects.toMatchObject({ code: 'MONITOR_OWN_LOG' });
  });

  it('report: needs --mail-to and --mail-from; the mail options then need no rotation', async () => {
    expect(resolveReport(raw({}))).toBeNull();
    expect(codeOf(() => resolveReport(raw({ reportEvery: '1d' })))).toBe('MISSING_OPTION 2');
    expect(codeOf(() => resolveReport(raw({ reportEvery: '10s', mailTo: ['a@b.c'], mailFrom: 'd@e.f' })))).toBe('BAD_DURATION 2');
    const mailed = raw({ reportEvery: '1d', mailTo: ['a@b.c'], mailFrom: 'd@e.f', mailTransport: 'smtp://127.0.0.1:25' });
    expect(resolveReport(mailed)).toEqual({ everyMs: 86_400_000, mail: { to: ['a@b.c'], from: 'd@e.f', transport: { kind: 'smtp', url: 'smtp://127.0.0.1:25' } } });
    const rotationCtx = { system: fakeSystem(), now: new Date(), resolvePath: (_o: string, v: string) => v, parseMode: () => 0o640 };
    const owner = { uid: 0, gid: 0, label: 'root:root' };
    expect(await resolveRotation(mailed, rotationCtx, [], owner, '/x/y.log')).toBeNull();
    await expect(resolveRotation(raw({ mailTo: ['a@b.c'] }), rotationCtx, [], owner, '/x/y.log')).rejects.toMatchObject({ code: 'ROTATION_OFF' });
  });
});
