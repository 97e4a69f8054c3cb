import type { ControlRecord } from '../metadata.ts';
import { filtersLines, linesOf, selectsLine, type Selection } from './selection.ts';
import type { BlockContext, Presenter } from './view.ts';

export type WriteBytes = (bytes: Uint8Array) => Promise<void>;

/**
 * The log as it was written: the exact bytes of every selected line. Without --grep/--ignore
 * a block is written whole (no per-line work); control records go to `showControl` (stderr)
 * when the admin asked for them.
 */
export function textPresenter(write: WriteBytes, selection: Selection, showControl: ((text: string) => void) | null): Presenter {
  return {
    async data(block: Buffer): Promise<void> {
      if (!filtersLines(selection)) {
        await write(block);
        return;
      }
      const kept: Buffer[] = [];
      for (const line of linesOf(block)) {
        if (!selectsLine(selection, line.bytes)) continue;
        kept.push(line.bytes);
        if (line.newline) kept.push(NEWLINE);
      }
      if (kept.length > 0) await write(Buffer.concat(kept));
    },
    async control(record: ControlRecord, _ctx: BlockContext): Promise<void> {
      showControl?.(record.type === 'filtered' ? filteredLine(record) : `control: ${JSON.stringify(record)}\n`);
    },
    async problem(): Promise<void> {
      // Reported on stderr by the sink; the text itself carries no marker.
    },
  };
}

const NEWLINE = Buffer.from('\n');

/** A `filtered` record as one line: per source, how many lines were dropped and by which pattern. */
function filteredLine(record: Extract<ControlRecord, { type: 'filtered' }>): string {
  const sources = record.sources.map((s) => {
    const patterns = s.patterns.map((p) => `--${p.kind} ${JSON.stringify(p.pattern)} ${p.lines}`).join(', ');
    return `${JSON.stringify(s.source)}: ${s.lines} lines (${s.bytes} bytes)${patterns === '' ? '' : ` [${patterns}]`}, ${s.totalLines} since start`;
  });
  return `filtered: stream ${record.streamId} ${record.since} to ${record.at}${record.final ? ' (final)' : ''}: ${sources.join('; ')}\n`;
}
