import { decodeControl, kindLetter, type StreamLink } from '../metadata.ts';
import { anchorOf, KeyLadder, sealSeconds } from '../seal/chain.ts';
import type { OpenedBlock } from './reader.ts';
import { SeqRanges } from './seq-ranges.ts';

/**
 * Checks the seals and the shape of every stream in a set of logs, block by block in input order
 * (`block`), then stream by stream (`finish`). Shared by `verify` (all findings) and `decrypt`
 * (the per-block ones). It sees repeats too: it runs before the reader drops them.
 *
 * A block counts as authentic only when its tag verifies with the key of its own position,
 * derived from the k_0 in its stream's stream-start; anything else is reported and then ignored
 * for the sequence checks, so a forged block can neither fill a gap nor end a stream.
 */
export type FindingKind =
  | 'foreign' // a message with no paranoid-pipes metadata
  | 'not-a-log' // a file in a directory given that is no encrypted log (verify)
  | 'unsealed-stream' // a whole stream written before sealing (pp1)
  | 'unsealed-block' // a pp1 block inside a sealed stream: not written by the copy
  | 'no-stream-start' // sealed blocks whose stream-start (and so k_0) is not in the input
  | 'bad-tag' // a seal that does not verify at its position
  | 'missing-blocks'
  | 'out-of-order'
  | 'repeat'
  | 'after-end'
  | 'end-mismatch'
  | 'unterminated'
  | 'open-tail' // note: the live tail, still being written (verify --live)
  | 'unlinked'
  | 'link-broken'
  | 'link-outside' // note: the first stream links to one before the inputs
  | 'time-backwards'
  | 'silence' // longer without a block than the stream's heartbeat allows
  | 'anchor-missing'; // a block anchored off the host (rotation mail) is not in the inputs

export interface Finding {
  readonly severity: 'error' | 'note';
  readonly kind: FindingKind | string;
  readonly source: string;
  readonly offset: number;
  readonly stream: string | null;
  readonly seq: number | null;
  readonly detail: string;
}

/** Kinds that `decrypt` reports too: each says a block is not what the copy wrote. */
export const BLOCK_FINDINGS: ReadonlySet<string> = new Set(['unsealed-block', 'no-stream-start', 'bad-tag']);

interface Where {
  readonly source: string;
  readonly offset: number;
}

export interface StreamSummary {
  readonly id: string;
  readonly first: Where;
  sealed: boolean;
  start: { previous: StreamLink | null; heartbeatMs: number | null; startedAt: string | null; host: string | null } | null;
  blocks: number;
  maxSeq: number;
  lastTag: string | null;
  last: Where;
  end: (Where & { lastSeq: number }) | null;
}

interface StreamState extends StreamSummary {
  ladder: KeyLadder | null;
  readonly seen: SeqRanges;
  readonly gaps: Array<Where & { from: number; to: number }>;
  lastTime: number | null;
  said: Set<string>;
}

/** Slack on the heartbeat: a heartbeat is due after the interval, then sealed and written. */
const HEARTBEAT_SLACK_S = 5;

export class SealCheck {
  readonly streams: StreamState[] = [];
  private readonly byId = new Map<string, StreamState>();
  /** `--anchor` values not yet met by an authentic block. */
  private readonly anchors: Set<string>;

  constructor(
    private readonly report: (finding: Finding) => void,
    anchors: readonly string[] = [],
  ) {
    this.anchors = new Set(anchors);
  }

