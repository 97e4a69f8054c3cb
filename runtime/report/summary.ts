import type { MonitorReport } from '../monitor/entry.ts';

/** What a mailed report says; every count is since the stream started unless named otherwise. */
export interface ReportFacts {
  readonly host: string;
  readonly streamId: string;
  /** The period since the previous report (or the start). */
  readonly from: string;
  readonly to: string;
  /** Lines and bytes written to the encrypted log (header lines included). */
  readonly written: { readonly lines: number; readonly bytes: number };
  /** Lines kept per source: counted only where filters look at lines; null without filters. */
  readonly keptBySource: ReadonlyArray<{ readonly source: string; readonly lines: number }> | null;
  readonly filtered: { readonly lines: number; readonly bytes: number };
  readonly topPatterns: ReadonlyArray<{ readonly kind: string; readonly pattern: string; readonly lines: number; readonly bytes: number }>;
  /** Monitor changes in this period (at most a bounded number listed; `monitorChangeCount` is all). */
  readonly monitorChanges: ReadonlyArray<Extract<MonitorReport, { kind: 'change' }>> | null;
  readonly monitorChangeCount: number;
  readonly overloadDropped: { readonly lines: number; readonly bytes: number };
  /** Error diagnostics of the copy by code (write and seal failures, mail failures…). */
  readonly errors: Readonly<Record<string, number>>;
}

/** Most filter patterns named in a report. */
export const TOP_PATTERNS = 10;

/**
 * The report's text: for a human first, and a last line `summary: {JSON}` with the same facts
 * for a script. It holds counts, patterns and monitored paths, never a logged line.
 */
export function reportText(f: ReportFacts): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const errors = Object.entries(f.errors);
  const lines = [
    `paranoid-pipes report from ${f.host}`,
    `stream ${f.streamId}, period ${f.from} to ${f.to}`,
    '',
    `written to the encrypted log since start: ${n(f.written.lines)} lines, ${n(f.written.bytes)} bytes`,
    ...(f.keptBySource === null ? [] : ['lines kept per source since start:', ...f.keptBySource.map((s) => `  ${s.source}: ${n(s.lines)}`)]),
    `filtered since start: ${n(f.filtered.lines)} lines, ${n(f.filtered.bytes)} bytes`,
    ...f.topPatterns.slice(0, TOP_PATTERNS).map((p) => `  --${p.kind} ${JSON.stringify(p.pattern)}: ${n(p.lines)} lines, ${n(p.bytes)} bytes`),
    ...(f.monitorChanges === null
      ? []
      : [
          `monitored file changes in this period: ${f.monitorChangeCount}`,
          ...f.monitorChanges.map((c) => `  ${c.change} ${c.path}${c.after?.sha256 ? ` sha256 ${c.after.sha256}` : ''}${c.after?.error ? ` (${c.after.error})` : ''}`),
          ...(f.monitorChangeCount > f.monitorChanges.length ? [`  … and ${f.monitorChangeCount - f.monitorChanges.length} more (all are in the encrypted log)`] : []),
        ]),
    `dropped under overload since start: ${n(f.overloadDropped.lines)} lines, ${n(f.overloadDropped.bytes)} bytes`,
    `errors since start: ${errors.length === 0 ? 'none' : errors.map(([code, count]) => `${code} ×${count}`).join(', ')}`,
    '',
    `summary: ${JSON.stringify({ ...f, topPatterns: f.topPatterns.slice(0, TOP_PATTERNS) })}`,
  ];
  return `${lines.join('\n')}\n`;
}
