import { describe, expect, it } from 'vitest';
import { archivePath, asideFilesOf, asidePath, compareRotation, keptPath, nextRotationId, rotationIdOf, utcStamp } from '../../../runtime/rotation/names.ts';

describe('rotation names', () => {
  const id = { stamp: utcStamp(new Date('2026-11-22T07:05:09.123Z')), counter: 12 };

  it('derives every name from the log, a UTC stamp to the millisecond and a counter, and reads the id back', () => {
    expect(id.stamp).toBe('20261122T070509.123Z');
    expect(asidePath('/var/log/pp/www.log', id)).toBe('/var/log/pp/www.log.20261122T070509.123Z.12.aside');
    expect(keptPath('/var/log/pp/www.log', id)).toBe('/var/log/pp/www.log.20261122T070509.123Z.12');
    expect(archivePath('/srv/archive', '/var/log/pp/www.log', id)).toBe('/srv/archive/www.log.20261122T070509.123Z.12.gz.gpg');
    for (const p of [asidePath('/l', id), keptPath('/l', id), archivePath('/a', '/l', id)]) expect(rotationIdOf(p)).toEqual(id);
    expect(rotationIdOf('/var/log/pp/www.log')).toBeNull();
  });

  it('orders by stamp, then by counter as a number (2 before 10)', () => {
    const names = ['x.20261122T070509.000Z.10.gz.gpg', 'x.20261122T070509.000Z.2.gz.gpg', 'x.20261121T235959.999Z.30.gz.gpg'];
    const sorted = [...names].sort((a, b) => compareRotation(rotationIdOf(a)!, rotationIdOf(b)!));
    expect(sorted).toEqual(['x.20261121T235959.999Z.30.gz.gpg', 'x.20261122T070509.000Z.2.gz.gpg', 'x.20261122T070509.000Z.10.gz.gpg']);
  });

  it('finds only this log aside files, oldest first', () => {
    const s = '20261122T070509.000Z';
    const names = ['www.log', `www.log.${s}.10.aside`, `www.log.${s}.2.aside`, `www.log.${s}.2.aside.mailed`, `other.log.${s}.1.aside`, 'www.log.x.aside', `www.logx.${s}.1.aside`];
    expect(asideFilesOf('/d/www.log', names)).toEqual([`/d/www.log.${s}.2.aside`, `/d/www.log.${s}.10.aside`]);
  });

  describe('nextRotationId: always after every rotation before it', () => {
    const now = new Date('2026-11-22T07:05:09.123Z');
    const noFiles = () => [];

    it('is (now, 1) normally, and counts on within one stamp in a run', () => {
      const first = nextRotationId('/nowhere/www.log', null, now, null, noFiles);
      expect(first).toEqual({ stamp: '20261122T070509.123Z', counter: 1 });
      expect(nextRotationId('/nowhere/www.log', null, now, first, noFiles)).toEqual({ stamp: first.stamp, counter: 2 });
    });

    it('after a restart, comes after what an earlier run left, in the log dir or the archive dir', () => {
      const listing = (dir: string) => (dir === '/arch' ? ['www.log.20261122T070509.123Z.7.gz.gpg', 'other.log.20261122T070509.123Z.99.gz.gpg'] : ['www.log.20261122T070509.123Z.3.aside']);
      expect(nextRotationId('/logs/www.log', '/arch', now, null, listing)).toEqual({ stamp: '20261122T070509.123Z', counter: 8 });
    });

    it('when the clock went back, keeps the newer stamp on disk and counts on', () => {
      const listing = () => ['www.log.20261122T080000.000Z.4'];
      const id = nextRotationId('/logs/www.log', null, now, null, listing);
      expect(id).toEqual({ stamp: '20261122T080000.000Z', counter: 5 });
      expect(compareRotation(id, rotationIdOf('www.log.20261122T080000.000Z.4')!)).toBeGreaterThan(0);
    });
  });
});
