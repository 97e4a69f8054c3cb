import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eFixture, QUIT, sendQuit } from '../helpers/e2e.ts';
import { startSmtp } from '../helpers/smtp.ts';

const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

describe('--report-every', () => {
  it('mails an encrypted summary at stop through SMTP; it decrypts and its numbers match the log', async () => {
    const smtp = await startSmtp();
    try {
      const watched = join(fx.tmp.path, 'watched.conf');
      writeFileSync(watched, 'x\n');
      const paths = await fx.generate([
        '--quit-string', QUIT,
        '--ignore', 'health',
        '--monitor', watched,
        '--report-every', '1h',
        '--mail-to', 'ops@example.org',
        '--mail-from', 'pp@example.org',
        '--mail-transport', `smtp://127.0.0.1:${smtp.port}`,
      ]);
      const copy = await fx.startReading(paths);
      const fd = openSync(paths.pipe, 'w');
      for (let i = 0; i < 20; i += 1) writeSync(fd, i % 4 === 0 ? `GET /health ${i}\n` : `GET /page ${i}\n`);
      closeSync(fd);
      sendQuit(paths.pipe);
      expect(await copy.exited).toBe(0);

      expect(smtp.mails).toHaveLength(1);
      const mail = smtp.mails[0]!;
      expect(mail).toMatch(/^To: ops@example\.org/m);
      expect(mail).toMatch(/^Subject: paranoid-pipes report from /m);
      expect(mail).not.toContain('/page'); // nothing of the log in the clear
      const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(mail.replace(/\r\n/g, '\n'))![0];
      const text = fx.gpg.decrypt(Buffer.from(`${armored}\n`)).toString();
      const summary = JSON.parse(/^summary: (.*)$/m.exec(text)![1]!) as Record<string, unknown>;

      const r = await fx.decrypt([paths.output], ['--json']);
      const records = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { kind: string; type?: string; record?: Record<string, unknown> });
      const end = records.find((o) => o.type === 'stream-end')!.record!;
      expect(summary).toMatchObject({
        streamId: end.streamId,
        written: { lines: 15 },
        keptBySource: [{ source: paths.pipe, lines: 15 }],
        filtered: { lines: 5, bytes: end.filteredBytes },
        topPatterns: [{ kind: 'ignore', pattern: 'health', lines: 5 }],
        monitorChangeCount: 0,
        overloadDropped: { lines: 0, bytes: 0 },
        errors: {},
      });
      expect(end.lines).toBe(15);
      expect(text).toMatch(/filtered since start: 5 lines/);
      const sent = records.find((o) => o.type === 'event' && o.record!.event === 'report-sent');
      expect(sent?.record?.detail).toMatch(/15 lines written, 5 filtered, 0 monitor changes, 0 dropped, 0 errors/);
    } finally {
      await smtp.close();
    }
  }, 60_000);

  it('a refused mail is an encrypted report-failed event, and the copy still stops cleanly', async () => {
    const smtp = await startSmtp(5);
    try {
      const paths = await fx.generate(['--quit-string', QUIT, '--report-every', '1h', '--mail-to', 'ops@example.org', '--mail-from', 'pp@example.org', '--mail-transport', `smtp://127.0.0.1:${smtp.port}`]);
      const copy = await fx.startReading(paths);
      sendQuit(paths.pipe);
      expect(await copy.exited).toBe(0);
      expect(copy.stderr()).toMatch(/REPORT_FAILED/);
      const r = await fx.decrypt([paths.output], ['--show-control']);
      expect(r.stderr).toMatch(/"event":"report-failed"/);
    } finally {
      await smtp.close();
    }
  }, 60_000);
});
