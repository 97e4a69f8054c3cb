import type { SourceStartRecord } from '../metadata.ts';
import type { BlockWriter } from '../writer.ts';
import { countNewlines } from '../writer.ts';

export type SourceStart = Omit<SourceStartRecord, 'type' | 'streamId' | 'source' | 'at'>;

/**
 * The sources of one stream besides the baked pipe: announces each id with a source-start
 * record, counts what each had kept, and closes it with a source-end. Both records carry the
 * source id in their metadata too, so `decrypt --source` selects them with the lines.
 */
export class SourceLedger {
  private readonly open = new Map<string, { lines: number; bytes: number }>();
  private next = 1;

  constructor(
    private readonly writer: BlockWriter,
    private readonly streamId: string,
  ) {}

  /** A fresh id for a source of this kind: f1, f2, … for files, s1, … for sessions. */
  newId(kind: SourceStart['kind']): string {
    const id = `${kind === 'file' ? 'f' : 's'}${this.next}`;
    this.next += 1;
    return id;
  }

  start(id: string, start: SourceStart): void {
    if (this.open.has(id)) return;
    this.open.set(id, { lines: 0, bytes: 0 });
    this.writer.enqueueControl(() => ({ type: 'source-start', streamId: this.streamId, source: id, at: new Date().toISOString(), ...start }), id);
  }

  /** A block of this source goes to the writer. */
  count(id: string | undefined, block: Buffer): void {
    if (id === undefined) return;
    const tally = this.open.get(id);
    if (tally === undefined) return;
    tally.lines += countNewlines(block);
    tally.bytes += block.length;
  }

  end(id: string, reason: string): void {
    const tally = this.open.get(id);
    if (tally === undefined) return;
    this.open.delete(id);
    const { lines, bytes } = tally;
    this.writer.enqueueControl(() => ({ type: 'source-end', streamId: this.streamId, source: id, at: new Date().toISOString(), lines, bytes, reason }), id);
  }

  endAll(reason: string): void {
    for (const id of [...this.open.keys()]) this.end(id, reason);
  }
}
