import { describe, expect, it } from 'vitest';
import { parseTime, resolveDecryptOptions } from '../../../generator/decrypt-options.ts';
import { PipesError } from '../../../runtime/errors.ts';

const NOW = new Date('2026-11-24T12:00:00Z');
const resolve = (extra: Record<string, unknown>) => resolveDecryptOptions({ key: ['k.asc'], ...extra }, NOW);
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    if (err instanceof PipesError) return `${err.code}/${err.exitCode}`;
    throw err;
  }
  return undefined;
};

describe('parseTime', () => {
  it('reads ISO 8601 with a zone as given, and without one as local time', () => {
    expect(parseTime('--since', '2026-11-24T02:00:00Z', NOW).toISOString()).toBe('2026-11-24T02:00:00.000Z');
    expect(parseTime('--since', '2026-11-24 02:00+01:00', NOW).toISOString()).toBe('2026-11-24T01:00:00.000Z');
    expect(parseTime('--since', '2026-11-24T02:00:00.5-0230', NOW).toISOString()).toBe('2026-11-24T04:30:00.500Z');
    expect(parseTime('--since', '2026-11-24 02:00', NOW).getTime()).toBe(new Date(2026, 10, 24, 2, 0).getTime());
    expect(parseTime('--since', '2026-11-24', NOW).getTime()).toBe(new Date(2026, 10, 24).getTime());
  });

  it('reads now and times ago', () => {
    expect(parseTime('--until', 'now', NOW)).toEqual(NOW);
    expect(parseTime('--since', '2h', NOW).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(parseTime('--since', '90s', NOW).toISOString()).toBe('2026-11-24T11:58:30.000Z');
    expect(parseTime('--since', '7d', NOW).toISOString()).toBe('2026-11-17T12:00:00.000Z');
  });

  it('refuses what is not a time, or a date that does not exist, instead of rolling it over', () => {
    for (const bad of ['yesterday', '2026-13-01', '2026-02-29', '2026-11-31', '2026-11-24T24:00', '2026-11-24T02:60', '24/11/2026', '2h ago', '']) {
      expect(codeOf(() => parseTime('--since', bad, NOW)), bad).toBe('BAD_TIME/2');
    }
    expect(parseTime('--since', '2028-02-29', NOW).getDate()).toBe(29);
  });
});

describe('resolveDecryptOptions', () => {
  it('compiles patterns once and names the bad one', () => {
    const o = resolve({ grep: ['^a', 'b$'], ignore: ['c'] });
    expect(o.selection.grep.map(String)).toEqual(['/^a/', '/b$/']);
    expect(codeOf(() => resolve({ grep: ['(x'] }))).toBe('BAD_REGEX/2');
    expect(codeOf(() => resolve({ ignore: [''] }))).toBe('BAD_REGEX/2');
  });

  it('checks streams, hosts, ranges, pipe modes and outputs', () => {
    expect(resolve({ stream: ['ABCD'] }).selection.streams).toEqual(['abcd']);
    expect(codeOf(() => resolve({ stream: ['abc'] }))).toBe('BAD_STREAM/2');
    expect(codeOf(() => resolve({ host: ['a b'] }))).toBe('BAD_HOST/2');
    expect(codeOf(() => resolve({ since: '2026-11-24T03:00Z', until: '2026-11-24T03:00Z' }))).toBe('BAD_TIME_RANGE/2');
    expect(resolve({ toPipe: 'p', toPipeMode: '640' }).output).toEqual({ kind: 'pipe', path: 'p', mode: 0o640 });
    for (const mode of ['644', '700', '400', '666', '6000', 'rw']) expect(codeOf(() => resolve({ toPipe: 'p', toPipeMode: mode })), mode).toBe('BAD_MODE/2');
    expect(codeOf(() => resolve({ toPipe: 'p', output: 'o' }))).toBe('OUTPUT_TWICE/2');
    expect(codeOf(() => resolve({ key: [] }))).toBe('NO_KEY/2');
    expect(resolve({}).archiveKey).toEqual(['k.asc']);
  });

  it('--from with --log names; --log alone or with a path is refused', () => {
    expect(resolve({}).from).toBeNull();
    expect(resolve({ from: 'nats://h/logs', log: ['access.log.asc'] }).from).toEqual({ url: 'nats://h/logs', logs: ['access.log.asc'] });
    expect(codeOf(() => resolve({ log: ['access.log.asc'] }))).toBe('LOG_WITHOUT_FROM/2');
    expect(codeOf(() => resolve({ from: 'nats://h/logs', log: ['/var/log/x'] }))).toBe('BAD_LOG/2');
  });
});
