import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { ROOT, run, tempDir, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, range, waitFor } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const HOLD_WRITER = join(ROOT, 'test', 'helpers', 'hold-writer.mjs');

/** Resolves once a FIFO other than `oldIno` sits at `path` (the copy put a fresh one back). */
async function freshFifo(path: string, oldIno: number): Promise<number> {
  let ino = oldIno;
  await waitFor(() => {
    try {
      const st = lstatSync(path);
      ino = st.isFIFO() ? st.ino : oldIno;
    } catch {
      ino = oldIno;
    }
    return ino === oldIno ? 'same' : 'fresh';
  }, /fresh/, 10_000);
  return ino;
}

describe('the pipe deleted or replaced while the copy runs', () => {
  it('each time: recorded in the log, the intruder kept aside, a fresh pipe put back; old and new writers both kept', async () => {
    const paths = await fx.generate();
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    // A service that opened the pipe before the change and keeps its descriptor.
    const go = join(paths.dir, 'go');
    const holder = run(process.execPath, [HOLD_WRITER, paths.pipe, 'held', '100', go]);
    await waitFor(() => (existsSync(`${go}.ready`) ? 'ready' : ''), /ready/, 10_000);
    let ino = lstatSync(paths.pipe).ino;

    // 1. Deleted.
    rmSync(paths.pipe);
    ino = await freshFifo(paths.pipe, ino);
    expect(await writerProcess(paths.pipe, 'after-delete', 100)).toBe(100);

    // 2. A regular file in its place: writers would log into it in the clear.
    rmSync(paths.pipe);
    writeFileSync(paths.pipe, 'planted by someone\n');
    ino = await freshFifo(paths.pipe, ino);
    expect(await writerProcess(paths.pipe, 'after-file', 100)).toBe(100);

    // 3. A symlink in its place.
    rmSync(paths.pipe);
    symlinkSync(join(paths.dir, 'elsewhere'), paths.pipe);
    ino = await freshFifo(paths.pipe, ino);
    expect(await writerProcess(paths.pipe, 'after-link', 100)).toBe(100);

    // The service still writes through its old descriptor: those lines are read too.
    writeFileSync(go, '');
    const held = await holder;
    expect(held.stderr).toBe('');
    expect(held.code).toBe(0);
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.code).toBe(0);
    const events = [...r.stderr.matchAll(/"event":"pipe-replaced","detail":"([^"]*)"/g)].map((m) => m[1]);
    expect(events).toHaveLength(3);
    expect(events[0]).toMatch(/was deleted; a fresh pipe was made/);
    expect(events[1]).toMatch(/was replaced by a regular file; what was there is kept as .*\.replaced-/);
    expect(events[2]).toMatch(/was replaced by a symlink; what was there is kept as/);
    const by = linesByWriter(r.stdout.toString());
    for (const id of ['after-delete', 'after-file', 'after-link']) expect(by.get(id)).toEqual(range(100));
    expect(by.get('held')).toEqual(range(200));

    // The planted file is kept as evidence, untouched; the copy's last pipe is gone with it.
    const aside = readdirSync(paths.dir).filter((n) => n.startsWith(`${paths.pipe.split('/').pop()}.replaced-`));
    expect(aside).toHaveLength(2);
    expect(aside.map((n) => (lstatSync(join(paths.dir, n)).isSymbolicLink() ? 'link' : readFileSync(join(paths.dir, n), 'utf8'))).sort()).toEqual(['link', 'planted by someone\n']);
    expect(() => lstatSync(paths.pipe)).toThrow(/ENOENT/);
    expect(copy.stderr()).toMatch(/PIPE_REPLACED/);
  });

  it.skipIf(process.getuid?.() !== 0)('a pipe the run-as user cannot put back: said once, the old pipe still read, nothing lost (root only)', async () => {
    // A directory root owns and others may only enter: the copy, dropped to nobody, sees the
    // pipe go but cannot make a new one there.
    const open = tempDir('pp-guard-');
    try {
      chmodSync(open.path, 0o755);
      const pipe = join(open.path, 'g.pipe');
      const output = join(open.path, 'g.log');
      // Later flags win: the pipe and the log go into that directory, the copy stays in the fixture's.
      const paths = await fx.generate(['--run-as', 'nobody', '--pipe-mode', '620', '--pipe', pipe, '--output', output], 'guarded');
      const copy = fx.start({ ...paths, pipe, output });
      await waitForReader(pipe, 10_000);
      const go = join(open.path, 'go');
      const holder = run(process.execPath, [HOLD_WRITER, pipe, 'held', '100', go]);
      await waitFor(() => (existsSync(`${go}.ready`) ? 'ready' : ''), /ready/, 10_000);
      rmSync(pipe);
      await waitFor(copy.stderr, /PIPE_NOT_RECREATED: .*was deleted; could not put a fresh pipe there: /, 10_000);
      writeFileSync(go, '');
      expect((await holder).code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 2500)); // more checks: still said once
      copy.child.kill('SIGTERM');
      expect(await copy.exited).toBe(0);
      expect(copy.stderr().match(/PIPE_NOT_RECREATED/g)).toHaveLength(1);
      const r = await fx.decrypt([output], ['--show-control']);
      expect(r.code).toBe(0);
      expect(r.stderr.match(/"event":"pipe-not-recreated"/g)).toHaveLength(1);
      expect(linesByWriter(r.stdout.toString()).get('held')).toEqual(range(200));
    } finally {
      open.dispose();
    }
  });
});
