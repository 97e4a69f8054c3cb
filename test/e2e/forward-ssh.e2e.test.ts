import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextPiece } from '../../runtime/format/split.ts';
import { CLI, cli, run, writerProcess } from '../helpers/cli.ts';
import { type CopyPaths, E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { childPids, missingForSshd, TestSshd, until } from '../helpers/servers.ts';

const missing = missingForSshd();
if (missing !== null) console.log(`skipping ssh forwarding tests: ${missing}`);

const fx = new E2eFixture();
let sshd: TestSshd;
let received: string;

beforeAll(async () => {
  if (missing !== null) return;
  await fx.setup();
  received = join(fx.tmp.path, 'collector.log.asc');
  // What the collector's authorized_keys forces: the receiver, appending to one file per host.
  sshd = await TestSshd.create(`${process.execPath} ${CLI} receive --output ${received}`);
}, 60_000);
afterAll(async () => {
  await sshd?.dispose();
  fx.dispose();
});

function messagesIn(file: string): number {
  if (!existsSync(file)) return 0;
  const buf = readFileSync(file);
  let n = 0;
  for (let p = nextPiece(buf, 0); p !== null; p = nextPiece(buf, p.end)) if (p.kind === 'message') n += 1;
  return n;
}

/** Each writer's sequence numbers, decrypted from a log (the decrypter drops repeated blocks). */
async function linesOf(file: string): Promise<Map<string, number[]>> {
  const r = await fx.decrypt([file]);
  return linesByWriter(r.stdout.toString());
}

const sshUrl = () => `ssh://root@127.0.0.1:${sshd.port}/srv/logs/www.log.asc?identity=${sshd.identity}&known-hosts=${sshd.knownHosts}`;

describe.skipIf(missing !== null)('--forward ssh:// to a real sshd running paranoid-pipes receive', () => {
  let paths: CopyPaths;

  it('ships every block; a dropped connection and a stopped sshd lose nothing, and nothing is doubled after decryption', async () => {
    paths = await fx.generate(['--quit-string', QUIT, '--forward', sshUrl()], 'www');
    const copy = await fx.startReading(paths);
    await writerProcess(paths.pipe, 'a', 300);
    await until(async () => (await linesOf(received)).get('a')?.length === 300, 'the first lines at the collector').catch((err: Error) => {
      throw new Error(`${err.message}; the copy said:\n${copy.stderr()}\nsshd said:\n${sshd.said()}`);
    });

    // The link drops mid-run: the sshd is stopped and the copy's ssh client killed.
    await sshd.stop();
    for (const pid of childPids(copy.child.pid as number)) process.kill(pid, 'SIGKILL');
    const writing = writerProcess(paths.pipe, 'b', 2000, 300);
    await new Promise((r) => setTimeout(r, 2500));
    expect(copy.child.exitCode, 'the copy keeps reading during the outage').toBeNull();
    await writing;
    await sshd.start();

    await until(async () => (await linesOf(received)).get('b')?.length === 2000, 'the lines written during the outage', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the copy said:\n${copy.stderr()}\nsshd said:\n${sshd.said()}`);
    });
    sendQuit(paths.pipe);
    expect(await copy.exited, copy.stderr()).toBe(0);
    expect(copy.stderr()).toMatch(/FORWARD_DOWN/);
    expect(copy.stderr()).toMatch(/FORWARD_RESTORED/);

    const got = await linesOf(received);
    expect(got.get('a')).toEqual(range(300));
    expect(got.get('b')).toEqual(range(2000));
    // Every block of the local log reached the collector, the stream-end included.
    expect(messagesIn(received)).toBeGreaterThanOrEqual(messagesIn(paths.output));
    const r = await fx.decrypt([received], ['--show-control']);
    expect(r.stderr).toMatch(/"stream-end"/);
    expect(r.stderr).toMatch(/forward-down/);
  }, 120_000);

  it('a copy killed while forwarding resumes from its saved position after a restart', async () => {
    const before = messagesIn(received);
    const copy = await fx.startReading(paths);
    // Rounds with pauses make many blocks; the copy is killed once forwarding is under way.
    for (let round = 0; round < 100 && messagesIn(received) <= before + 2; round += 1) {
      await writerProcess(paths.pipe, 'c', 100, 300, round * 100);
      await new Promise((r) => setTimeout(r, 20));
    }
    copy.child.kill('SIGKILL');
    await copy.exited;
    expect(readdirSync(paths.dir).some((n) => /^www\.log\.forward-[0-9a-f]{8}\.pos$/.test(n))).toBe(true);

    const again = await fx.startReading(paths);
    await writerProcess(paths.pipe, 'd', 500);
    sendQuit(paths.pipe);
    expect(await again.exited, again.stderr()).toBe(0);
    const local = await linesOf(paths.output);
    const got = await linesOf(received);
    // Whatever reached the local log reached the collector, once.
    for (const id of ['a', 'b', 'c', 'd']) expect(got.get(id), `writer ${id}`).toEqual(local.get(id));
    expect(got.get('d')).toEqual(range(500));
  }, 120_000);

  it('pull: the admin reads the log over ssh with plain tools (a key forced to one read-only command) and decrypts it', async () => {
    const pull = await TestSshd.create(`/bin/cat ${paths.output}`);
    try {
      const ssh = await run('/usr/bin/ssh', ['-F', 'none', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${pull.knownHosts}`, '-i', pull.identity, '-p', String(pull.port), 'root@127.0.0.1']);
      expect(ssh.code, ssh.stderr).toBe(0);
      const r = await cli(['decrypt', '--key', fx.keyFiles.sec], { input: ssh.stdout });
      expect(r.code, r.stderr).toBe(0);
      expect(linesByWriter(r.stdout.toString())).toEqual(await linesOf(paths.output));
    } finally {
      await pull.dispose();
    }
  }, 60_000);
});