  block(b: OpenedBlock): void {
    const at = { source: b.source, offset: b.offset };
    const meta = b.meta;
    if (meta === null) {
      this.error(at, 'foreign', null, null, 'a message without paranoid-pipes metadata: not written by a copy');
      return;
    }
    const s = this.stream(meta.streamId, at);
    const { seq } = meta;
    // The stream-start carries k_0: its own tag is checked with the key it brings.
    if (seq === 0 && meta.kind === 'control' && s.ladder === null && !s.seen.has(0)) this.takeStart(s, b);
    if (meta.tag === undefined) {
      if (s.ladder !== null || s.sealed) {
        this.error(at, 'unsealed-block', s.id, seq, `an unsealed (pp1) block ${seq} inside a sealed stream: not written by its copy`);
        return;
      }
      if (once(s, 'unsealed')) this.error(s.first, 'unsealed-stream', s.id, null, 'written without seals (pp1): its blocks could be removed, reordered or forged without a trace');
    } else {
      if (s.ladder === null) {
        if (once(s, 'no-start')) this.error(at, 'no-stream-start', s.id, seq, `sealed blocks from sequence ${seq} on, but no stream-start: their seals cannot be checked`);
        return;
      }
      const time = b.date === null ? -1 : sealSeconds(b.date);
      const source = meta.source === undefined ? {} : { source: meta.source };
      if (!s.ladder.verify({ streamId: s.id, seq, kind: kindLetter(meta.kind), time, plaintext: b.data, plaintextDigest: b.digest, ...source }, meta.tag)) {
        this.error(at, 'bad-tag', s.id, seq, `block ${seq}: its seal does not verify at its position (forged, altered, or made with another position's key)`);
        return;
      }
    }
    this.place(s, b, at, seq, meta.tag ?? null);
  }

  private takeStart(s: StreamState, b: OpenedBlock): void {
    const record = decodeControl(b.data);
    if (record?.type !== 'stream-start') return;
    s.start = { previous: record.previous ?? null, heartbeatMs: record.heartbeatMs ?? null, startedAt: record.startedAt, host: record.host };
    if (typeof record.sealKey === 'string' && /^[0-9a-f]{64}$/.test(record.sealKey)) {
      s.ladder = new KeyLadder(Buffer.from(record.sealKey, 'hex'));
      s.sealed = true;
    }
  }

  /** Sequence, end and time checks for an authentic (or unsealed-stream) block. */
  private place(s: StreamState, b: OpenedBlock, at: Where, seq: number, tag: string | null): void {
    s.blocks += 1;
    if (tag !== null && this.anchors.size > 0) this.anchors.delete(anchorOf(s.id, seq, tag));
    if (!s.seen.add(seq)) {
      this.error(at, 'repeat', s.id, seq, `block ${seq} again (identical seal): a retried write or a copy; counted once`);
      return;
    }
    if (seq < s.maxSeq) {
      this.error(at, 'out-of-order', s.id, seq, `block ${seq} comes after block ${s.maxSeq}`);
    } else {
      if (seq > s.maxSeq + 1) s.gaps.push({ ...at, from: s.maxSeq + 1, to: seq - 1 });
      s.maxSeq = seq;
      s.lastTag = tag;
      s.last = at;
      this.checkTime(s, b, at, seq);
    }
    if (s.end !== null && seq > s.end.lastSeq) this.error(at, 'after-end', s.id, seq, `block ${seq} after the stream-end (block ${s.end.lastSeq})`);
    const record = b.meta?.kind === 'control' ? decodeControl(b.data) : null;
    if (record?.type === 'stream-end') {
      // Where the stream-end really is: whatever it claims, nothing may follow it.
      s.end = { ...at, lastSeq: seq };
      if (record.lastSeq !== seq) this.error(at, 'end-mismatch', s.id, seq, `stream-end at block ${seq} says the last block is ${record.lastSeq}`);
    }
  }

  private checkTime(s: StreamState, b: OpenedBlock, at: Where, seq: number): void {
    if (b.date === null) return;
    const t = sealSeconds(b.date);
    if (s.lastTime !== null && t < s.lastTime) this.error(at, 'time-backwards', s.id, seq, `block ${seq} sealed at ${iso(t)}, before the block ahead of it (${iso(s.lastTime)})`);
    const beat = s.start?.heartbeatMs ?? null;
    if (beat !== null && s.lastTime !== null && t - s.lastTime > Math.ceil(beat / 1000) * 2 + HEARTBEAT_SLACK_S) {
      this.error(at, 'silence', s.id, seq, `no block from ${iso(s.lastTime)} to ${iso(t)}, though the stream sends a heartbeat every ${beat / 1000} s`);
    }
    s.lastTime = Math.max(t, s.lastTime ?? t);
  }

