import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evolveKey, sealSeconds, sealTag } from '../../runtime/seal/chain.ts';
import { cli, writerProcess } from '../helpers/cli.ts';
import { type CopyPaths, E2eFixture, linesByWriter, QUIT, range, sendQuit } from '../helpers/e2e.ts';
import { testEncryptor } from '../helpers/keys.ts';
import { blocksOf, joinBlocks, offsetIn, type LogBlock } from '../helpers/tamper.ts';

/**
 * `verify` against a real log of three streams (three runs of a real copy fed by real writers),
 * tampered with the way an intruder on the host could: each change is found, named, and placed
 * at its byte offset; the untouched log verifies clean.
 */
const fx = new E2eFixture();
let paths: CopyPaths;
let blocks: LogBlock[];
let streams: string[];

beforeAll(async () => {
  await fx.setup();
  paths = await fx.generate(['--quit-string', QUIT], 'v');
  for (const run of ['a', 'b', 'c']) {
    const copy = await fx.startReading(paths);
    for (let burst = 0; burst < 3; burst += 1) {
      await writerProcess(paths.pipe, `${run}${burst}`, 30);
      await new Promise((r) => setTimeout(r, 40));
    }
    sendQuit(paths.pipe);
    expect(await copy.exited, copy.stderr()).toBe(0);
  }
  blocks = await blocksOf(readFileSync(paths.output), fx.key.privateKey);
  streams = [...new Set(blocks.map((b) => b.streamId as string))];
  expect(streams).toHaveLength(3);
});
afterAll(() => fx.dispose());

const verify = (files: string[], extra: string[] = []) => cli(['verify', '--key', fx.keyFiles.sec, ...extra, ...files]);
let count = 0;
function logOf(parts: ReadonlyArray<{ bytes: Buffer }> | Buffer): string {
  const file = join(fx.tmp.path, `tampered-${(count += 1)}.log`);
  writeFileSync(file, Buffer.isBuffer(parts) ? parts : joinBlocks(parts));
  return file;
}
/** Index in `blocks` of stream `s`'s block `seq`. */
const at = (s: number, seq: number) => blocks.findIndex((b) => b.streamId === streams[s] && b.seq === seq);
const dataIndex = (s: number) => blocks.findIndex((b) => b.streamId === streams[s] && b.kind === 'data' && (b.seq as number) >= 2);
const lastOf = (s: number) => blocks.map((b) => b.streamId).lastIndexOf(streams[s] as string);

