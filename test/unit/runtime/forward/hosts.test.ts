import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostsTable, listHostLogs, silence } from '../../../../runtime/receive/hosts.ts';

const dir = mkdtempSync(join(tmpdir(), 'pp-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hosts', () => {
  it('lists every collected log with its last block and silence, longest silence first', () => {
    const now = new Date('2026-12-02T12:00:00Z');
    mkdirSync(join(dir, 'web1'));
    mkdirSync(join(dir, 'web2'));
    writeFileSync(join(dir, 'web1', 'www.log'), 'x'.repeat(10));
    writeFileSync(join(dir, 'web2', 'www.log'), 'x');
    writeFileSync(join(dir, 'web2', '.hidden'), '');
    writeFileSync(join(dir, 'pushed.log.asc'), 'xy');
    utimesSync(join(dir, 'web1', 'www.log'), now, new Date(now.getTime() - 5_000));
    utimesSync(join(dir, 'web2', 'www.log'), now, new Date(now.getTime() - 3_725_000));
    utimesSync(join(dir, 'pushed.log.asc'), now, now);
    const logs = listHostLogs(dir, now);
    expect(logs.map((l) => [l.log, l.bytes, l.silentSeconds])).toEqual([
      ['web2/www.log', 1, 3725],
      ['web1/www.log', 10, 5],
      ['pushed.log.asc', 2, 0],
    ]);
    expect(hostsTable(logs)).toMatch(/^web2\/www\.log +1 +2026-12-02T10:57:55\.000Z +1h 2m 5s$/m);
  });

  it('says a silence in days, hours, minutes and seconds', () => {
    expect(silence(93_784)).toBe('1d 2h 3m 4s');
    expect(silence(0)).toBe('0s');
  });
});
