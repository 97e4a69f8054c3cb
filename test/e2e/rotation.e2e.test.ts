import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForReader } from '../../generator/start.ts';
import { asidePath, utcStamp } from '../../runtime/rotation/names.ts';
import { cli, writerProcess } from '../helpers/cli.ts';
import { type CopyPaths, E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { makeKey, writeKeyFiles } from '../helpers/keys.ts';
import { attachmentOf } from '../helpers/mime.ts';
import { startSmtp } from '../helpers/smtp.ts';

const fx = new E2eFixture();
let archiveKey: { pub: string; sec: string };

beforeAll(async () => {
  await fx.setup();
  const k = await makeKey('archives@example.org');
  archiveKey = writeKeyFiles(fx.tmp.path, 'archive', k);
  fx.gpg.importKey(k.privateArmored);
});
afterAll(() => fx.dispose());

function archiveDir(name: string): string {
  const dir = join(fx.tmp.path, `${name}-archive`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

const rotating = (dir: string, extra: string[] = []) => [
  '--quit-string', QUIT, '--rotate-size', '8K', '--rotate-check-every', '1',
  '--archive-dir', dir, '--rotate-recipient-key', archiveKey.pub, ...extra,
];

const decryptAll = (paths: CopyPaths, dir: string, extra: string[] = []) =>
  fx.decrypt([paths.output], ['--archive-key', archiveKey.sec, '--archive-dir', dir, ...extra]);

const leftovers = (paths: CopyPaths, dir: string) => [
  ...readdirSync(paths.dir).filter((n) => n.endsWith('.aside') || n.endsWith('.mailed')),
  ...readdirSync(dir).filter((n) => n.endsWith('.tmp')),
];

/**
 * One run of the copy: the writers write their lines in `bursts` rounds with a pause between,
 * so each round is appended (and size-checked) on its own, however the machine batches a flood.
 */
/** Runs the copy once with the given writers, stops it with the quit string; returns its stderr. */
async function runOnce(paths: CopyPaths, writers: Record<string, number>, bursts = 1): Promise<string> {
  const copy = await fx.startReading(paths);
  for (let round = 0; round < bursts; round += 1) {
    await Promise.all(Object.entries(writers).map(([id, n]) => writerProcess(paths.pipe, `${id}`, n / bursts, 40, round * (n / bursts))));
    await new Promise((r) => setTimeout(r, 20));
  }
  sendQuit(paths.pipe);
  expect(await copy.exited, copy.stderr()).toBe(0);
  return copy.stderr();
}

describe('rotation', () => {
  it('rotates many times under concurrent writers: no line lost or repeated; archives open with our decrypt and with gpg | gunzip', async () => {
    const dir = archiveDir('flow');
    const paths = await fx.generate(rotating(dir));
    await runOnce(paths, { a: 20_000, b: 20_000 }, 8);
    const archives = readdirSync(dir).filter((n) => n.endsWith('.gz.gpg')).sort();
    expect(archives.length).toBeGreaterThanOrEqual(3);
    expect(leftovers(paths, dir)).toEqual([]);
    for (const a of archives) expect(statSync(join(dir, a)).mode & 0o777).toBe(0o640);
    expect(archives[0]).toMatch(/^c\d+\.log\.\d{8}T\d{6}\.\d{3}Z\.\d+\.gz\.gpg$/);

    const r = await decryptAll(paths, dir, ['--show-control']);
    expect(r.stderr).not.toMatch(/missing-blocks|torn|undecryptable/); // sequence numbers run on across rotations
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"event":"rotation-finished"/);
    const by = linesByWriter(r.stdout.toString());
    expect(by.get('a')).toEqual(range(20_000));
    expect(by.get('b')).toEqual(range(20_000));

    // Stock tools: gpg opens the outer layer, gunzip gives the rotated log, which decrypts.
    const inner = gunzipSync(fx.gpg.decrypt(readFileSync(join(dir, archives[0]!))));
    expect(inner.subarray(0, 27).toString()).toBe('-----BEGIN PGP MESSAGE-----');
    const viaStdin = await cli(['decrypt', '--key', fx.keyFiles.sec], { input: inner });
    expect(viaStdin.code).toBe(0);
    expect(r.stdout.includes(viaStdin.stdout)).toBe(true);
  });

  it('without remove-old, rotated logs are kept beside the live log and decrypt in order', async () => {
    const dir = archiveDir('keep');
    const paths = await fx.generate(rotating(dir, ['--rotate-actions', 'compress-encrypt']));
    await runOnce(paths, { k: 10_000 }, 5);
    const kept = readdirSync(paths.dir).filter((n) => /^c\d+\.log\.\d{8}T\d{6}\.\d{3}Z\.\d+$/.test(n));
    expect(kept.length).toBeGreaterThanOrEqual(2);
    // The kept rotated logs alone, with the live log: the same lines as the archives.
    const r = await fx.decrypt([paths.output, ...kept.map((n) => join(paths.dir, n))]);
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('k')).toEqual(range(10_000));
  });

  it('--rotate-interval alone rotates on the timer whatever the size', async () => {
    const dir = archiveDir('timer');
    const paths = await fx.generate(['--quit-string', QUIT, '--rotate-interval', '1s', '--archive-dir', dir]);
    const copy = fx.start(paths);
    await waitForReader(paths.pipe, 10_000);
    await writerProcess(paths.pipe, 't', 10);
    for (let i = 0; i < 300 && readdirSync(dir).filter((n) => n.endsWith('.gz.gpg')).length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
    await writerProcess(paths.pipe, 't', 10, 40, 10);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    expect(readdirSync(dir).filter((n) => n.endsWith('.gz.gpg')).length).toBeGreaterThanOrEqual(1);
    const r = await fx.decrypt([paths.output], ['--archive-dir', dir]); // archive key defaults to the log key
    expect(r.code).toBe(0);
    expect(linesByWriter(r.stdout.toString()).get('t')).toEqual(range(20));
  });

  it('refuses to start when the archive dir is missing, and creates nothing', async () => {
    const paths = await fx.generate(['--rotate-size', '1M', '--archive-dir', join(fx.tmp.path, 'no-such-archive')]);
    const { run } = await import('../helpers/cli.ts');
    const r = await run(paths.copy, []);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[DIR_MISSING\].*archive directory/);
    expect(existsSync(paths.pipe)).toBe(false);
    expect(existsSync(paths.output)).toBe(false);
  });

  describe('a copy killed mid-rotation is finished by the next start, every line exactly once', () => {
    /** Leaves the live log renamed aside, as a kill right after the rename does. */
    async function killedAfterRename(name: string, dir: string): Promise<{ paths: CopyPaths; aside: string }> {
      const paths = await fx.generate(rotating(dir, ['--rotate-size', '1G']), name);
      await runOnce(paths, { first: 3000 });
      const aside = asidePath(paths.output, { stamp: utcStamp(new Date(Date.now() - 60_000)), counter: 1 });
      renameSync(paths.output, aside);
      await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', paths.pipe, '--output', paths.output, '--save-path', paths.copy, '--force', ...rotating(dir)]);
      return { paths, aside };
    }

    async function restartAndCheck(paths: CopyPaths, dir: string): Promise<void> {
      await runOnce(paths, { second: 100 });
      expect(leftovers(paths, dir)).toEqual([]);
      const r = await decryptAll(paths, dir);
      expect(r.code).toBe(0);
      const by = linesByWriter(r.stdout.toString());
      expect(by.get('first')).toEqual(range(3000));
      expect(by.get('second')).toEqual(range(100));
    }

    it('after the rename, before any archive', async () => {
      const dir = archiveDir('k1');
      const { paths } = await killedAfterRename('k1', dir);
      await restartAndCheck(paths, dir);
    });

    it('during the archive write (a partial temp archive is left)', async () => {
      const dir = archiveDir('k2');
      const { paths, aside } = await killedAfterRename('k2', dir);
      const stamp = /\.(\d{8}T\d{6}\.\d{3}Z\.\d+)\.aside$/.exec(aside)![1];
      writeFileSync(join(dir, `.k2.log.${stamp}.gz.gpg.tmp`), 'half an archive');
      await restartAndCheck(paths, dir);
    });

    it('after the archive, before the remove (the archive is not written twice)', async () => {
      const dir = archiveDir('k3');
      const { paths, aside } = await killedAfterRename('k3', dir);
      const saved = `${aside}.saved`;
      copyFileSync(aside, saved);
      // A full run archives and removes it; putting the aside file back gives the state of a
      // copy killed between the archive's rename and the remove.
      await runOnce(paths, {});
      const archives = readdirSync(dir).filter((n) => n.endsWith('.gz.gpg'));
      expect(archives).toHaveLength(1);
      const archiveBytes = readFileSync(join(dir, archives[0]!));
      renameSync(saved, aside);
      await restartAndCheck(paths, dir);
      expect(readdirSync(dir).filter((n) => n.endsWith('.gz.gpg'))).toEqual(archives);
      expect(readFileSync(join(dir, archives[0]!)).equals(archiveBytes)).toBe(true);
    });

    it('a real SIGKILL while rotating under load: the restart finishes every rotation; each line once, in order', async () => {
      const dir = archiveDir('k4');
      const paths = await fx.generate(rotating(dir, ['--rotate-size', '4K']), 'k4');
      const copy = fx.start(paths);
      await waitForReader(paths.pipe, 10_000);
      const ready = join(fx.tmp.path, 'k4-ready');
      const writing = writerProcess(paths.pipe, 'w', 1_000_000, 40, 0, ready);
      // Kill only once the writer is writing (a writer still opening would wait for a reader forever).
      for (let i = 0; i < 1000 && !existsSync(ready); i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(ready)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      copy.child.kill('SIGKILL');
      await copy.exited;
      await writing; // EPIPE: the writer stops when the reader dies
      const restart = await runOnce(paths, { after: 100 });
      expect(leftovers(paths, dir), restart).toEqual([]);
      const r = await decryptAll(paths, dir);
      // A block cut by the kill is the only problem there may be, and it is reported as torn.
      for (const line of r.stderr.split('\n').filter((l) => l.includes('offset'))) expect(line).toMatch(/: torn: /);
      const by = linesByWriter(r.stdout.toString());
      const got = by.get('w') ?? [];
      expect(got.length).toBeGreaterThan(100);
      expect(got).toEqual(range(got.length)); // lost lines can only be the unwritten tail
      expect(by.get('after')).toEqual(range(100));
    });
  });

  describe('encrypted e-mail', () => {
    it('sends each archive to a real SMTP server; the attachment decrypts to the lines; the body holds no log content', async () => {
      const smtp = await startSmtp();
      const { mails, port } = smtp;
      try {
        const dir = archiveDir('smtp');
        const paths = await fx.generate(
          rotating(dir, ['--rotate-size', '16K', '--rotate-actions', 'compress-encrypt,encrypted-email,remove-old', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', `smtp://127.0.0.1:${port}`]),
        );
        await runOnce(paths, { m: 10_000 }, 4);
        const archives = readdirSync(dir).filter((n) => n.endsWith('.gz.gpg'));
        expect(mails.length).toBe(archives.length);
        expect(mails.length).toBeGreaterThanOrEqual(1);
        const mail = mails[0]!;
        expect(mail).toMatch(/^To: ops@example\.org/m);
        const { filename, content } = attachmentOf(mail);
        expect(archives).toContain(filename);
        expect(content.equals(readFileSync(join(dir, filename)))).toBe(true);
        expect(mail).toContain(`size:    ${content.length} bytes`);
        expect(mail).toContain(`sha256:  ${(await import('node:crypto')).createHash('sha256').update(content).digest('hex')}`);
        expect(mail).not.toMatch(/writer=m/);
        const inner = gunzipSync(fx.gpg.decrypt(content));
        const r = await cli(['decrypt', '--key', fx.keyFiles.sec], { input: inner });
        expect(r.stdout.toString()).toMatch(/^writer=m seq=0 /m);
      } finally {
        await smtp.close();
      }
    });

    it('a failing mail server: the aside file is kept, the action retried with backoff and recorded, then delivered', async () => {
      const smtp = await startSmtp(2);
      const { mails, port } = smtp;
      try {
        const dir = archiveDir('retry');
        const paths = await fx.generate(
          rotating(dir, ['--rotate-actions', 'compress-encrypt,encrypted-email,remove-old', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', `smtp://127.0.0.1:${port}`]),
        );
        await runOnce(paths, { f: 8000 }, 4);
        expect(smtp.refusalsLeft()).toBe(0);
        const archives = readdirSync(dir).filter((n) => n.endsWith('.gz.gpg'));
        expect(archives.length).toBeGreaterThanOrEqual(1);
        expect(mails.length).toBe(archives.length); // each delivered once, after the refusals
        expect(leftovers(paths, dir)).toEqual([]);
        const r = await decryptAll(paths, dir, ['--show-control']);
        expect(r.code).toBe(0);
        expect(r.stderr).toMatch(/"event":"rotation-action-failed","detail":"[^"]+\.aside: [^"]*451/);
        expect(r.stderr.indexOf('rotation-action-failed')).toBeLessThan(r.stderr.lastIndexOf('rotation-finished'));
        expect(linesByWriter(r.stdout.toString()).get('f')).toEqual(range(8000));
      } finally {
        await smtp.close();
      }
    });

    it('sendmail transport: hands the mail to the sendmail program, without an archive dir', async () => {
      const spool = join(fx.tmp.path, 'spool');
      mkdirSync(spool);
      const fake = join(fx.tmp.path, 'fake-sendmail');
      writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > ${spool}/args.$$\ncat > ${spool}/mail.$$\n`, { mode: 0o755 });
      const paths = await fx.generate([
        '--quit-string', QUIT, '--rotate-size', '8K', '--rotate-check-every', '1', '--rotate-recipient-key', archiveKey.pub,
        '--rotate-actions', 'encrypted-email,remove-old', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', fake,
      ]);
      await runOnce(paths, { s: 5000 }, 4);
      const mails = readdirSync(spool).filter((n) => n.startsWith('mail.'));
      expect(mails.length).toBeGreaterThanOrEqual(1);
      const args = readFileSync(join(spool, readdirSync(spool).find((n) => n.startsWith('args.'))!), 'utf8');
      expect(args).toContain('ops@example.org');
      expect(readdirSync(paths.dir).filter((n) => n.endsWith('.aside'))).toEqual([]);
      let text = '';
      for (const m of mails.sort()) {
        const inner = gunzipSync(fx.gpg.decrypt(attachmentOf(readFileSync(join(spool, m), 'latin1')).content));
        text += (await cli(['decrypt', '--key', fx.keyFiles.sec], { input: inner })).stdout.toString();
      }
      text += (await fx.decrypt([paths.output])).stdout.toString();
      expect(linesByWriter(text).get('s')).toEqual(range(5000));
    });
  });
});
