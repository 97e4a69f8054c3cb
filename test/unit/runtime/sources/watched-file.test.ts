import { appendFileSync, closeSync, constants, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { globRegex } from '../../../../runtime/sources/file-find.ts';
import { tailHashAt } from '../../../../runtime/sources/positions.ts';
import { WatchedFile } from '../../../../runtime/sources/watched-file.ts';
import { tempDir } from '../../../helpers/cli.ts';

const tmp = tempDir();
afterAll(() => tmp.dispose());

function reader(path: string, offset = 0, writable = false): WatchedFile {
  const fd = openSync(path, writable ? constants.O_RDWR : constants.O_RDONLY);
  const st = fstatSync(fd);
  return new WatchedFile('f1', { fd, dev: st.dev, ino: st.ino, path }, offset, Buffer.alloc(0), 1, 64);
}

describe('watched file reader', () => {
  it('frames whole lines, marks each block with the offset it ends at, and keeps a partial line up to 30 s', () => {
    const path = join(tmp.path, 'a.log');
    writeFileSync(path, 'one\ntwo\nthr');
    const r = reader(path);
    const blocks: Buffer[] = [];
    r.onChunk((chunk) => blocks.push(...r.framer.push(chunk, 0).blocks));
    expect(r.poll()).toBe(11);
    blocks.push(...r.framer.flushIdle(1000));
    expect(Buffer.concat(blocks).toString()).toBe('one\ntwo\n');
    const origin = r.originOf(Buffer.concat(blocks));
    expect(origin.source).toBe('f1');
    const [mark] = origin.marks as Array<{ offset: number; tail: string }>;
    expect(mark?.offset).toBe(8);
    // The tail hash a restart checks is the file's own bytes before that offset.
    const fd = openSync(path, 'r');
    expect(mark?.tail).toBe(tailHashAt(fd, 8));
    closeSync(fd);
    // At stop the partial line stays in the file for the next start, unless it waited 30 s.
    expect(r.finalBlocks(1000)).toEqual([]);
    expect(r.finalBlocks(31_000).map(String)).toEqual(['thr']);
    r.stop();
  });

  it('consume empties the file only when everything read is framed and nothing came since', () => {
    const path = join(tmp.path, 'b.log');
    writeFileSync(path, 'a\nb\n');
    const r = reader(path, 0, true);
    r.onChunk((chunk) => void r.framer.push(chunk, 0));
    r.poll();
    expect(r.consume()).toBe(false); // read, but not framed into blocks yet
    r.originOf(Buffer.concat(r.framer.flushIdle(0)));
    appendFileSync(path, 'c\n');
    expect(r.consume()).toBe(false); // it grew since the read
    r.poll();
    r.originOf(Buffer.concat(r.framer.flushIdle(0)));
    expect(r.consume()).toBe(true);
    expect(readFileSync(path).length).toBe(0);
    expect(r.offset).toBe(0);
    r.stop();
  });

  it('globs match in the file name only, and hidden files only when asked', () => {
    expect(globRegex('*.log').test('app.log')).toBe(true);
    expect(globRegex('*.log').test('app.log.1')).toBe(false);
    expect(globRegex('*.log').test('.hidden.log')).toBe(false);
    expect(globRegex('.*.log').test('.hidden.log')).toBe(true);
    expect(globRegex('job-?.log').test('job-7.log')).toBe(true);
    expect(globRegex('job-?.log').test('job-17.log')).toBe(false);
    expect(globRegex('a+b(c).log').test('a+b(c).log')).toBe(true);
  });
});
