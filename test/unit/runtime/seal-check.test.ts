import { describe, expect, it } from 'vitest';
import { SealCheck, type Finding } from '../../../runtime/decrypt/seal-check.ts';
import type { OpenedBlock } from '../../../runtime/decrypt/reader.ts';
import { encodeControl, type BlockKind, type ControlRecord } from '../../../runtime/metadata.ts';
import { newSealKey, SealChain, sealSeconds } from '../../../runtime/seal/chain.ts';

/** A sealed stream made in memory, block by block, as the copy's writer seals it. */
class Stream {
  readonly id: string;
  private readonly chain: SealChain;
  private seq = 0;
  readonly key = newSealKey();

  constructor(
    private readonly prefix: string,
    previous: { streamId: string; lastSeq: number; lastTag: string } | null = null,
    extra: Partial<ControlRecord> = {},
  ) {
    this.id = prefix.repeat(32).slice(0, 32);
    this.chain = new SealChain(this.id, Buffer.from(this.key));
    this.first = this.control({ type: 'stream-start', streamId: this.id, host: 'h', pid: 1, startedAt: 't', copyVersion: 'v', optionsDigest: 'd', sealKey: this.key.toString('hex'), previous, ...extra } as ControlRecord, 1000);
  }

  readonly first: OpenedBlock;
  lastTag = '';

  block(bytes: Buffer, kind: BlockKind, seconds: number): OpenedBlock {
    const date = new Date(seconds * 1000);
    const seq = this.seq++;
    const tag = this.chain.tag({ seq, kind: kind === 'control' ? 'c' : kind === 'data' ? 'd' : 'h', time: sealSeconds(date), plaintext: bytes });
    this.lastTag = tag;
    return { source: this.prefix, offset: seq * 100, length: 100, meta: { streamId: this.id, seq, kind, tag }, date, data: bytes };
  }

  data(seconds: number): OpenedBlock {
    return this.block(Buffer.from(`line at ${seconds}\n`), 'data', seconds);
  }

  control(record: ControlRecord, seconds: number): OpenedBlock {
    return this.block(encodeControl(record), 'control', seconds);
  }

  end(seconds: number, lastSeq = this.seq): OpenedBlock {
    return this.control({ type: 'stream-end', streamId: this.id, endedAt: 't', lastSeq, lines: 0, bytes: 0, reason: 'r' }, seconds);
  }

  get last(): { streamId: string; lastSeq: number; lastTag: string } {
    return { streamId: this.id, lastSeq: this.seq - 1, lastTag: this.lastTag };
  }
}

function check(blocks: readonly OpenedBlock[], live = false, now?: Date): Finding[] {
  const findings: Finding[] = [];
  const c = new SealCheck((f) => void findings.push(f));
  for (const b of blocks) c.block(b);
  c.finish(live, now);
  return findings;
}

describe('seal check', () => {
  it('finds nothing in two linked, ended streams', () => {
    const a = new Stream('a');
    const blocks = [a.first, a.data(1001), a.end(1002)];
    const b = new Stream('b', a.last);
    blocks.push(b.first, b.data(1003), b.end(1004));
    expect(check(blocks)).toEqual([]);
  });

  it('names a seal time that goes back, blocks after the stream-end, and a stream-end that names another last block', () => {
    const a = new Stream('a');
    const findings = check([a.first, a.data(1005), a.data(1001), a.end(1006, 7), a.data(1007)]);
    expect(findings.map((f) => f.kind)).toEqual(['time-backwards', 'end-mismatch', 'after-end']);
  });

  it('names a silence longer than the heartbeat allows, and on a live log a tail gone quiet', () => {
    const a = new Stream('a', null, { heartbeatMs: 1000 });
    expect(check([a.first, a.data(1001), a.data(1020), a.end(1021)]).map((f) => f.kind)).toEqual(['silence']);
    const b = new Stream('b', null, { heartbeatMs: 1000 });
    const blocks = [b.first, b.data(1001)];
    expect(check(blocks, true, new Date(1003_000)).map((f) => `${f.severity} ${f.kind}`)).toEqual(['note open-tail']);
    expect(check(blocks, true, new Date(1100_000)).map((f) => `${f.severity} ${f.kind}`)).toEqual(['note open-tail', 'error silence']);
  });

  it('notes a first stream that links outside the inputs, and fails one that lost its link', () => {
    const a = new Stream('a', { streamId: 'f'.repeat(32), lastSeq: 4, lastTag: '0'.repeat(32) });
    const blocks = [a.first, a.end(1001)];
    expect(check(blocks).map((f) => `${f.severity} ${f.kind}`)).toEqual(['note link-outside']);
    const b = new Stream('b', null);
    expect(check([...blocks, b.first, b.end(1002)]).map((f) => `${f.severity} ${f.kind}`)).toEqual(['note link-outside', 'error unlinked']);
  });
});
