import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module of the bench, without types
import { judge, TARGETS } from '../../../bench/targets.mjs';

describe('bench: the targets table', () => {
  it('judges lower-is-better and higher-is-better figures each the right way, at and past the bound', () => {
    const rows = judge({ ...TARGETS, trickleCpuPercent: 3.01, decryptMBps: 99.9, vsLoop: 100 }) as Array<{ name: string; target: string; met: boolean }>;
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(byName.trickleCpuPercent).toMatchObject({ target: '<= 3', met: false });
    expect(byName.decryptMBps).toMatchObject({ target: '>= 100', met: false });
    expect(byName.vsLoop).toMatchObject({ target: '>= 100', met: true });
    expect(byName.idleRssMb).toMatchObject({ target: '<= 50', met: true });
    expect(rows).toHaveLength(Object.keys(TARGETS).length);
  });
});
