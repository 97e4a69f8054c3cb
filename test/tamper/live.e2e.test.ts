import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evolveKey, sealSeconds, sealTag } from '../../runtime/seal/chain.ts';
import { linkFilePath } from '../../runtime/seal/link-file.ts';
import { cli, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, QUIT, sendQuit, waitFor } from '../helpers/e2e.ts';
import { makeKey, testEncryptor, writeKeyFiles } from '../helpers/keys.ts';
import { blocksOf, joinBlocks, offsetIn } from '../helpers/tamper.ts';

/**
 * Sealing against an intruder who is on the host while the copy runs, and over restarts and
 * rotations: what was written before the intruder came stays provable.
 */
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

const verify = (files: string[], extra: string[] = []) => cli(['verify', '--key', fx.keyFiles.sec, ...extra, ...files]);
interface Json {
  clean: boolean;
  findings: Array<{ severity: string; kind: string; offset: number; seq: number | null; stream: string | null }>;
}
const verifyJson = async (files: string[], extra: string[] = []) => JSON.parse((await verify(files, ['--json', ...extra])).stdout.toString()) as Json;

describe('an intruder with the memory of a running copy', () => {
  it('cannot re-make any block sealed before the moment of the dump; verify on the live log says the tail is open, not broken', async () => {
    const paths = await fx.generate(['--quit-string', QUIT], 'live');
    const copy = await fx.startReading(paths);
    for (let burst = 0; burst < 3; burst += 1) {
      await writerProcess(paths.pipe, `w${burst}`, 20);
      await new Promise((r) => setTimeout(r, 40));
    }
    // The copy is idle with everything on disk: it now holds k_t, t = the blocks written so far.
    await waitFor(() => String(readFileSync(paths.output).toString('latin1').split('END PGP MESSAGE').length), /^[5-9]|\d\d/, 10_000);
    // And no block half-appended: the size holds still for a moment.
    for (let size = -1; size !== statSync(paths.output).size; ) {
      size = statSync(paths.output).size;
      await new Promise((r) => setTimeout(r, 200));
    }
    const snapshot = readFileSync(paths.output);
    const blocks = await blocksOf(snapshot, fx.key.privateKey);
    const t = blocks.length;
    const streamId = blocks[0]!.streamId!;

    // While the copy runs: the open tail is reported as such with --live, as unterminated without.
    const live = await verify([paths.output], ['--live']);
    expect(live.stdout.toString()).toMatch(/note .*: open-tail: .*still being written/);
    expect(live.code).toBe(0);
    const dead = await verifyJson([paths.output]);
    expect(dead.findings.map((f) => f.kind)).toEqual(['unterminated']);

    // The dump: k_t, as the copy's memory holds it (derived here from k_0, which the copy no longer has).
    let kt: Buffer = Buffer.from((JSON.parse(blocks[0]!.data.toString()) as { sealKey: string }).sealKey, 'hex');
    for (let n = 0; n < t; n += 1) kt = evolveKey(kt);
    const encryptor = await testEncryptor([fx.key.publicArmored], 'zlib', true);
    const forge = async (seq: number, key: Buffer) => {
      const plaintext = Buffer.from(`writer=evil seq=${seq} rewritten\n`);
      const date = new Date();
      const tag = sealTag(key, { streamId, seq, kind: 'd', time: sealSeconds(date), plaintext }).toString('hex');
      return { bytes: Buffer.from(await encryptor.seal(plaintext, { streamId, seq, kind: 'data', tag }, date)) };
    };
    // Every earlier position, with k_t and every key it leads to: none verifies.
    const forged = [];
    for (let seq = 1; seq < t; seq += 1) {
      let key: Buffer = kt;
      for (let later = 0; later < 3; later += 1, key = evolveKey(key)) forged.push(await forge(seq, key));
    }
    const attempt = await verifyJson([logAt('attempt', Buffer.concat([snapshot, joinBlocks(forged)]))]);
    const badTags = attempt.findings.filter((f) => f.kind === 'bad-tag');
    expect(badTags).toHaveLength(forged.length);
    expect(attempt.findings.filter((f) => f.kind === 'repeat')).toEqual([]);
    // The documented bound: from position t on, the intruder's blocks are as good as the copy's.
    const ahead = await verifyJson([logAt('ahead', Buffer.concat([snapshot, (await forge(t, kt)).bytes]))]);
    expect(ahead.findings.filter((f) => f.kind === 'bad-tag')).toEqual([]);

    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const after = await verify([paths.output]);
    expect(after.code).toBe(0);
  });
});

