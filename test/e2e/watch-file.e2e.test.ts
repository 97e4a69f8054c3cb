import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, ROOT } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, range, waitFor } from '../helpers/e2e.ts';

const FILE_WRITER = join(ROOT, 'test', 'helpers', 'file-writer.mjs');
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const verify = (files: string[]) => cli(['verify', '--key', fx.keyFiles.sec, ...files]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** test/helpers/file-writer.mjs: resolves with the lines written; `pid` to signal it. */
function fileWriter(file: string, id: string, count: number, every = 50, pauseMs = 2, first = 0) {
  const child = spawn(process.execPath, [FILE_WRITER, file, id, String(count), String(every), String(pauseMs), String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
  const done = new Promise<number>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(Number(out.trim().split('\n').at(-1))) : reject(new Error(`file writer ${id} failed (${code}): ${err}`)))),
  );
  const ready = waitFor(() => out, /ready/, 10_000);
  return { child, done, ready };
}

async function decryptJson(output: string, extra: readonly string[] = []) {
  const r = await fx.decrypt([output], ['--json', ...extra]);
  expect(r.code).toBe(0);
  return r.stdout
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('--watch-file', () => {
  it('reads a file beside the pipe as a source of its own: its lines once, in order, named by source; the pipe unchanged', async () => {
    const file = join(fx.tmp.path, 'app1.log');
    writeFileSync(file, 'before the copy started\n');
    const paths = await fx.generate(['--watch-file', file]);
    const copy = await fx.startReading(paths);
    // --watch-from end (the default): what was there before is not read.
    await sleep(400);
    const writer = fileWriter(file, 'f', 2000);
    expect(await writer.done).toBe(2000);
    appendFileSync(file, 'a partial line');
    await sleep(800);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const objects = await decryptJson(paths.output);
    const lines = objects.filter((o) => o.kind === 'line');
    expect(lines.every((o) => o.source === 'f1')).toBe(true);
    const text = lines.map((o) => `${String(o.line)}\n`).join('');
    expect(linesByWriter(text).get('f')).toEqual(range(2000));
    expect(text).not.toContain('before the copy started');
    // A partial last line waits for its newline: not logged, read whole by the next start.
    expect(text).not.toContain('a partial line');
    const controls = objects.filter((o) => o.kind === 'control').map((o) => o.record as Record<string, unknown>);
    expect(controls.find((c) => c.type === 'source-start')).toMatchObject({ source: 'f1', kind: 'file', path: file });
    expect(controls.find((c) => c.type === 'source-end')).toMatchObject({ source: 'f1', lines: 2000 });
    // decrypt --source by path or id selects it; "pipe" selects the pipe's (none here).
    const byPath = await fx.decrypt([paths.output], ['--source', file]);
    expect(linesByWriter(byPath.stdout.toString()).get('f')).toEqual(range(2000));
    const pipeOnly = await fx.decrypt([paths.output], ['--source', 'pipe']);
    expect(pipeOnly.stdout.toString()).toBe('');
    // Every seal verifies, the source ids under them.
    const v = await verify([paths.output]);
    expect(v.stdout.toString() + v.stderr.toString()).not.toMatch(/bad-tag/);
    expect(v.code).toBe(0);
  });
});
