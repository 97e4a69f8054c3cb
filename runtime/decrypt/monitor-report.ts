import type { ControlRecord } from '../metadata.ts';
import type { MonitorEntry } from '../monitor/entry.ts';
import { jsonPresenter } from './output-json.ts';
import type { WriteBytes } from './output-text.ts';
import type { Selection } from './selection.ts';
import type { BlockContext, Presenter } from './view.ts';

/**
 * `decrypt --monitor-report`: only the `--monitor` records, as they are read (so it works with
 * --follow). Text: each baseline listing (one line per file, like sha256sum with mode, owner
 * and size), then each change and each check's summary. JSON: those records as control objects
 * (docs/json-output.md).
 */
export function monitorReportPresenter(write: WriteBytes, format: 'text' | 'json', selection: Selection): Presenter {
  const json = jsonPresenter(write, { ...selection, grep: [] });
  const out = (text: string) => write(Buffer.from(text, 'utf8'));
  return {
    async data(): Promise<void> {
      // Log lines are not part of this report.
    },
    async control(record: ControlRecord, ctx: BlockContext): Promise<void> {
      if (record.type !== 'monitor') return;
      if (format === 'json') {
        await json.control(record, ctx);
        return;
      }
      await out(monitorText(record, ctx));
    },
    async problem(): Promise<void> {
      // Reported on stderr by the sink.
    },
  };
}

function monitorText(record: Extract<ControlRecord, { type: 'monitor' }>, ctx: BlockContext): string {
  const where = `stream ${record.streamId}${ctx.host === null ? '' : ` on ${safe(ctx.host)}`}`;
  switch (record.kind) {
    case 'baseline': {
      const head = record.part === 1 ? [`# baseline at ${record.at}, ${where}${record.parts > 1 ? ` (in ${record.parts} parts)` : ''}`, ...record.problems.map((p) => `# not walked: ${safe(p)}`)] : [];
      return `${[...head, ...record.files.map(entryLine)].join('\n')}\n`;
    }
    case 'change':
      return `${record.at} ${record.change.toUpperCase()} ${safe(record.path)}: ${changeText(record.change, record.before, record.after)}\n`;
    case 'check':
      return `# check at ${record.at}, ${where}: ${record.files} files, ${record.changes} change(s)${record.problems.length > 0 ? `; not walked: ${record.problems.map(safe).join('; ')}` : ''}\n`;
  }
}

/** `sha256  mode  uid:gid  size  path`, or `UNREADABLE (EACCES)` in place of the hash. */
function entryLine(e: MonitorEntry): string {
  return `${e.sha256 ?? `UNREADABLE (${safe(e.error ?? '?')})`}  ${e.mode.toString(8).padStart(4, '0')}  ${e.uid}:${e.gid}  ${e.size}  ${safe(e.path)}`;
}

function changeText(change: string, before: MonitorEntry | null, after: MonitorEntry | null): string {
  const hash = (e: MonitorEntry | null) => e?.sha256 ?? `unreadable (${safe(e?.error ?? '?')})`;
  switch (change) {
    case 'new':
      return `sha256 ${hash(after)}`;
    case 'gone':
      return `was sha256 ${hash(before)}`;
    case 'mode':
      return `mode ${before?.mode.toString(8).padStart(4, '0')} -> ${after?.mode.toString(8).padStart(4, '0')}`;
    case 'owner':
      return `owner ${before?.uid}:${before?.gid} -> ${after?.uid}:${after?.gid}`;
    default:
      return `sha256 ${hash(before)} -> ${hash(after)}`;
  }
}

/** Paths are chosen by whoever names files: control characters are shown as \xHH, never sent to the terminal. */
function safe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
