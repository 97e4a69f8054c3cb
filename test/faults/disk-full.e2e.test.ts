import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, range, waitFor } from '../helpers/e2e.ts';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts';

const fx = new E2eFixture();
// Mounted while the tests are collected: whether they can run must be known before they start.
const disk: Tmpfs | { reason: string } = mountTmpfs(fx.tmp.path, 1024 * 1024);
if ('reason' in disk) console.warn(`disk-full tests skipped: ${disk.reason}`);
beforeAll(() => fx.setup());
afterAll(() => {
  if (!('reason' in disk)) disk.dispose();
  fx.dispose();
});

const mounted = (): Tmpfs => disk as Tmpfs;
/** The log so far; empty until the copy has made it (it opens its pipe first). */
const logText = (path: string): string => (existsSync(path) ? readFileSync(path, 'latin1') : '');
const skip = () => 'reason' in disk;

describe('a full disk (ENOSPC on a real tmpfs)', () => {
  it.skipIf(skip())('block policy: the copy keeps what it read, retries, never tears earlier blocks, and loses nothing once there is room', async () => {
    const output = join(mounted().dir, 'full.log');
    const paths = await fx.generate(['--output', output, '--max-buffer', '4M']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    await writerProcess(paths.pipe, 'early', 200);
    await waitFor(() => logText(output), /END PGP MESSAGE[\s\S]*END PGP MESSAGE/, 10_000);

    mounted().fill(8 * 1024);
    // About 600 KB of lines: far more than the 8 KiB left, far less than the 4 MiB buffer.
    expect(await Promise.all(['a', 'b'].map((id) => writerProcess(paths.pipe, id, 3000, 60)))).toEqual([3000, 3000]);
    await waitFor(copy.stderr, /APPEND_FAILED: attempt 2: ENOSPC/, 20_000);
    expect(copy.stderr()).not.toMatch(/writer=/); // the diagnostics carry the errno, never the data

    // While the disk is full, the log holds only whole messages: a failed append was cut back.
    const snapshot = join(fx.tmp.path, 'while-full.log');
    copyFileSync(output, snapshot);
    const during = await fx.decrypt([snapshot]);
    expect(during.stderr).not.toMatch(/torn|garbage/);
    expect(during.code).toBe(0);

    mounted().free();
    await waitFor(copy.stderr, /APPEND_FAILED_RECOVERED/, 20_000);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const r = await fx.decrypt([output], ['--show-control']);
    expect(r.stderr).toMatch(/"type":"stream-end".*"lines":6200.*"droppedLines":0/);
    expect(r.code).toBe(0);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('early')).toEqual(range(200));
    expect(by.get('a')).toEqual(range(3000));
    expect(by.get('b')).toEqual(range(3000));
  });

  it.skipIf(skip())('drop policy: reading goes on, whole blocks are dropped and counted in the encrypted log; the rest comes back exactly once', async () => {
    const output = join(mounted().dir, 'drop.log');
    const paths = await fx.generate(['--output', output, '--max-buffer', '2M', '--on-overload', 'drop']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    await waitFor(() => logText(output), /END PGP MESSAGE/, 10_000);

    mounted().fill(4 * 1024);
    // About 6 MB while nothing can be written: the 2 MiB buffer fills and the rest is dropped.
    // Writers never wait on a dropping copy, so all their lines are accepted by the kernel.
    const ids = ['a', 'b', 'c'];
    expect(await Promise.all(ids.map((id) => writerProcess(paths.pipe, id, 20_000, 60)))).toEqual([20_000, 20_000, 20_000]);
    await waitFor(copy.stderr, /APPEND_FAILED: attempt 2: ENOSPC/, 20_000);
    mounted().free();
    await waitFor(copy.stderr, /OVERLOAD_DROPPED: \d+ lines, \d+ bytes dropped/, 30_000);
    expect(await writerProcess(paths.pipe, 'after', 100, 60)).toBe(100);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([output], ['--show-control']);
    expect(r.code).toBe(1); // a counted loss is still a loss: the decrypter says so
    const end = /"type":"stream-end".*"lines":(\d+),"bytes":(\d+),"droppedLines":(\d+),"droppedBytes":(\d+)/.exec(r.stderr);
    expect(end).not.toBeNull();
    const [kept, keptBytes, dropped, droppedBytes] = end!.slice(1).map(Number) as [number, number, number, number];
    expect(dropped).toBeGreaterThan(0);
    expect(kept + dropped).toBe(60_100);
    const lineBytes = (id: string, seq: number) => `writer=${id} seq=${seq} ${'x'.repeat(60)}\n`.length;
    const written = ids.flatMap((id) => range(20_000).map((s) => lineBytes(id, s))).reduce((a, b) => a + b, 0) + range(100).map((s) => lineBytes('after', s)).reduce((a, b) => a + b, 0);
    expect(keptBytes + droppedBytes).toBe(written);
    // Each episode was reported to the reader, and the episodes add up to the total.
    const episodes = [...r.stderr.matchAll(/dropped-lines: stream \w+: (\d+) lines, (\d+) bytes dropped/g)].map((m) => Number(m[1]));
    expect(episodes.length).toBeGreaterThan(0);
    expect(episodes.reduce((a, b) => a + b, 0)).toBe(dropped);
    // What was kept is whole lines, each once, in order per writer; nothing after the overload is lost.
    const text = r.stdout.toString();
    expect(text.split('\n').filter((l) => l !== '' && !/^writer=\w+ seq=\d+ x{60}$/.test(l))).toEqual([]);
    const by = linesByWriter(text);
    for (const id of ids) {
      const seqs = by.get(id) ?? [];
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
    expect(by.get('after')).toEqual(range(100));
  });
});