let logs = 0;
function logAt(name: string, bytes: Buffer): string {
  const file = join(fx.tmp.path, `${name}-${(logs += 1)}.log`);
  writeFileSync(file, bytes);
  return file;
}

describe('a log cut and continued (CVE-2023-31438)', () => {
  it('the next stream names where the last one really ended, and a rewritten state file cannot say otherwise', async () => {
    const paths = await fx.generate(['--quit-string', QUIT], 'cut');
    const run = async (id: string) => {
      const copy = await fx.startReading(paths);
      for (let burst = 0; burst < 3; burst += 1) {
        await writerProcess(paths.pipe, `${id}${burst}`, 20);
        await new Promise((r) => setTimeout(r, 40));
      }
      sendQuit(paths.pipe);
      expect(await copy.exited).toBe(0);
    };
    await run('a');
    const first = await blocksOf(readFileSync(paths.output), fx.key.privateKey);
    // The intruder cuts the last two blocks (the stream-end among them) and forges the state file.
    const keep = first.length - 2;
    truncateSync(paths.output, offsetIn(first, keep));
    const state = JSON.parse(readFileSync(linkFilePath(paths.output), 'utf8')) as { lastSeq: number };
    expect(state.lastSeq).toBe(first.length - 1);
    writeFileSync(linkFilePath(paths.output), JSON.stringify({ streamId: first[0]!.streamId, lastSeq: keep - 1, lastTag: 'f'.repeat(32) }));
    await run('b');
    const r = await verifyJson([paths.output]);
    expect(r.clean).toBe(false);
    expect(r.findings.map((f) => f.kind).sort()).toEqual(['link-broken', 'unterminated']);
    expect(r.findings.find((f) => f.kind === 'unterminated')?.seq).toBe(keep - 1);
  });
});

describe('an untouched log with rotations and restarts', () => {
  it('verifies clean across archives and the live log', async () => {
    const archiveKey = await makeKey('archives@example.org');
    const keys = writeKeyFiles(fx.tmp.path, 'arch', archiveKey);
    const dir = join(fx.tmp.path, 'archive');
    mkdirSync(dir, { mode: 0o700 });
    const paths = await fx.generate(['--quit-string', QUIT, '--rotate-size', '8K', '--rotate-check-every', '1', '--archive-dir', dir, '--rotate-recipient-key', keys.pub], 'rot');
    for (const run of ['a', 'b', 'c']) {
      const copy = await fx.startReading(paths);
      for (let burst = 0; burst < 4; burst += 1) {
        await writerProcess(paths.pipe, `${run}${burst}`, 400, 200);
        await new Promise((r) => setTimeout(r, 20));
      }
      sendQuit(paths.pipe);
      expect(await copy.exited, copy.stderr()).toBe(0);
    }
    const r = await verify([paths.output], ['--archive-key', keys.sec, '--archive-dir', dir]);
    expect(r.stdout.toString()).toMatch(/^verified: \d+ blocks in 3 stream\(s\)/m);
    expect(r.code).toBe(0);
    const inputs = (JSON.parse((await verify([paths.output], ['--json', '--archive-key', keys.sec, '--archive-dir', dir])).stdout.toString()) as { inputs: string[] }).inputs;
    expect(inputs.length).toBeGreaterThanOrEqual(4);
  });
});
