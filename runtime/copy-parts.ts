import type { BakedOptions } from './baked.ts';
import type { CopySession } from './copy-session.ts';
import type { Logger } from './log.ts';
import { Monitor } from './monitor/monitor.ts';
import type { RecipientKeys } from './recipients.ts';
import { Reporter } from './report/reporter.ts';

/**
 * --monitor and --report-every, wired to a session: each is started with it and stopped before
 * its stream-end. `errors`: the error diagnostics counted so far (runtime/report/error-count.ts).
 */
export function attachParts(session: CopySession, baked: BakedOptions, streamId: string, keys: RecipientKeys, log: Logger, errors: Readonly<Record<string, number>>): void {
  const monitor =
    baked.monitor === undefined ? null : new Monitor(baked.monitor, (report) => session.recordControl(() => ({ type: 'monitor', streamId, at: new Date().toISOString(), ...report })), log);
  if (monitor !== null) session.attach(monitor);
  if (baked.report === undefined) return;
  const reporter = new Reporter(
    baked.report,
    keys,
    () => {
      const { written, dropped } = session.counts;
      const tally = session.admission.filtering?.tally ?? null;
      const changes = monitor?.takeChanges() ?? null;
      return {
        streamId,
        written,
        keptBySource: tally?.keptBySource() ?? null,
        filtered: tally?.totals() ?? { lines: 0, bytes: 0 },
        topPatterns: tally?.topPatterns() ?? [],
        monitorChanges: changes?.listed ?? null,
        monitorChangeCount: changes?.count ?? 0,
        overloadDropped: dropped,
        errors: { ...errors },
      };
    },
    (event, detail) => session.recordEvent(event, detail),
    log,
  );
  session.attach(reporter);
}