  /** Stream-level checks, once every input is read. `live`: the last stream may still be written. */
  finish(live: boolean, now: Date = new Date()): void {
    this.streams.forEach((s, i) => {
      for (const gap of s.gaps) {
        // Blocks that arrived later, out of order, fill a gap: only what never came is missing.
        const missing = s.seen.missing(gap.from, gap.to);
        const count = missing.reduce((n, [a, b]) => n + b - a + 1, 0);
        if (count > 0) this.error(gap, 'missing-blocks', s.id, gap.to + 1, `${count} block(s) missing (${describeRanges(missing)}) before block ${gap.to + 1}`);
      }
      if (s.end === null && s.blocks > 0) {
        const last = i === this.streams.length - 1;
        if (live && last) {
          this.note(s.last, 'open-tail', s.id, s.maxSeq, `open after block ${s.maxSeq}: the tail still being written (verify again once the copy has stopped)`);
          const beat = s.start?.heartbeatMs ?? null;
          const quiet = s.lastTime === null ? 0 : sealSeconds(now) - s.lastTime;
          if (beat !== null && quiet > Math.ceil(beat / 1000) * 2 + HEARTBEAT_SLACK_S) {
            this.error(s.last, 'silence', s.id, s.maxSeq, `no block for ${quiet} s though the stream sends a heartbeat every ${beat / 1000} s: the copy is not running, or its tail was cut`);
          }
        }
        else this.error(s.last, 'unterminated', s.id, s.maxSeq, `unterminated after block ${s.maxSeq}: no stream-end (crash, kill or truncation)`);
      }
      this.checkLink(s, this.streams[i - 1] ?? null);
    });
    for (const anchor of this.anchors) {
      const [id = '', seq = ''] = anchor.split(':');
      const s = this.byId.get(id);
      const where = s === undefined ? { source: '(inputs)', offset: 0 } : s.last;
      const why = s === undefined ? 'that stream is not in the inputs' : `the stream here ends at block ${s.maxSeq}, or that block's seal differs`;
      this.error(where, 'anchor-missing', id, Number(seq), `anchored block ${seq} (mailed off the host) is not here: ${why}; the log was cut or replaced`);
    }
  }

  private checkLink(s: StreamState, before: StreamState | null): void {
    if (s.start === null || !s.sealed) return;
    const link = s.start.previous;
    if (before === null) {
      if (link !== null) this.note(s.first, 'link-outside', s.id, 0, `follows stream ${link.streamId} (ended at block ${link.lastSeq}), which is not among the inputs`);
      return;
    }
    if (link === null) {
      // A stream before sealing existed never wrote a link; everything else did.
      if (before.sealed) this.error(s.first, 'unlinked', s.id, 0, `starts without a link to the stream before it (${before.id}): its state file was lost or removed`);
      return;
    }
    if (link.streamId !== before.id) {
      const known = this.byId.has(link.streamId) ? 'which is elsewhere in the inputs' : 'which is missing';
      this.error(s.first, 'link-broken', s.id, 0, `follows stream ${link.streamId} (${known}), but the stream before it here is ${before.id}: a stream was removed or moved`);
      return;
    }
    if (link.lastSeq !== before.maxSeq || link.lastTag !== before.lastTag) {
      this.error(s.first, 'link-broken', s.id, 0, `stream ${before.id} ended at block ${link.lastSeq} when this one started, but here it ends at block ${before.maxSeq}`);
    }
  }

  private stream(id: string, at: Where): StreamState {
    let s = this.byId.get(id);
    if (s === undefined) {
      s = { id, first: at, sealed: false, start: null, blocks: 0, maxSeq: -1, lastTag: null, last: at, end: null, ladder: null, seen: new SeqRanges(), gaps: [], lastTime: null, said: new Set() };
      this.byId.set(id, s);
      this.streams.push(s);
    }
    return s;
  }

  private error(at: Where, kind: FindingKind, stream: string | null, seq: number | null, detail: string): void {
    this.report({ severity: 'error', kind, source: at.source, offset: at.offset, stream, seq, detail });
  }

  private note(at: Where, kind: FindingKind, stream: string | null, seq: number | null, detail: string): void {
    this.report({ severity: 'note', kind, source: at.source, offset: at.offset, stream, seq, detail });
  }
}

function once(s: StreamState, what: string): boolean {
  if (s.said.has(what)) return false;
  s.said.add(what);
  return true;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

function describeRanges(ranges: ReadonlyArray<[number, number]>): string {
  const shown = ranges.slice(0, 5).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`));
  return ranges.length > 5 ? `${shown.join(', ')}, …` : shown.join(', ');
}