describe.skipIf(missing !== null)('--forward with rotation', () => {
  it('an aside file stays until it is forwarded: rotations during an outage keep them; afterwards all are shipped and removed', async () => {
    const archive = join(fx.tmp.path, 'rot-archive');
    mkdirSync(archive, { mode: 0o700 });
    const paths = await fx.generate(['--quit-string', QUIT, '--forward', sshUrl(), '--rotate-size', '4K', '--rotate-check-every', '1', '--archive-dir', archive], 'rot');
    await sshd.stop();
    const copy = await fx.startReading(paths);
    const asides = () => readdirSync(paths.dir).filter((n) => n.startsWith('rot.log.') && n.endsWith('.aside'));
    // Small rounds with pauses: many small blocks, so the log passes 4K several times.
    for (let round = 0; round < 16; round += 1) {
      await writerProcess(paths.pipe, 'r', 25, 100, round * 25);
      await new Promise((r) => setTimeout(r, 60));
    }
    // Rotation archives an aside file (a read) but may not remove it before it is shipped.
    await until(() => readdirSync(archive).some((n) => n.endsWith('.gz.gpg')) && asides().length >= 2, 'archives and aside files during the outage').catch((err: Error) => {
      throw new Error(`${err.message}: ${readdirSync(paths.dir).join(' ')}; the copy said:\n${copy.stderr()}`);
    });
    await sshd.start();
    await until(async () => (await linesOf(received)).get('r')?.length === 400, 'every line shipped after the outage', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the copy said:\n${copy.stderr()}`);
    });
    await until(() => asides().length === 0, 'the aside files removed once shipped', 30_000);
    sendQuit(paths.pipe);
    expect(await copy.exited, copy.stderr()).toBe(0);
    expect((await linesOf(received)).get('r')).toEqual(range(400));
  }, 120_000);
});

describe('paranoid-pipes receive', () => {
  it('appends whole messages only: foreign bytes and a torn message are refused, a repeat is dropped', async () => {
    const local = new E2eFixture();
    await local.setup();
    try {
      const paths = await local.generate(['--quit-string', QUIT]);
      const copy = await local.startReading(paths);
      await writerProcess(paths.pipe, 'x', 10);
      sendQuit(paths.pipe);
      expect(await copy.exited).toBe(0);
      const log = readFileSync(paths.output);
      const first = nextPiece(log, 0);
      if (first === null || first.kind !== 'message') throw new Error('no message in the log');
      const message = log.subarray(first.offset, first.end);
      const out = join(local.tmp.path, 'received.log.asc');
      const input = Buffer.concat([log, Buffer.from('\nnot a message at all\n'), message, Buffer.from('\n'), message.subarray(0, 200)]);
      const r = await cli(['receive', '--output', out], { input });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refused \d+ bytes that are no OpenPGP message/);
      expect(r.stderr).toMatch(/ended inside a message/);
      expect(r.stdout.toString()).toMatch(/^paranoid-pipes receive 1\nok \d+\n/);
      expect(readFileSync(out).equals(Buffer.concat([log, log.at(-1) === 0x0a ? Buffer.alloc(0) : Buffer.from('\n')]))).toBe(true);
      expect(linesByWriter((await local.decrypt([out])).stdout.toString()).get('x')).toEqual(range(10));
    } finally {
      local.dispose();
    }
  }, 60_000);
});
