import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { compareListings, type MonitorEntry } from '../../../../runtime/monitor/entry.ts';
import { hashFile } from '../../../../runtime/monitor/hash.ts';
import { walkFiles } from '../../../../runtime/monitor/walk.ts';
import { silentLogger } from '../../../../runtime/log.ts';
import { Monitor } from '../../../../runtime/monitor/monitor.ts';

const entry = (path: string, over: Partial<MonitorEntry> = {}): MonitorEntry => ({ path, sha256: 'aa', size: 1, mode: 0o644, uid: 0, gid: 0, mtime: '', ...over });

describe('compareListings', () => {
  it('names new, gone, changed, unreadable, readable, mode and owner changes, in path order', () => {
    const before = new Map([
      ['/a', entry('/a')],
      ['/b', entry('/b')],
      ['/c', entry('/c')],
      ['/d', entry('/d', { sha256: null, error: 'EACCES' })],
      ['/e', entry('/e')],
    ]);
    const after = new Map([
      ['/a', entry('/a', { sha256: 'bb', mode: 0o600 })],
      ['/c', entry('/c', { sha256: null, error: 'EACCES' })],
      ['/d', entry('/d')],
      ['/e', entry('/e', { uid: 1 })],
      ['/f', entry('/f')],
    ]);
    expect(compareListings(before, after).map((c) => `${c.change} ${c.path}`)).toEqual(['changed /a', 'mode /a', 'gone /b', 'unreadable /c', 'readable /d', 'owner /e', 'new /f']);
    expect(compareListings(before, before)).toEqual([]);
  });
});

describe('walk and hash', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists regular files only, recursively, without following symlinks; bounded', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pp-walk-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'a'), 'a');
    writeFileSync(join(dir, 'sub', 'b'), 'b');
    symlinkSync(join(dir, 'a'), join(dir, 'link'));
    symlinkSync(dir, join(dir, 'sub', 'loop'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const walk = await walkFiles([dir, join(dir, 'missing')]);
    expect(walk.files).toEqual([join(dir, 'a'), join(dir, 'sub', 'b')]);
    expect(walk.problems).toEqual([`${join(dir, 'missing')}: ENOENT`]);
    expect((await walkFiles([dir], 1)).overflow).toBe(true);
  });

  it('hashes a file in chunks (as sha256sum does) and reports an unreadable one with its reason', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pp-hash-'));
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(200_000, 7));
    const e = await hashFile(big, Buffer.alloc(1000));
    expect(e.sha256).toBe(execFileSync('sha256sum', [big]).toString().split(' ')[0]);
    expect(e.size).toBe(200_000);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(await hashFile(fifo)).toMatchObject({ sha256: null, error: 'not a regular file' });
    const link = join(dir, 'link');
    symlinkSync(big, link);
    expect(await hashFile(link)).toMatchObject({ sha256: null, error: 'ELOOP' });
    if (process.getuid?.() !== 0) {
      chmodSync(big, 0);
      expect(await hashFile(big)).toMatchObject({ sha256: null, error: 'EACCES' });
    }
  });

  it('a monitor stopped during its first check records nothing more', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pp-mon-'));
    for (let i = 0; i < 50; i += 1) writeFileSync(join(dir, String(i)), String(i));
    const reports: unknown[] = [];
    const m = new Monitor({ paths: [dir], everyMs: 60_000 }, (r) => reports.push(r), silentLogger);
    m.start();
    await m.stop();
    expect(reports).toEqual([]);
    const m2 = new Monitor({ paths: [dir], everyMs: 60_000 }, (r) => reports.push(r), silentLogger);
    await m2.kick();
    writeFileSync(join(dir, '0'), 'changed');
    await m2.kick();
    await m2.stop();
    expect(reports.map((r) => (r as { kind: string }).kind)).toEqual(['baseline', 'change', 'check']);
    expect(m2.takeChanges().count).toBe(1);
  });
});
