import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, QUIT, sendQuit } from '../helpers/e2e.ts';

/**
 * Idle time is sealed too (the CVE-2023-31438 lesson): with --heartbeat an idle copy still adds
 * a block every interval, so a copy that was frozen, or a log that went quiet, stands out.
 */
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const verify = (files: string[], extra: string[] = []) => cli(['verify', '--key', fx.keyFiles.sec, ...extra, ...files]);

describe('--heartbeat', () => {
  it('seals a heartbeat while the pipe is idle; such a log verifies clean', async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--heartbeat', '1s'], 'beat');
    const copy = await fx.startReading(paths);
    await writerProcess(paths.pipe, 'w', 5);
    await sleep(3500);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const d = await fx.decrypt([paths.output], ['--show-control']);
    expect(d.code).toBe(0);
    expect((d.stderr.match(/"event":"heartbeat"/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(d.stderr).toMatch(/"heartbeatMs":1000/);
    const r = await verify([paths.output]);
    expect(r.stdout.toString()).toMatch(/^verified:/m);
    expect(r.code).toBe(0);
  });

  it('a copy frozen longer than its heartbeat allows shows as a silence, named with its offset', async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--heartbeat', '1s'], 'frozen');
    const copy = await fx.startReading(paths);
    await writerProcess(paths.pipe, 'w', 5);
    await sleep(1500);
    copy.child.kill('SIGSTOP');
    try {
      await sleep(10_000);
      // Frozen and live: verify --live sees the heartbeats stopped.
      const live = await verify([paths.output], ['--live']);
      expect(live.code).toBe(1);
      expect(live.stdout.toString()).toMatch(/FAIL .*: silence: stream [0-9a-f]{32}: no block for \d+ s though the stream sends a heartbeat every 1 s/);
    } finally {
      copy.child.kill('SIGCONT');
    }
    await sleep(1500);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const r = await verify([paths.output]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toMatch(/FAIL .*: offset \d+: silence: stream [0-9a-f]{32}: no block from .* to .*, though the stream sends a heartbeat every 1 s/);
  });

  it('is refused below 1s or above 1d', async () => {
    for (const bad of ['500ms', '0s', '2d']) {
      const r = await cli(['encrypter', '--recipient-key', fx.keyFiles.pub, '--pipe', '/tmp/x.pipe', '--output', '/tmp/x.log', '--save-path', `${fx.tmp.path}/x.mjs`, '--heartbeat', bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--heartbeat must be/);
    }
  });
});