describe('verify on an untouched log', () => {
  it('passes, and every block still opens with stock gpg', async () => {
    const r = await verify([paths.output]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toMatch(/^verified: \d+ blocks in 3 stream\(s\)/m);
    expect(r.code).toBe(0);
    const opened = fx.gpgBlocks(paths.output);
    expect(opened.controls.filter((c) => c.type === 'stream-start')).toHaveLength(3);
    for (const id of ['a0', 'b1', 'c2']) expect(linesByWriter(opened.data.toString()).get(id)).toEqual(range(30));
  });

  it('prints no logged text, and --json gives the streams and an empty list of findings', async () => {
    const r = await verify([paths.output], ['--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).not.toMatch(/writer=/);
    const result = JSON.parse(r.stdout.toString()) as { clean: boolean; findings: unknown[]; streams: Array<{ id: string; sealed: boolean; ended: boolean; previous: unknown }> };
    expect(result.clean).toBe(true);
    expect(result.findings).toEqual([]);
    expect(result.streams.map((s) => s.id)).toEqual(streams);
    expect(result.streams.every((s) => s.sealed && s.ended)).toBe(true);
    expect(result.streams[0]?.previous).toBeNull();
    expect(result.streams[2]?.previous).toMatchObject({ streamId: streams[1] });
  });
});

describe('verify finds and places every change', () => {
  it('a flipped byte: the block no longer opens, and its place is a gap', async () => {
    const i = dataIndex(1);
    const bytes = Buffer.from(blocks[i]!.bytes);
    const text = bytes.toString('latin1');
    const line = text.indexOf('\n', text.indexOf('\n\n') + 2) - 10; // a base64 digit inside the body
    bytes[line] = bytes[line] === 0x41 ? 0x42 : 0x41;
    const tampered = blocks.map((b, j) => (j === i ? { bytes } : b));
    const r = await verify([logOf(tampered)]);
    expect(r.code).toBe(1);
    const out = r.stdout.toString();
    expect(out).toContain(`offset ${offsetIn(blocks, i)}: undecryptable`);
    expect(out).toContain(`offset ${offsetIn(blocks, i + 1)}: missing-blocks: stream ${streams[1]}: 1 block(s) missing (${blocks[i]!.seq})`);
  });

  it('a deleted block', async () => {
    const i = dataIndex(0);
    const r = await verify([logOf(blocks.filter((_, j) => j !== i))]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`FAIL ${fx.tmp.path}/tampered-${count}.log: offset ${offsetIn(blocks, i)}: missing-blocks: stream ${streams[0]}: 1 block(s) missing (${blocks[i]!.seq})`);
  });

  it('two blocks swapped', async () => {
    const i = dataIndex(2);
    const swapped = [...blocks];
    [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    const r = await verify([logOf(swapped)]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset ${offsetIn(swapped, i + 1)}: out-of-order: stream ${streams[2]}: block ${blocks[i]!.seq} comes after block ${blocks[i + 1]!.seq}`);
  });

  it('a duplicated block', async () => {
    const i = dataIndex(1);
    const doubled = [...blocks.slice(0, i + 1), blocks[i]!, ...blocks.slice(i + 1)];
    const r = await verify([logOf(doubled)]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset ${offsetIn(doubled, i + 1)}: repeat: stream ${streams[1]}: block ${blocks[i]!.seq} again`);
  });

  it('a truncated tail, cut at a block boundary or inside a block', async () => {
    const last = lastOf(2);
    const cut = blocks.slice(0, last - 1); // the stream-end and the block before it gone
    const r = await verify([logOf(cut)]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset ${offsetIn(blocks, last - 2)}: unterminated: stream ${streams[2]}: unterminated after block ${blocks[last - 2]!.seq}: no stream-end (crash, kill or truncation)`);
    const whole = joinBlocks(blocks);
    const torn = await verify([logOf(whole.subarray(0, offsetIn(blocks, last) + 100))]);
    expect(torn.code).toBe(1);
    expect(torn.stdout.toString()).toContain(`offset ${offsetIn(blocks, last)}: torn`);
    expect(torn.stdout.toString()).toContain(`unterminated after block ${blocks[last - 1]!.seq}`);
  });

  it('a block spliced in from another stream of another log', async () => {
    const other = await fx.generate(['--quit-string', QUIT], 'other');
    const copy = await fx.startReading(other);
    await writerProcess(other.pipe, 'x', 10);
    sendQuit(other.pipe);
    expect(await copy.exited).toBe(0);
    const foreign = (await blocksOf(readFileSync(other.output), fx.key.privateKey)).find((b) => b.kind === 'data')!;
    const i = dataIndex(1);
    const spliced = [...blocks.slice(0, i), foreign, ...blocks.slice(i)];
    const r = await verify([logOf(spliced)]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset ${offsetIn(spliced, i)}: no-stream-start: stream ${foreign.streamId}`);
  });

  it('a block gpg encrypted to the same key, with a pp2 name of its own making, or a pp1 one, or none', async () => {
    const last = blocks[lastOf(2)]!;
    const forge = (name: string | null) =>
      fx.gpg.run(['--trust-model', 'always', '--armor', '--encrypt', '--recipient', 'e2e@example.org', ...(name === null ? [] : ['--set-filename', name])], 'writer=evil seq=0 forged\n');
    const pp2 = forge(`pp2.${streams[2]}.${(last.seq as number) + 1}.d.${'0'.repeat(32)}`);
    const pp1 = forge(`pp1.${streams[2]}.${(last.seq as number) + 2}.d`);
    const bare = forge(null);
    const base = joinBlocks(blocks).length;
    const file = logOf(Buffer.concat([joinBlocks(blocks), pp2, pp1, bare]));
    const r = await verify([file]);
    expect(r.code).toBe(1);
    const out = r.stdout.toString();
    expect(out).toContain(`offset ${base}: bad-tag: stream ${streams[2]}: block ${(last.seq as number) + 1}: its seal does not verify`);
    expect(out).toContain(`offset ${base + pp2.length}: unsealed-block: stream ${streams[2]}`);
    expect(out).toContain(`offset ${base + pp2.length + pp1.length}: foreign:`);
    // decrypt still shows the text, and says which blocks are not the copy's (exit 1).
    const d = await fx.decrypt([file]);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain(`offset ${base}: bad-tag`);
    expect(d.stderr).toContain(`offset ${base + pp2.length}: unsealed-block`);
    expect(d.stdout.toString()).toContain('writer=evil');
  });

  it('a whole stream removed from between two others', async () => {
    const r = await verify([logOf(blocks.filter((b) => b.streamId !== streams[1]))]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset ${offsetIn(blocks, at(1, 0))}: link-broken: stream ${streams[2]}: follows stream ${streams[1]} (which is missing), but the stream before it here is ${streams[0]}`);
  });

  it('an old block re-sealed with a later key (CVE-2023-31439): fails at its own position', async () => {
    const i = dataIndex(0);
    const victim = blocks[i]!;
    const start = JSON.parse(blocks[at(0, 0)]!.data.toString()) as { sealKey: string };
    // The intruder holds a later key, k_(seq+3), and seals new text as block `seq` with it.
    let key: Buffer = Buffer.from(start.sealKey, 'hex');
    for (let n = 0; n < (victim.seq as number) + 3; n += 1) key = evolveKey(key);
    const plaintext = Buffer.from('writer=evil seq=0 re-sealed\n');
    const date = new Date();
    const tag = sealTag(key, { streamId: victim.streamId!, seq: victim.seq!, kind: 'd', time: sealSeconds(date), plaintext }).toString('hex');
    const encryptor = await testEncryptor([fx.key.publicArmored], 'zlib', true);
    const bytes = Buffer.from(await encryptor.seal(plaintext, { streamId: victim.streamId!, seq: victim.seq!, kind: 'data', tag }, date));
    const r = await verify([logOf(blocks.map((b, j) => (j === i ? { bytes } : b)))]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset ${offsetIn(blocks, i)}: bad-tag: stream ${streams[0]}: block ${victim.seq}`);
  });

  it('a log from before sealing (pp1) still decrypts, but never verifies clean (systemd issue 15425)', async () => {
    const encryptor = await testEncryptor([fx.key.publicArmored], 'zlib', true);
    const streamId = 'c0ffee'.padEnd(32, '0');
    const now = new Date();
    const start = Buffer.from(`${JSON.stringify({ type: 'stream-start', streamId, host: 'old', pid: 1, startedAt: now.toISOString(), copyVersion: '0.0.9', optionsDigest: '0' })}\n`);
    const data = Buffer.from('writer=old seq=0 x\n');
    const end = Buffer.from(`${JSON.stringify({ type: 'stream-end', streamId, endedAt: now.toISOString(), lastSeq: 2, lines: 1, bytes: data.length, reason: 'test' })}\n`);
    const parts = [
      await encryptor.seal(start, { streamId, seq: 0, kind: 'control' }, now),
      await encryptor.seal(data, { streamId, seq: 1, kind: 'data' }, now),
      await encryptor.seal(end, { streamId, seq: 2, kind: 'control' }, now),
    ];
    const file = logOf(Buffer.concat(parts.map((p) => Buffer.from(p))));
    const d = await fx.decrypt([file]);
    expect(d.code).toBe(0);
    expect(d.stdout.toString()).toBe('writer=old seq=0 x\n');
    expect(d.stderr).toMatch(/note: 1 stream\(s\) written before sealing \(pp1\)/);
    const r = await verify([file]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`offset 0: unsealed-stream: stream ${streamId}: written without seals (pp1)`);
  });
});

describe('verify on a directory, read as decrypt reads it', () => {
  it('verifies the logs in it, and names a file in it that is no encrypted log instead of leaving it out', async () => {
    const dir = join(fx.tmp.path, 'collected');
    mkdirSync(dir);
    copyFileSync(paths.output, join(dir, 'www.log.asc'));
    const clean = await verify([dir]);
    expect(clean.stdout.toString()).toMatch(/^verified: \d+ blocks in 3 stream\(s\)/m);
    expect(clean.code).toBe(0);
    // A log replaced by anything that does not look encrypted must not verify clean by absence.
    writeFileSync(join(dir, 'app.log.asc'), 'plain text where a log was\n');
    const r = await verify([dir]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toContain(`${join(dir, 'app.log.asc')}: offset 0: not-a-log`);
  });

  it('refuses standard input: a stream has no end to verify against', async () => {
    const r = await verify(['-']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/VERIFY_STREAM|standard input/);
  });
});
