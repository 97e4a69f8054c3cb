import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { writerProcess } from '../helpers/cli.ts';
import { E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

function writeQuit(pipe: string): void {
  sendQuit(pipe);
}

describe('encrypter copy, end to end', () => {
  it('concurrent writers, quit string: every line exactly once, in order per writer; gpg opens every block', async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--header', '# e2e vhost']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    const writers = ['a', 'b', 'c', 'd'];
    const accepted = await Promise.all(writers.map((id) => writerProcess(paths.pipe, id, 3000)));
    expect(accepted).toEqual([3000, 3000, 3000, 3000]);
    writeQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    expect(existsSync(paths.pipe)).toBe(false); // it removes the pipe it created

    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.stderr).toMatch(/"type":"stream-start"/);
    expect(r.stderr).toMatch(/"type":"stream-end".*"lines":12000.*"reason":"quit string"/);
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    expect(text.startsWith('# e2e vhost\n')).toBe(true);
    expect(text).not.toContain(QUIT);
    const by = linesByWriter(text);
    for (const id of writers) expect(by.get(id)).toEqual(range(3000));

    // Each block alone is a standard OpenPGP message that stock gpg opens.
    const viaGpg = fx.gpgBlocks(paths.output);
    expect(viaGpg.data.equals(r.stdout)).toBe(true);
    expect(viaGpg.controls.map((c) => c.type)).toEqual(['stream-start', 'stream-end']);

    // The copy's diagnostics never carry logged data, and the log holds no plaintext.
    expect(copy.stderr()).not.toMatch(/writer=/);
    expect(readFileSync(paths.output, 'utf8')).not.toMatch(/writer=|e2e vhost/);
  });

  it('SIGTERM after the writers: drains, writes stream-end, exits 0 (binary messages)', async () => {
    const paths = await fx.generate(['--binary']);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    await Promise.all(['x', 'y'].map((id) => writerProcess(paths.pipe, id, 5000, 200)));
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);

    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"reason":"signal SIGTERM"/);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('x')).toEqual(range(5000));
    expect(by.get('y')).toEqual(range(5000));
    expect(readFileSync(paths.output).subarray(0, 30).toString('latin1')).not.toContain('BEGIN PGP');
    expect(fx.gpgBlocks(paths.output).data.equals(r.stdout)).toBe(true);
  });

  it('SIGTERM while writers are still writing: lines from before the stop all kept; the rest whole, in order, loss within one pipe buffer', async () => {
    const paths = await fx.generate();
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    // Written and finished before the stop: every one of these must come back.
    const before = await Promise.all(['a', 'b'].map((id) => writerProcess(paths.pipe, id, 2000)));
    expect(before).toEqual([2000, 2000]);
    // Still writing when the stop comes: signal once each has had a line accepted.
    const ready = (id: string) => join(fx.tmp.path, `ready-${id}`);
    const writing = ['p', 'q', 'r'].map((id) => writerProcess(paths.pipe, id, 200_000, 40, 0, ready(id)));
    for (const id of ['p', 'q', 'r']) {
      for (let i = 0; i < 1000 && !existsSync(ready(id)); i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(ready(id))).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 100));
    copy.child.kill('SIGTERM');
    expect(await copy.exited).toBe(0);
    const accepted = await Promise.all(writing);

    const r = await fx.decrypt([paths.output]);
    expect(r.code).toBe(0);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('a')).toEqual(range(2000));
    expect(by.get('b')).toEqual(range(2000));
    let lostBytes = 0;
    ['p', 'q', 'r'].forEach((id, i) => {
      const got = by.get(id) ?? [];
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(range(got.length)); // a gap-free prefix, in order, no repeats
      expect(got.length).toBeLessThanOrEqual(accepted[i]!);
      for (let seq = got.length; seq < accepted[i]!; seq += 1) lostBytes += `writer=${id} seq=${seq} ${'x'.repeat(40)}\n`.length;
    });
    // After the copy's last read the pipe was empty: writers can add at most one pipe buffer
    // (64 KiB on Linux) before they block, and blocked writers then get EPIPE. Only those bytes,
    // written while the copy stops, can miss (README: stop the writers first).
    expect(lostBytes).toBeLessThanOrEqual(65536);
    // Every line that came back is whole: nothing torn or interleaved.
    const stray = r.stdout.toString().split('\n').filter((l) => l !== '' && !/^writer=[abpqr] seq=\d+ x{40}$/.test(l));
    expect(stray).toEqual([]);
  });

  it('a restarted copy appends a new stream after the old one; both decrypt', async () => {
    const paths = await fx.generate(['--quit-string', QUIT]);
    for (const id of ['first', 'second']) {
      const copy = fx.start(paths);
      await waitForReader(paths.pipe, 10_000);
      await writerProcess(paths.pipe, id, 100);
      writeQuit(paths.pipe);
      expect(await copy.exited).toBe(0);
    }
    expect(lstatSync(paths.output).mode & 0o777).toBe(0o640);
    const r = await fx.decrypt([paths.output], ['--show-control']);
    expect(r.code).toBe(0);
    expect(r.stderr.match(/"type":"stream-start"/g)).toHaveLength(2);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('first')).toEqual(range(100));
    expect(by.get('second')).toEqual(range(100));
  });
});
