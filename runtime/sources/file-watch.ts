import { closeSync, fstatSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BakedWatch } from '../baked.ts';
import { errnoCode } from '../errors.ts';
import { findByInode, findCopy, globRegex, hasGlob, openRegular, statOrNull, type OwnInode } from './file-find.ts';
import { readTail, tailHash, tailHashAt, type FilePosition, type PositionStore } from './positions.ts';
import type { SourceGroup, SourceHost } from './source.ts';
import { WatchedFile, type OpenedFile } from './watched-file.ts';

/**
 * How often files are checked for new bytes, rotation and truncation when nothing is said: the
 * directories are watched (inotify), so a write, rename or truncate is seen within KICK_MS; the
 * poll is the fallback (file systems without inotify, a missed event).
 */
const POLL_MS = 250;
const KICK_MS = 5;
/** How often globs are expanded again for new matches. */
const GLOB_RECHECK_MS = 5000;
/** A rotated-away file quiet this long is finished: its writer has moved to the new file. */
const RETIRE_QUIET_MS = 5000;
/**
 * --consume empties a file once it has been quiet this long (or holds this much): a line written
 * right between the size check and the truncate is lost, and the chance of one is smallest when
 * the writer has been silent. Under a steady writer a truncate every few ms lost about one line
 * in 20,000 in the tests.
 */
const CONSUME_QUIET_MS = 1000;
const CONSUME_AT_BYTES = 16 * 1024 * 1024;

/** One watched path: the file there now, and rotated ones still being finished (oldest first). */
interface PathWatch {
  readonly path: string;
  id: string | null;
  current: WatchedFile | null;
  retiring: WatchedFile[];
  /** Readers detached whose position is dropped once their last blocks are durable. */
  leaving: Array<{ key: number; offset: number }>;
  /** The last problem said about this path, so a lasting one is recorded once. */
  problem: string | null;
}

/**
 * --watch-file: follows files like `tail -F`. Each path is one source; its file is read by
 * descriptor and tracked by device and inode, so a rename (logrotate's create) lets the copy
 * finish the old file while the new one appears; a shrinking size (copytruncate) is read on in
 * the rotated copy when it can be found, and said in the log either way; a file deleted and
 * recreated is read from its start. Positions survive restarts (positions.ts).
 */
export class FileWatch implements SourceGroup {
  private host: SourceHost | null = null;
  private readonly paths = new Map<string, PathWatch>();
  private timers: NodeJS.Timeout[] = [];
  private readonly watchers = new Map<string, FSWatcher>();
  private kicked: NodeJS.Timeout | null = null;
  private saved: FilePosition[] = [];
  private stopped = false;

  constructor(
    private readonly options: BakedWatch,
    private readonly positions: PositionStore,
    /** Never read: the copy's own log and everything beside it, and its pipe. */
    private readonly isOwnFile: (path: string) => boolean,
    private readonly maxBlockBytes: number,
    /** The same, by device and inode: a name may be a link to one of them, or a hard link. */
    private readonly isOwnInode: OwnInode = () => false,
  ) {}

