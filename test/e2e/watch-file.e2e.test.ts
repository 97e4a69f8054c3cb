import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { cli, has, ROOT } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, waitFor } from '../helpers/e2e.ts';

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
    const paths = await fx.generate(['--watch-file', file, '--quit-string', QUIT]);
    const copy = await fx.startReading(paths);
    // --watch-from end (the default): what was there before is not read.
    await sleep(400);
    const writer = fileWriter(file, 'f', 2000);
    expect(await writer.done).toBe(2000);
    // Only the pipe is a control channel: the quit string in a file is a logged line.
    appendFileSync(file, `${QUIT}\na partial line`);
    await sleep(800);
    expect(copy.child.exitCode).toBeNull();
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const objects = await decryptJson(paths.output);
    const lines = objects.filter((o) => o.kind === 'line');
    expect(lines.every((o) => o.source === 'f1')).toBe(true);
    const text = lines.map((o) => `${String(o.line)}\n`).join('');
    expect(linesByWriter(text).get('f')).toEqual(range(2000));
    expect(text).not.toContain('before the copy started');
    expect(text).toContain(`${QUIT}\n`);
    // A partial last line waits for its newline: not logged, read whole by the next start.
    expect(text).not.toContain('a partial line');
    const controls = objects.filter((o) => o.kind === 'control').map((o) => o.record as Record<string, unknown>);
    expect(controls.find((c) => c.type === 'source-start')).toMatchObject({ source: 'f1', kind: 'file', path: file });
    expect(controls.find((c) => c.type === 'source-end')).toMatchObject({ source: 'f1', lines: 2001 });
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

  /** Lines of writer `id` in the order decrypted: every number once, in order, is `range(n)`. */
  async function writerLines(output: string, id: string): Promise<{ seqs: number[]; objects: Array<Record<string, unknown>> }> {
    const objects = await decryptJson(output);
    const text = objects
      .filter((o) => o.kind === 'line')
      .map((o) => `${String(o.line)}\n`)
      .join('');
    return { seqs: linesByWriter(text).get(id) ?? [], objects };
  }

  const events = (objects: Array<Record<string, unknown>>, name: string) =>
    objects.filter((o) => o.kind === 'control' && (o.record as { event?: string }).event === name).map((o) => (o.record as { detail: string }).detail);

  function logrotate(dir: string, file: string, how: 'create' | 'copytruncate', writerPid: number): () => void {
    const conf = join(dir, `${how}.conf`);
    const postrotate = how === 'create' ? `  postrotate\n    kill -HUP ${writerPid}\n  endscript\n` : '';
    writeFileSync(conf, `${file} {\n  ${how}\n  rotate 20\n  nocompress\n  missingok\n${postrotate}}\n`, { mode: 0o644 });
    const state = join(dir, `${how}.state`);
    return () => {
      const r = spawnSync('logrotate', ['-f', '-s', state, conf], { encoding: 'utf8', timeout: 10_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };
  }

  const noLogrotate = has('logrotate', ['--version']) ? null : 'logrotate is not installed';
  if (noLogrotate !== null) process.stdout.write(`watch-file logrotate tests skipped: ${noLogrotate}\n`);
  for (const how of ['create', 'copytruncate'] as const) {
    it.skipIf(noLogrotate !== null)(`real logrotate (${how}) while a writer appends: every line once, in order${how === 'copytruncate' ? ', a loss in the truncate window said in the log' : ''}`, async () => {
      const file = join(fx.tmp.path, `rot-${how}.log`);
      writeFileSync(file, '', { mode: 0o640 });
      const paths = await fx.generate(['--watch-file', file]);
      const copy = await fx.startReading(paths);
      await sleep(400);
      const count = 30_000;
      const writer = fileWriter(file, 'r', count, 50, 2);
      await writer.ready;
      const rotate = logrotate(fx.tmp.path, file, how, writer.child.pid as number);
      for (let i = 0; i < 4; i += 1) {
        await sleep(300);
        rotate();
      }
      expect(await writer.done).toBe(count);
      await sleep(6500); // rotated files are finished once quiet for 5 s
      copy.child.kill('SIGTERM');
      expect(await copy.exited).toBe(0);

      const { seqs, objects } = await writerLines(paths.output, 'r');
      const rotations = events(objects, how === 'create' ? 'file-rotated' : 'file-truncated');
      expect(rotations.length).toBeGreaterThanOrEqual(4);
      // In order and never twice.
      for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
      const lost = count - seqs.length;
      if (how === 'create') {
        expect(seqs).toEqual(range(count));
      } else {
        // copytruncate: lines written between logrotate's copy and its truncate are in neither
        // file. Measured, and the log says at each truncate that such a loss is possible.
        process.stdout.write(`copytruncate: ${lost} of ${count} lines lost over ${rotations.length} truncates\n`);
        expect(lost).toBeLessThan(count / 20);
        for (const detail of rotations) expect(detail).toMatch(/truncated.*lost/);
      }
    }, 60_000);
  }

  it('SIGKILLed mid-run and restarted: nothing lost, nothing repeated', async () => {
    const file = join(fx.tmp.path, 'killed.log');
    writeFileSync(file, '');
    const paths = await fx.generate(['--watch-file', file, '--binary']);
    let copy = await fx.startReading(paths);
    await sleep(400);
    const count = 40_000;
    const writer = fileWriter(file, 'k', count, 50, 2);
    await writer.ready;
    for (let i = 0; i < 3; i += 1) {
      await sleep(250 + i * 200);
      copy.child.kill('SIGKILL');
      await copy.exited;
      rmSync(paths.pipe, { force: true });
      copy = await fx.startReading(paths);
    }
    expect(await writer.done).toBe(count);
    await sleep(1000);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const { seqs } = await writerLines(paths.output, 'k');
    expect(seqs.length).toBe(count);
    expect(seqs).toEqual(range(count));
  }, 60_000);

  it('rotated while the copy was down: the rotated file is found by inode and finished first', async () => {
    const file = join(fx.tmp.path, 'down.log');
    writeFileSync(file, '');
    const paths = await fx.generate(['--watch-file', file]);
    const lines = (from: number, to: number) => range(to - from).map((i) => `writer=w seq=${from + i} x\n`).join('');
    let copy = await fx.startReading(paths);
    await sleep(400);
    appendFileSync(file, lines(0, 100));
    await waitFor(() => readFileSync(`${paths.output}.watch.pos`, 'utf8'), /"pending":null/, 5000).catch(() => {});
    await sleep(500);
    copy.child.kill('SIGKILL');
    await copy.exited;
    rmSync(paths.pipe, { force: true });
    // While it is down: more lines, then logrotate's create (rename, new file), then more.
    appendFileSync(file, `${lines(100, 200)}writer=w seq=200 x`);
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, '\n');
    writeFileSync(file, lines(201, 300));
    copy = await fx.startReading(paths);
    await sleep(1500);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const { seqs } = await writerLines(paths.output, 'w');
    expect(seqs).toEqual(range(300));
  }, 30_000);

  it('a file deleted and recreated is read from its start; a rename away is finished first', async () => {
    const file = join(fx.tmp.path, 'recreated.log');
    writeFileSync(file, '');
    const paths = await fx.generate(['--watch-file', file]);
    const copy = await fx.startReading(paths);
    await sleep(400);
    appendFileSync(file, 'writer=d seq=0 x\nwriter=d seq=1 x\n');
    await sleep(600);
    rmSync(file);
    await sleep(600);
    writeFileSync(file, 'writer=d seq=2 x\n');
    await sleep(600);
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, 'writer=d seq=3 x\n');
    writeFileSync(file, 'writer=d seq=4 x\n');
    await sleep(1200);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const { seqs, objects } = await writerLines(paths.output, 'd');
    expect(seqs).toEqual(range(5));
    expect(events(objects, 'file-rotated').length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('a watched name turned into a link is never followed to empty its target (--consume), nor to one of the copy\'s own files', async () => {
    const victim = join(fx.tmp.path, 'app-linked.log');
    const bait = join(fx.tmp.path, 'bait-archive');
    writeFileSync(victim, 'writer=l seq=0 x\n');
    writeFileSync(bait, 'precious\n');
    const paths = await fx.generate(['--watch-file', victim, '--watch-from', 'start', '--consume'], 'lnk');
    const copy = await fx.startReading(paths);
    await sleep(1800); // read, then emptied after its quiet second
    expect(readFileSync(victim).length).toBe(0);
    rmSync(victim);
    symlinkSync(bait, victim);
    await sleep(2500);
    expect(readFileSync(bait, 'utf8')).toBe('precious\n');
    expect(copy.stderr()).toMatch(/app-linked\.log: ELOOP/);
    // Without --consume a link is followed (as tail -F does), but never to the copy's own log.
    rmSync(victim);
    symlinkSync(paths.output, victim);
    await sleep(1500);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const { seqs, objects } = await writerLines(paths.output, 'l');
    expect(seqs).toEqual([0]);
    expect(objects.some((o) => o.kind === 'line' && String(o.line).includes('precious'))).toBe(false);

    rmSync(victim);
    writeFileSync(victim, '');
    const again = await fx.generate(['--watch-file', victim, '--watch-from', 'start'], 'own');
    rmSync(victim);
    symlinkSync(again.output, victim);
    const own = await fx.startReading(again);
    await sleep(1500);
    own.child.kill('SIGTERM');
    expect(await own.exited).toBe(0);
    expect(own.stderr()).toMatch(/EOWNFILE/);
    const lines = (await decryptJson(again.output)).filter((o) => o.kind === 'line');
    expect(lines).toEqual([]);
  });

  it('--consume empties the file once its lines are durable, and loses none of an O_APPEND writer', async () => {
    const file = join(fx.tmp.path, 'consumed.log');
    writeFileSync(file, 'writer=c seq=0 x\n');
    const paths = await fx.generate(['--watch-file', file, '--watch-from', 'start', '--consume']);
    const copy = await fx.startReading(paths);
    const count = 20_000;
    // Two runs of the writer with a quiet second between: the file is emptied in that second
    // (and at the end), and the second run's O_APPEND writes start again at offset 0.
    expect(await fileWriter(file, 'c', 9_999, 50, 2, 1).done).toBe(9_999);
    await sleep(1800);
    expect(readFileSync(file).length).toBe(0);
    expect(await fileWriter(file, 'c', 10_000, 50, 2, 10_000).done).toBe(10_000);
    await sleep(1800);
    expect(readFileSync(file).length).toBe(0);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const { seqs } = await writerLines(paths.output, 'c');
    const lost = count - seqs.length;
    process.stdout.write(`--consume: ${lost} of ${count} lines lost to the truncate race\n`);
    for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
    expect(seqs).toEqual(range(count));
  }, 60_000);
});
