import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeName } from '../../runtime/receive/collect.ts';
import { CLI, cli, writerProcess } from '../helpers/cli.ts';
import { type CopyPaths, E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { missingForNats, TestNats, until } from '../helpers/servers.ts';

const missing = missingForNats();
if (missing !== null) console.log(`skipping NATS forwarding tests: ${missing}`);

const fx = new E2eFixture();
let nats: TestNats;
let collector: { child: ChildProcess; said: () => string } | null = null;
const credentials = join(fx.tmp.path, 'nats.userpass');
const subjectUrl = () => `${nats.url}/logs?user-password=${credentials}`;

beforeAll(async () => {
  if (missing !== null) return;
  await fx.setup();
  // The server wants a user and password: copies and collect read them from a file.
  nats = await TestNats.create(join(fx.tmp.path, 'nats'), { user: 'pplogs', password: 'pw-3f9a1c' });
  writeFileSync(credentials, 'pplogs\npw-3f9a1c\n', { mode: 0o600 });
}, 60_000);
afterAll(async () => {
  collector?.child.kill('SIGKILL');
  await nats?.stop();
  fx.dispose();
});

function startCollect(dir: string): { child: ChildProcess; said: () => string } {
  const child = spawn(process.execPath, [CLI, 'collect', '--from', subjectUrl(), '--dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (err += t));
  return { child, said: () => err };
}

async function linesOf(file: string): Promise<Map<string, number[]>> {
  if (!existsSync(file)) return new Map();
  return linesByWriter((await fx.decrypt([file])).stdout.toString());
}

describe.skipIf(missing !== null)('--forward nats:// into a real JetStream, paranoid-pipes collect', () => {
  it('three copies ("hosts") into one stream; the server killed mid-flood and restarted; collect keeps one log each, every line once', async () => {
    const dir = join(fx.tmp.path, 'collected');
    collector = startCollect(dir);
    const copies: Array<{ paths: CopyPaths; copy: Awaited<ReturnType<typeof fx.startReading>> }> = [];
    for (const name of ['h1', 'h2', 'h3']) {
      const paths = await fx.generate(['--quit-string', QUIT, '--forward', subjectUrl()], name);
      copies.push({ paths, copy: await fx.startReading(paths) });
    }
    const host = safeName(hostname(), 'unknown-host');
    const collected = (name: string) => join(dir, host, `${name}.log`);
    await Promise.all(copies.map(({ paths }, i) => writerProcess(paths.pipe, `w${i + 1}`, 500)));
    await until(async () => (await linesOf(collected('h3'))).get('w3')?.length === 500, 'the first lines collected').catch((err: Error) => {
      throw new Error(`${err.message}\ncollect said:\n${collector?.said()}\ncopy said:\n${copies[2]?.copy.stderr()}`);
    });

    // The flood goes on while the server is down for a few seconds: a third before, a third
    // during the outage, a third after.
    const part = (k: number) => Promise.all(copies.map(({ paths }, i) => writerProcess(paths.pipe, `w${i + 1}`, 1000, 200, 500 + k * 1000)));
    await part(0);
    await nats.stop('SIGKILL');
    await part(1);
    await new Promise((r) => setTimeout(r, 4000));
    await nats.start();
    await part(2);
    for (const { copy } of copies) expect(copy.child.exitCode, 'the copy kept reading during the outage').toBeNull();

    for (const [i, name] of ['h1', 'h2', 'h3'].entries()) {
      await until(async () => (await linesOf(collected(name))).get(`w${i + 1}`)?.length === 3500, `every line of w${i + 1} collected`, 90_000).catch((err: Error) => {
        throw new Error(`${err.message}\ncollect said:\n${collector?.said()}\ncopy said:\n${copies[i]?.copy.stderr()}\nnats said:\n${nats.said()}`);
      });
    }
    for (const { paths, copy } of copies) {
      sendQuit(paths.pipe);
      expect(await copy.exited, copy.stderr()).toBe(0);
      expect(copy.stderr()).toMatch(/FORWARD_DOWN/);
    }
    // Give collect a moment for the stream-end blocks, then stop it the way a service manager does.
    await until(async () => (await fx.decrypt([collected('h1')], ['--show-control'])).stderr.includes('"stream-end"'), 'the stream-end collected');
    collector.child.kill('SIGTERM');
    const code = await new Promise((r) => collector?.child.once('exit', r));
    expect(code, collector.said()).toBe(0);

    expect(readdirSync(join(dir, host)).sort()).toEqual(['h1.log', 'h2.log', 'h3.log']);
    const hosts = await cli(['hosts', '--dir', dir]);
    expect(hosts.stdout.toString().split('\n').filter((l) => l.startsWith(`${host}/`))).toHaveLength(3);
    // The password is read from its file when connecting: it is in no copy.
    for (const { paths } of copies) expect(readFileSync(paths.copy, 'utf8')).not.toContain('pw-3f9a1c');
    for (const [i, name] of ['h1', 'h2', 'h3'].entries()) {
      const got = await linesOf(collected(name));
      expect([...got.keys()]).toEqual([`w${i + 1}`]);
      expect(got.get(`w${i + 1}`)).toEqual(range(3500));
    }
  }, 180_000);

  it('an outage from the start: the copy stops within its bound, and once the server is there a restarted copy ships everything', async () => {
    const down = await TestNats.create(join(fx.tmp.path, 'nats-down'));
    await down.stop();
    try {
      const paths = await fx.generate(['--quit-string', QUIT, '--forward', `${down.url}/late`], 'late');
      let copy = await fx.startReading(paths);
      await writerProcess(paths.pipe, 'late', 400);
      const t0 = Date.now();
      sendQuit(paths.pipe);
      expect(await copy.exited, copy.stderr()).toBe(0);
      // The stop gives forwarders 5 s, then leaves the rest to the next start.
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(copy.stderr()).toMatch(/FORWARD_DOWN/);

      await down.start();
      const dir = join(fx.tmp.path, 'late-collected');
      const late = spawn(process.execPath, [CLI, 'collect', '--from', `${down.url}/late`, '--dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      try {
        copy = await fx.startReading(paths);
        sendQuit(paths.pipe);
        expect(await copy.exited, copy.stderr()).toBe(0);
        const file = join(dir, safeName(hostname(), 'unknown-host'), 'late.log');
        // Both runs' stream-ends: the first run's blocks went out with the second run.
        const ends = async () => ((await fx.decrypt([file], ['--show-control'])).stderr.match(/"type":"stream-end"/g) ?? []).length;
        await until(async () => existsSync(file) && (await ends()) === 2, 'both runs collected');
        expect((await linesOf(file)).get('late')).toEqual(range(400));
      } finally {
        late.kill('SIGTERM');
        await new Promise((r) => late.once('exit', r));
      }
    } finally {
      await down.stop();
    }
  }, 120_000);
});
