import type { BakedMonitor } from '../baked.ts';
import type { Logger } from '../log.ts';
import { compareListings, type MonitorEntry, type MonitorReport } from './entry.ts';
import { hashFile } from './hash.ts';
import { MAX_MONITORED_FILES, walkFiles } from './walk.ts';

/** Changes a mailed report lists by name; all of them are in the log. */
const REPORT_CHANGES_LISTED = 50;
/** Files per baseline record: keeps one control block near 100 KB. */
const BASELINE_PART_FILES = 500;

/**
 * --monitor: hashes the monitored files at start (the baseline listing) and every `everyMs`,
 * and records each difference. One file at a time, on the thread pool: the pipe is read on the
 * event loop meanwhile, and a check never competes with itself (a check still running when the
 * next is due lets that one pass).
 */
export class Monitor {
  private known: Map<string, MonitorEntry> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Changes since the last `takeChanges`, for the mailed report: the first few, and a count. */
  private changes: Array<Extract<MonitorReport, { kind: 'change' }>> = [];
  private changeCount = 0;

  constructor(
    private readonly options: BakedMonitor,
    private readonly emit: (report: MonitorReport) => void,
    private readonly log: Logger,
    private readonly maxFiles = MAX_MONITORED_FILES,
  ) {}

  start(): void {
    this.kick();
    this.timer = setInterval(() => this.kick(), this.options.everyMs);
    this.timer.unref();
  }

  /** Ends the timer; a check under way stops at its next file and records nothing more. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The changes since the last call (at most REPORT_CHANGES_LISTED listed) and how many there were. */
  takeChanges(): { listed: Array<Extract<MonitorReport, { kind: 'change' }>>; count: number } {
    const taken = { listed: this.changes, count: this.changeCount };
    this.changes = [];
    this.changeCount = 0;
    return taken;
  }

  /** For tests and the first check: runs a check now unless one is running. */
  kick(): Promise<void> {
    if (this.running === null && !this.stopped) {
      this.running = this.check()
        .catch((err: unknown) => this.log.error('MONITOR', `check failed: ${(err as Error).message}`))
        .finally(() => {
          this.running = null;
        });
    }
    return this.running ?? Promise.resolve();
  }

  private async check(): Promise<void> {
    const startedAt = new Date().toISOString();
    const walk = await walkFiles(this.options.paths, this.maxFiles);
    const problems = walk.overflow ? [...walk.problems, `more than ${this.maxFiles} files: only the first ${this.maxFiles} (in path order) are checked`] : walk.problems;
    const listing = new Map<string, MonitorEntry>();
    const buffer = Buffer.allocUnsafe(64 * 1024);
    for (const path of walk.files) {
      if (this.stopped) return;
      listing.set(path, await hashFile(path, buffer));
    }
    if (this.stopped) return;
    if (this.known === null) {
      const files = [...listing.values()];
      const parts = Math.max(1, Math.ceil(files.length / BASELINE_PART_FILES));
      for (let i = 0; i < parts; i += 1) {
        this.emit({ kind: 'baseline', part: i + 1, parts, files: files.slice(i * BASELINE_PART_FILES, (i + 1) * BASELINE_PART_FILES), problems: i === 0 ? problems : [] });
      }
      this.known = listing;
      this.log.info('MONITOR_BASELINE', `${files.length} files listed${problems.length > 0 ? `, ${problems.length} path(s) not walked` : ''}`);
      return;
    }
    const changes = compareListings(this.known, listing);
    for (const change of changes) {
      this.emit(change);
      this.changeCount += 1;
      if (this.changes.length < REPORT_CHANGES_LISTED) this.changes.push(change);
      this.log.warn('MONITOR_CHANGE', `${change.change}: ${change.path}`);
    }
    this.emit({ kind: 'check', startedAt, files: listing.size, changes: changes.length, problems });
    this.known = listing;
  }
}
