import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `paranoid-pipes hosts --dir DIR`: every collected log under DIR (DIR/HOST/LOG from `collect`,
 * or files right in DIR from `receive`) with when its last block arrived and how long it has been
 * silent since. The time is the file's modification time: a block appended is the only thing
 * that changes it. Copies made with --heartbeat seal a block while idle, so for them a silence
 * much longer than the heartbeat means the host (or its link) is down, not just quiet.
 */
export interface HostLog {
  readonly log: string;
  readonly bytes: number;
  readonly lastBlockAt: string;
  readonly silentSeconds: number;
}

export function listHostLogs(dir: string, now: Date = new Date()): HostLog[] {
  const found: HostLog[] = [];
  const visit = (path: string, rel: string, depth: number) => {
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue;
      const full = join(path, name);
      const st = lstatSync(full);
      if (st.isDirectory() && depth === 0) visit(full, name, 1);
      if (!st.isFile()) continue;
      found.push({
        log: rel === '' ? name : `${rel}/${name}`,
        bytes: st.size,
        lastBlockAt: st.mtime.toISOString(),
        silentSeconds: Math.max(0, Math.round((now.getTime() - st.mtimeMs) / 1000)),
      });
    }
  };
  visit(dir, '', 0);
  return found.sort((a, b) => b.silentSeconds - a.silentSeconds || a.log.localeCompare(b.log));
}

/** 93784 -> "1d 2h 3m 4s". */
export function silence(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  parts.push(`${rest}s`);
  return parts.join(' ');
}

export function hostsTable(logs: readonly HostLog[]): string {
  const rows = [['log', 'bytes', 'last block (UTC)', 'silent for'], ...logs.map((l) => [l.log, String(l.bytes), l.lastBlockAt, silence(l.silentSeconds)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
