import { mkdirSync, readdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, QUIT, sendQuit, waitFor } from '../helpers/e2e.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { blocksOf } from '../helpers/tamper.ts';

/**
 * Rotation mail carries an off-host anchor (stream, block, digest of its seal): `verify --anchor`
 * proves the log still reaches that block, so a cut below it shows even if everything after the
 * cut was removed cleanly.
 */
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

describe('rotation mail anchors', () => {
  it('an anchored log verifies; cut below the anchor, it does not', async () => {
    const smtp = await startSmtp();
    try {
      const dir = join(fx.tmp.path, 'archive');
      mkdirSync(dir, { mode: 0o700 });
      const paths = await fx.generate(
        ['--quit-string', QUIT, '--compress', 'none', '--rotate-size', '8K', '--rotate-check-every', '1', '--archive-dir', dir,
          '--rotate-actions', 'compress-encrypt,encrypted-email,remove-old', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', `smtp://127.0.0.1:${smtp.port}`],
        'anchored',
      );
      const copy = await fx.startReading(paths);
      await writerProcess(paths.pipe, 'a', 150);
      await waitFor(() => String(smtp.mails.length), /^[1-9]/, 20_000);
      await writerProcess(paths.pipe, 'b', 20);
      sendQuit(paths.pipe);
      expect(await copy.exited, copy.stderr()).toBe(0);

      const body = (smtp.mails[0] as string).replace(/=\r?\n/g, '');
      const anchor = /^anchor: +([0-9a-f]{32}:\d+:[0-9a-f]{32})\r?$/m.exec(body)?.[1];
      expect(anchor).toBeDefined();
      const [stream, seqText] = (anchor as string).split(':');
      const seq = Number(seqText);
      const verify = (files: string[], archiveDir: string) => cli(['verify', '--key', fx.keyFiles.sec, '--archive-dir', archiveDir, '--anchor', anchor as string, ...files]);
      const clean = await verify([paths.output], dir);
      expect(clean.stdout.toString()).toMatch(/^verified:/m);
      expect(clean.code).toBe(0);

      // Cut just below the anchored block: in the live log, or by dropping the archive that holds it.
      const live = await blocksOf(readFileSync(paths.output), fx.key.privateKey);
      const inLive = live.find((b) => b.streamId === stream && b.seq === seq);
      const archives = readdirSync(dir).filter((n) => n.endsWith('.gz.gpg')).sort();
      const files = [paths.output];
      let archiveDir = dir;
      if (inLive !== undefined) {
        truncateSync(paths.output, inLive.offset);
      } else {
        const holding = [];
        for (const name of archives) {
          const inner = gunzipSync(fx.gpg.decrypt(readFileSync(join(dir, name))));
          holding.push((await blocksOf(inner, fx.key.privateKey)).some((b) => b.streamId === stream && b.seq === seq));
        }
        const at = holding.indexOf(true);
        expect(at).toBeGreaterThanOrEqual(0);
        archiveDir = join(fx.tmp.path, 'earlier');
        mkdirSync(archiveDir, { mode: 0o700 });
        const { copyFileSync } = await import('node:fs');
        for (const name of archives.slice(0, at)) copyFileSync(join(dir, name), join(archiveDir, name));
        truncateSync(paths.output, 0); // the live log emptied too: everything from the anchor on is gone
      }
      const cut = await verify(files, archiveDir);
      expect(cut.code).toBe(1);
      expect(cut.stdout.toString()).toMatch(new RegExp(`anchor-missing: stream ${stream}: anchored block ${seq} \\(mailed off the host\\) is not here`));
      const bad = await cli(['verify', '--key', fx.keyFiles.sec, '--anchor', 'nonsense', paths.output]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/BAD_ANCHOR/);
    } finally {
      await smtp.close();
    }
  });
});
