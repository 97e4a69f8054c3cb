import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAppender } from '../../../runtime/appender.ts';

/**
 * The appender's two ways of making a batch durable: fdatasync on the event loop's thread (a
 * trickle's small batch) or on the thread pool (a flood, or a large batch). The real calls run on
 * a real file; the spy counts which one was made and can make the next one fail, as a dying disk
 * would (EIO), which no tmpfs gives.
 */
const syncs = vi.hoisted(() => ({ onLoop: 0, onPool: 0, failNext: null as string | null }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const failure = () => {
    const code = syncs.failNext;
    syncs.failNext = null;
    return code === null ? null : Object.assign(new Error(`${code}: fdatasync failed`), { code });
  };
  const fdatasyncSync = (fd: number) => {
    syncs.onLoop += 1;
    const err = failure();
    if (err !== null) throw err;
    fs.fdatasyncSync(fd);
  };
  const fdatasync = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    syncs.onPool += 1;
    const err = failure();
    if (err !== null) {
      setImmediate(() => callback(err));
      return;
    }
    fs.fdatasync(fd, callback);
  };
  return { ...fs, default: { ...fs, fdatasync, fdatasyncSync }, fdatasync, fdatasyncSync };
});

const dir = mkdtempSync(join(tmpdir(), 'pp-appender-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;
let n = 0;
const freshLog = () => ({ path: join(dir, `log-${(n += 1)}`), owner: { uid, gid, label: `${uid}:${gid}` }, mode: 0o600 });

beforeEach(() => {
  syncs.onLoop = 0;
  syncs.onPool = 0;
  syncs.failNext = null;
});

describe('appender: where fdatasync runs', () => {
  it('a small batch asked to sync on the loop is durable when append returns, without the thread pool', async () => {
    const output = freshLog();
    const appender = await openAppender(output);
    await appender.append([Buffer.from('one\n'), Buffer.from('two\n')], { syncOnLoop: true });
    expect(syncs).toMatchObject({ onLoop: 1, onPool: 0 });
    expect(readFileSync(output.path, 'utf8')).toBe('one\ntwo\n');
    await appender.close();
  });

  it('without the option (a flood) it syncs on the thread pool', async () => {
    const output = freshLog();
    const appender = await openAppender(output);
    await appender.append([Buffer.from('one\n')]);
    await appender.append([Buffer.from('two\n')], { syncOnLoop: false });
    expect(syncs).toMatchObject({ onLoop: 0, onPool: 2 });
    expect(readFileSync(output.path, 'utf8')).toBe('one\ntwo\n');
    await appender.close();
  });

  it('a large batch goes to the thread pool even when asked to sync on the loop', async () => {
    const output = freshLog();
    const appender = await openAppender(output);
    const big = Buffer.alloc(100 * 1024, 0x61);
    await appender.append([big], { syncOnLoop: true });
    expect(syncs).toMatchObject({ onLoop: 0, onPool: 1 });
    expect(statSync(output.path).size).toBe(big.length);
    await appender.close();
  });

  it.each([true, false])('a failed fdatasync (syncOnLoop %s) rejects and cuts the log back to where the batch began; the retry appends cleanly', async (syncOnLoop) => {
    const output = freshLog();
    const appender = await openAppender(output);
    await appender.append([Buffer.from('kept\n')], { syncOnLoop });
    syncs.failNext = 'EIO';
    await expect(appender.append([Buffer.from('torn-1\n'), Buffer.from('torn-2\n')], { syncOnLoop })).rejects.toMatchObject({ code: 'EIO' });
    expect(readFileSync(output.path, 'utf8')).toBe('kept\n');
    await appender.append([Buffer.from('again\n')], { syncOnLoop });
    expect(readFileSync(output.path, 'utf8')).toBe('kept\nagain\n');
    expect(syncOnLoop ? syncs.onLoop : syncs.onPool).toBe(3);
    await appender.close();
  });
});
