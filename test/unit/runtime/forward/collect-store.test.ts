import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsMsg } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import type { CollectorFile } from '../../../../runtime/receive/collector-file.ts';
import { store, type CollectOptions } from '../../../../runtime/receive/collect.ts';
import { HEADER } from '../../../../runtime/sinks/forward/nats.ts';

const dir = mkdtempSync(join(tmpdir(), 'pp-collect-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An armored message as the splitter sees one (collect never decrypts). */
const message = (n: number) => Buffer.from(`-----BEGIN PGP MESSAGE-----\n\nbWVzc2FnZSAj${n}\n-----END PGP MESSAGE-----\n`);

function msg(seq: number, host: string, log: string): JsMsg {
  const headers = new Map<string, string>([[HEADER.host, host], [HEADER.log, log]]);
  return { seq, data: message(seq), headers: { get: (k: string) => headers.get(k) ?? '' } } as unknown as JsMsg;
}

describe('collect: one log it must refuse', () => {
  it('does not hold back the other hosts: their messages are stored, the refused ones are given back for later', async () => {
    const opts = { dir, mode: 0o640 } as unknown as CollectOptions;
    mkdirSync(join(dir, 'bad'));
    const bait = join(dir, 'bait');
    writeFileSync(bait, 'untouched\n');
    symlinkSync(bait, join(dir, 'bad', 'www.log.asc'));
    const batch = [msg(1, 'good', 'www.log.asc'), msg(2, 'bad', 'www.log.asc'), msg(3, 'good', 'www.log.asc')];
    const err: string[] = [];
    const files = new Map<string, CollectorFile>();
    const retry = await store(batch, files, opts, { err: (t) => err.push(t) });
    for (const f of files.values()) await f.close();
    expect(retry.map((m) => m.seq)).toEqual([2]);
    expect(readFileSync(join(dir, 'good', 'www.log.asc'), 'utf8')).toBe(`${message(1)}${message(3)}`);
    expect(readFileSync(bait, 'utf8')).toBe('untouched\n');
    expect(err.join('')).toMatch(/bad\/www\.log\.asc.*symlink.*1 message\(s\) left in the stream/);
  });
});