  start(host: SourceHost): void {
    this.host = host;
    this.saved = this.positions.load();
    for (const path of this.expand()) this.watch(path, true);
    this.timers.push(setInterval(() => this.tick(), POLL_MS));
    if (this.options.files.some(hasGlob)) this.timers.push(setInterval(() => this.rescan(), GLOB_RECHECK_MS));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.kicked !== null) clearTimeout(this.kicked);
    for (const watcher of this.watchers.values()) watcher.close();
    for (const w of this.paths.values()) for (const r of readers(w)) r.stopReading();
  }

  settled(): void {
    this.positions.settle();
  }

  private rescan(): void {
    for (const path of this.expand()) if (!this.paths.has(path)) this.watch(path, false);
  }

  /** Patterns with `*` or `?` in their last part expand to the regular files matching now. */
  private expand(): string[] {
    const out = new Set<string>();
    for (const pattern of this.options.files) {
      if (!hasGlob(pattern)) {
        out.add(pattern);
        continue;
      }
      const dir = dirname(pattern);
      const re = globRegex(basename(pattern));
      let names: string[] = [];
      try {
        names = readdirSync(dir).sort();
      } catch (err) {
        this.say(pattern, `cannot list ${dir}: ${errnoCode(err) ?? String(err)}`);
      }
      for (const name of names) if (re.test(name)) out.add(join(dir, name));
    }
    return [...out].filter((path) => !this.isOwnFile(path));
  }

  private watch(path: string, atStart: boolean): void {
    const w: PathWatch = { path, id: null, current: null, retiring: [], leaving: [], problem: null };
    this.paths.set(path, w);
    this.watchDirectory(dirname(path));
    const saved = this.saved.filter((p) => p.path === path || p.path.startsWith(`${path}.`) || p.path.startsWith(`${path}-`));
    // Rotated files first: their rest is older than anything in the file at the path.
    for (const position of [...saved.filter((p) => p.path !== path), ...saved.filter((p) => p.path === path)]) this.resume(w, position);
    // A file first seen while running, or the successor of one read before, is read from its start.
    if (w.current === null) this.openCurrent(w, atStart && saved.length === 0 && this.options.from === 'end' ? 'end' : 'start');
  }

  /** Picks up a file the last run was reading, wherever rotation has moved it. */
  private resume(w: PathWatch, position: FilePosition): void {
    const file = findByInode(w.path, position, this.isOwnInode);
    if (file === null) return;
    const st = fstatSync(file.fd);
    if (st.size < position.offset || tailHashAt(file.fd, position.offset) !== position.tail) {
      closeSync(file.fd);
      this.record(w, 'file-replaced', `${file.path} (inode ${position.ino}) no longer holds what was read up to byte ${position.offset}: it is read from its start if it is at the watched path`);
      return;
    }
    const reader = this.attach(w, file, position.offset, readTail(file.fd, position.offset));
    if (file.path === w.path && w.current === null) {
      reader.after = w.retiring.at(-1) ?? null;
      w.current = reader;
    } else {
      reader.finishing = true;
      w.retiring.push(reader);
    }
  }

  private openCurrent(w: PathWatch, from: 'start' | 'end'): void {
    let file: OpenedFile | null;
    try {
      file = openRegular(w.path, this.options.consume, this.isOwnInode);
    } catch (err) {
      this.say(w.path, `cannot read ${w.path}: ${errnoCode(err) ?? (err as Error).message}`);
      return;
    }
    if (file === null) return;
    w.problem = null;
    const offset = from === 'end' ? fstatSync(file.fd).size : 0;
    const reader = this.attach(w, file, offset, readTail(file.fd, offset));
    reader.after = w.retiring.at(-1) ?? null;
    w.current = reader;
  }

  private attach(w: PathWatch, file: OpenedFile, offset: number, recent: Buffer): WatchedFile {
    const host = this.host as SourceHost;
    if (w.id === null) {
      w.id = host.newId('file');
      host.announce(w.id, { kind: 'file', path: w.path, dev: file.dev, ino: file.ino, offset });
    } else {
      this.record(w, 'file-opened', `${file.path}: reading from byte ${offset} (inode ${file.ino})`);
    }
    const key = this.positions.add({ path: file.path, dev: file.dev, ino: file.ino, offset, tail: tailHash(recent) });
    const reader = new WatchedFile(w.id, file, offset, recent, key, this.maxBlockBytes);
    host.attach(reader);
    return reader;
  }

  /** Any change in a watched file's directory brings the next check forward. */
  private watchDirectory(dir: string): void {
    if (this.watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, () => this.kick());
      watcher.on('error', () => watcher.close());
      this.watchers.set(dir, watcher);
    } catch {
      // No inotify here (or no access): the poll alone notices changes.
    }
  }

  private kick(): void {
    if (this.kicked !== null || this.stopped) return;
    this.kicked = setTimeout(() => {
      this.kicked = null;
      this.tick();
    }, KICK_MS);
  }

  private tick(): void {
    if (this.stopped) return;
    for (const w of this.paths.values()) {
      try {
        this.check(w);
      } catch (err) {
        this.say(w.path, `cannot read ${w.path}: ${errnoCode(err) ?? (err as Error).message}`);
      }
    }
  }

  private check(w: PathWatch): void {
    const now = Date.now();
    for (const reader of [...w.retiring]) {
      reader.poll();
      if (reader.done && now - reader.lastGrowthAt >= RETIRE_QUIET_MS) this.retire(w, reader, `${reader.file.path} finished`);
    }
    w.leaving = w.leaving.filter(({ key, offset }) => {
      if (this.positions.durableOffset(key) < offset) return true;
      this.positions.remove(key);
      return false;
    });
    const current = w.current;
    if (current === null) {
      this.openCurrent(w, 'start');
      return;
    }
    const at = statOrNull(w.path);
    if (at === null || at.dev !== current.file.dev || at.ino !== current.file.ino) {
      // Renamed away (rotation) or deleted: finish it while its writer may still write there.
      this.record(w, 'file-rotated', `${w.path}: inode ${current.file.ino} ${at === null ? 'is gone from the path' : `was replaced by inode ${at.ino}`}; it is read to its end`);
      current.finishing = true;
      w.retiring.push(current);
      w.current = null;
      if (at !== null) this.openCurrent(w, 'start');
      return;
    }
    // Shrunk, or rewritten past where it was read (a truncate the last check missed because the
    // writer has written as much again since): the bytes before the offset are not those read.
    if (current.size() < current.offset || (current.offset > 0 && tailHashAt(current.file.fd, current.offset) !== current.tailHash)) {
      this.truncated(w, current);
      return;
    }
    current.poll();
    const consumeNow = now - current.lastGrowthAt >= CONSUME_QUIET_MS || current.offset >= CONSUME_AT_BYTES;
    if (this.options.consume && consumeNow && this.positions.durableOffset(current.key) === current.offset && current.consume()) {
      this.positions.reset(current.key, { path: current.file.path, dev: current.file.dev, ino: current.file.ino, offset: 0, tail: tailHash(Buffer.alloc(0)) });
    }
  }

  /**
   * The file shrank under the copy (copytruncate, or someone emptied it). Bytes written after
   * the copy's last read and before the truncate are gone from the file; logrotate's copy
   * (`<path>.1`, or a dated name) holds those written before the copy was made, so the reader
   * reads on there from the same offset when it finds a copy that matches what it read.
   */
  private truncated(w: PathWatch, reader: WatchedFile): void {
    const copy = findCopy(w.path, reader, this.isOwnInode);
    w.current = null;
    reader.finishing = true;
    if (copy !== null) {
      reader.switchTo(copy);
      this.positions.relocate(reader.key, copy);
      w.retiring.push(reader);
      this.record(w, 'file-truncated', `${w.path} was truncated after ${reader.offset} bytes were read; the rest is read from its copy ${copy.path}; lines written between that copy and the truncate, if any, were lost with it`);
    } else {
      this.retire(w, reader, null);
      this.record(w, 'file-truncated', `${w.path} was truncated after ${reader.offset} bytes were read; no copy of it was found: lines written after the last read and before the truncate, if any, are lost`);
    }
    this.openCurrent(w, 'start');
  }

  private retire(w: PathWatch, reader: WatchedFile, why: string | null): void {
    w.retiring = w.retiring.filter((r) => r !== reader);
    (this.host as SourceHost).detach(reader, null);
    // Its position stays saved until its last blocks are durable: a kill before that resumes it.
    w.leaving.push({ key: reader.key, offset: reader.offset });
    if (why !== null) this.record(w, 'file-finished', why);
  }

  private record(w: PathWatch, event: string, detail: string): void {
    this.host?.record(event, w.id === null ? detail : `${w.id}: ${detail}`);
  }

  /** A lasting problem is said once, until it changes. */
  private say(path: string, problem: string): void {
    const w = this.paths.get(path);
    if (w !== undefined && w.problem === problem) return;
    if (w !== undefined) w.problem = problem;
    this.host?.log.warn('WATCH_FILE', problem);
    this.host?.record('watch-problem', problem);
  }
}

function readers(w: PathWatch): WatchedFile[] {
  return w.current === null ? w.retiring : [...w.retiring, w.current];
}
