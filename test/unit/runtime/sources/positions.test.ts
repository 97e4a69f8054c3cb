import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { positionsPath, PositionStore, tailHash } from '../../../../runtime/sources/positions.ts';
import { tempDir } from '../../../helpers/cli.ts';

const tmp = tempDir();
afterAll(() => tmp.dispose());

const at = (offset: number) => ({ path: '/var/log/x.log', dev: 1, ino: 2, offset, tail: tailHash(Buffer.from(String(offset))) });
const mark = (key: number, offset: number) => ({ key, offset, tail: tailHash(Buffer.from(String(offset))) });

describe('PositionStore', () => {
  it('after a kill: the append that made it counts, the one that did not does not', () => {
    const log = join(tmp.path, 'a.log');
    writeFileSync(log, 'x'.repeat(100));
    const store = new PositionStore(log, () => {});
    const key = store.add(at(10));
    store.beforeAppend([mark(key, 50)], 30);
    // Killed before the append: the log is still 100 bytes.
    expect(new PositionStore(log, () => {}).load()).toEqual([at(10)]);
    // Killed after it: the log grew by the 30 bytes.
    appendFileSync(log, 'y'.repeat(30));
    expect(new PositionStore(log, () => {}).load()).toEqual([at(50)]);
    // Torn: part of it only. The decrypter reports the torn tail; the lines are read again.
    writeFileSync(log, 'x'.repeat(115));
    expect(new PositionStore(log, () => {}).load()).toEqual([at(10)]);
    // Rotated away afterwards (rotation only follows a successful append).
    renameSync(log, `${log}.aside`);
    writeFileSync(log, '');
    expect(new PositionStore(log, () => {}).load()).toEqual([at(50)]);
  });

  it('a clean stop leaves nothing pending; a reader whose file is done is dropped', () => {
    const log = join(tmp.path, 'b.log');
    writeFileSync(log, '');
    const store = new PositionStore(log, () => {});
    const a = store.add(at(0));
    const b = store.add({ ...at(7), ino: 3 });
    store.beforeAppend([mark(a, 20), mark(b, 9)], 10);
    store.durableNow([mark(a, 20), mark(b, 9)]);
    store.remove(b);
    store.settle();
    const saved = JSON.parse(readFileSync(positionsPath(log), 'utf8')) as { pending: unknown; files: unknown[] };
    expect(saved.pending).toBeNull();
    expect(saved.files).toEqual([at(20)]);
    expect(store.durableOffset(a)).toBe(20);
    expect(store.durableOffset(b)).toBe(-1);
  });

  it('an unreadable position file is said, and files start as never seen', () => {
    const log = join(tmp.path, 'c.log');
    writeFileSync(positionsPath(log), 'not json');
    const said: string[] = [];
    expect(new PositionStore(log, (why) => said.push(why)).load()).toEqual([]);
    expect(said.join('')).toMatch(/never seen/);
  });
});
