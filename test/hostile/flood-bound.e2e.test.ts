import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run } from '../helpers/cli.ts';
import { E2eFixture } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const MiB = 1024 * 1024;
/** --max-buffer, plus what may come in before a check: one block the framer emits whole, one gather's drain. */
const BOUND = 2 * MiB + MiB + 128 * 1024 + 64 * 1024;

describe('a flood stays within --max-buffer', () => {
  it('a writer refilling the pipe as fast as it is read never queues much more than --max-buffer', { timeout: 120_000 }, async () => {
    const paths = await fx.generate(['--max-buffer', '2M', '--log-level', 'warn']);
    const lines: string[] = [];
    for (let i = 0; lines.length < 300_000; i += 1) lines.push(`10.0.${i % 256}.${(i >> 8) % 256} - - [02/Dec/2026:02:00:00 +0000] "GET /flood?id=${i} HTTP/1.1" 200 ${i % 9000} "-" "bench" n=${i}\n`);
    const file = join(paths.dir, 'flood.txt');
    writeFileSync(file, lines.join(''));
    const copy = await fx.startReading(paths);
    const w = await run(process.execPath, [join(ROOT, 'test', 'helpers', 'bytes-writer.mjs'), paths.pipe, file, String(64 * 1024)]);
    expect(w.code).toBe(0);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    // The copy reports each pause of reading with the bytes queued at that moment.
    const waiting = [...copy.stderr().matchAll(/\((\d+) bytes waiting\)/g)].map((m) => Number(m[1]));
    expect(waiting.length).toBeGreaterThan(0);
    expect(Math.max(...waiting)).toBeLessThanOrEqual(BOUND);
    const r = await fx.decrypt([paths.output]);
    expect(r.code).toBe(0);
    expect(r.stdout.equals(Buffer.from(lines.join('')))).toBe(true);
    rmSync(file);
  });
});
