import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAppender, type AppendOptions } from '../../../runtime/appender.ts';

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
  it.each([
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
  ])('$what', async ({ batches, expected }) => {
    const output = freshLog();
    const appender = await openAppender(output);
    for (const { messages, options } of batches as Array<{ messages: string[]; options?: AppendOptions }>) await appender.append(messages.map((m) => Buffer.from(m)), options);
    expect(syncs).toMatchObject(expected);
    expect(readFileSync(output.path, 'utf8')).toBe(batches.flatMap((b) => b.messages).join(''));
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
