import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAppender, type AppendOptions } from '../../../runtime/appender.ts';

/**
 * The appender's two ways of making a batch durable: fdatasync on the event loop's thread (a
 * trickle's small batch) or on the thread pool (a flood, or a large batch). The real calls run on
 * a real file; the spy counts which one was made and can make the next one fail, as a dying disk
 * would (EIO), which no tmpfs gives.
 */
const syncs = vi.hoisted(() => ({ onLoop: 0, onPool: 0, failNext: null as string | null, loopSyncMs: 0, clock: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const failure = () => {
    const code = syncs.failNext;
    syncs.failNext = null;
    return code === null ? null : Object.assign(new Error(`${code}: fdatasync failed`), { code });
  };
  const fdatasyncSync = (fd: number) => {
    syncs.onLoop += 1;
    syncs.clock += syncs.loopSyncMs; // the disk's time, on the test's clock
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
  syncs.loopSyncMs = 0;
  syncs.clock = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => syncs.clock);
});
afterEach(() => vi.restoreAllMocks());

describe('appender: where fdatasync runs', () => {
  for (const { what, batches, expected } of [
    {
      what: 'a small batch asked to sync on the loop is durable when append returns, without the thread pool',
      batches: [{ messages: ['one\n', 'two\n'], options: { syncOnLoop: true } }],
      expected: { onLoop: 1, onPool: 0 },
    },
    {
      what: 'without the option (a flood) it syncs on the thread pool',
      batches: [{ messages: ['one\n'] }, { messages: ['two\n'], options: { syncOnLoop: false } }],
      expected: { onLoop: 0, onPool: 2 },
    },
    {
      what: 'a large batch goes to the thread pool even when asked to sync on the loop',
      batches: [{ messages: ['a'.repeat(100 * 1024)], options: { syncOnLoop: true } }],
      expected: { onLoop: 0, onPool: 1 },
    },
  ]) {
    it(what, async () => {
      const output = freshLog();
      const appender = await openAppender(output);
      for (const { messages, options } of batches as Array<{ messages: string[]; options?: AppendOptions }>) await appender.append(messages.map((m) => Buffer.from(m)), options);
      expect(syncs).toMatchObject(expected);
      expect(readFileSync(output.path, 'utf8')).toBe(batches.flatMap((b) => b.messages).join(''));
      await appender.close();
    });
  }

  it('after an fdatasync on the loop that stalled, small batches sync on the thread pool for a minute, so reading goes on while the disk is slow', async () => {
    const output = freshLog();
    const appender = await openAppender(output);
    const trickle = async (line: string) => appender.append([Buffer.from(line)], { syncOnLoop: true });
    await trickle('fast\n');
    syncs.loopSyncMs = 200; // a stalled disk: the loop's thread was blocked that long
    await trickle('stalled\n');
    syncs.loopSyncMs = 0;
    await trickle('on the pool\n');
    syncs.clock += 30_000;
    await trickle('still on the pool\n');
    expect(syncs).toMatchObject({ onLoop: 2, onPool: 2 });
    syncs.clock += 31_000;
    await trickle('back on the loop\n');
    expect(syncs).toMatchObject({ onLoop: 3, onPool: 2 });
    expect(readFileSync(output.path, 'utf8')).toBe('fast\nstalled\non the pool\nstill on the pool\nback on the loop\n');
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
