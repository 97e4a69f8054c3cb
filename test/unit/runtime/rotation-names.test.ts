import { describe, expect, it } from 'vitest';
import { archivePath, asideFilesOf, asidePath, compareRotation, keptPath, rotationIdOf, utcStamp } from '../../../runtime/rotation/names.ts';

describe('rotation names', () => {
  const id = { stamp: utcStamp(new Date('2026-11-22T07:05:09.123Z')), counter: 12 };

  it('derives every name from the log, a UTC stamp and a counter, and reads the id back', () => {
    expect(id.stamp).toBe('20261122T070509Z');
    expect(asidePath('/var/log/pp/www.log', id)).toBe('/var/log/pp/www.log.20261122T070509Z.12.aside');
    expect(keptPath('/var/log/pp/www.log', id)).toBe('/var/log/pp/www.log.20261122T070509Z.12');
    expect(archivePath('/srv/archive', '/var/log/pp/www.log', id)).toBe('/srv/archive/www.log.20261122T070509Z.12.gz.gpg');
    for (const p of [asidePath('/l', id), keptPath('/l', id), archivePath('/a', '/l', id)]) expect(rotationIdOf(p)).toEqual(id);
    expect(rotationIdOf('/var/log/pp/www.log')).toBeNull();
  });

  it('orders by stamp, then by counter as a number (2 before 10)', () => {
    const names = ['x.20261122T070509Z.10.gz.gpg', 'x.20261122T070509Z.2.gz.gpg', 'x.20261121T235959Z.30.gz.gpg'];
    const sorted = [...names].sort((a, b) => compareRotation(rotationIdOf(a)!, rotationIdOf(b)!));
    expect(sorted).toEqual(['x.20261121T235959Z.30.gz.gpg', 'x.20261122T070509Z.2.gz.gpg', 'x.20261122T070509Z.10.gz.gpg']);
  });

  it('finds only this log aside files, oldest first', () => {
    const names = ['www.log', 'www.log.20261122T070509Z.10.aside', 'www.log.20261122T070509Z.2.aside', 'www.log.20261122T070509Z.2.aside.mailed', 'other.log.20261122T070509Z.1.aside', 'www.log.x.aside', 'www.logx.20261122T070509Z.1.aside'];
    expect(asideFilesOf('/d/www.log', names)).toEqual(['/d/www.log.20261122T070509Z.2.aside', '/d/www.log.20261122T070509Z.10.aside']);
  });
});
