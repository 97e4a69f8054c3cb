/**
 * What `--monitor` records about a file, and the records it writes (runtime/metadata.ts):
 * a baseline listing at start (in parts), one `change` per difference found by a later check,
 * and a `check` summary after each check, so a reader sees the checks happened.
 */
export interface MonitorEntry {
  readonly path: string;
  /** Hex SHA-256 of the content; null when the file could not be read (`error` says why). */
  readonly sha256: string | null;
  readonly size: number;
  /** Permission bits (setuid, setgid, sticky included), as a number: 0o644 is 420. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: string;
  readonly error?: string;
}

export type MonitorChange = 'new' | 'changed' | 'gone' | 'unreadable' | 'readable' | 'mode' | 'owner';

export type MonitorReport =
  | {
      readonly kind: 'baseline';
      /** 1-based part number of `parts`: a big listing is split over several records. */
      readonly part: number;
      readonly parts: number;
      readonly files: readonly MonitorEntry[];
      /** Paths that could not be walked (a directory we may not read, a missing path). */
      readonly problems: readonly string[];
    }
  | {
      readonly kind: 'change';
      readonly change: MonitorChange;
      readonly path: string;
      readonly before: MonitorEntry | null;
      readonly after: MonitorEntry | null;
    }
  | {
      readonly kind: 'check';
      readonly startedAt: string;
      readonly files: number;
      readonly changes: number;
      readonly problems: readonly string[];
    };

/** The changes from one listing to the next, in path order. */
export function compareListings(before: ReadonlyMap<string, MonitorEntry>, after: ReadonlyMap<string, MonitorEntry>): Array<Extract<MonitorReport, { kind: 'change' }>> {
  const out: Array<Extract<MonitorReport, { kind: 'change' }>> = [];
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  for (const path of paths) {
    const b = before.get(path) ?? null;
    const a = after.get(path) ?? null;
    const change = (what: MonitorChange) => out.push({ kind: 'change', change: what, path, before: b, after: a });
    if (b === null) change('new');
    else if (a === null) change('gone');
    else {
      if (b.sha256 !== null && a.sha256 === null) change('unreadable');
      else if (b.sha256 === null && a.sha256 !== null) change('readable');
      else if (b.sha256 !== a.sha256) change('changed');
      if (b.mode !== a.mode) change('mode');
      if (b.uid !== a.uid || b.gid !== a.gid) change('owner');
    }
  }
  return out;
}
