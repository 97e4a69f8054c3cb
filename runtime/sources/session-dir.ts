import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, refusal } from '../errors.ts';
import { lstatOrNull } from '../paths.ts';
import { userName } from './passwd.ts';
import { SessionPipe } from './session-pipe.ts';
import type { SourceGroup, SourceHost } from './source.ts';

/**
 * The session directory's mode: the copy's user owns it; anyone may create an entry (-wx) but not
 * list it; sticky, so nobody removes or renames another's entry; setgid, so every pipe made in it
 * belongs to the copy's group, and `mkfifo -m 640` makes one that only its owner writes and only
 * the copy's group reads.
 */
export const SESSION_DIR_MODE = 0o3733;
/** A pipe's name: what the profile snippet makes, `<user>.<tty>.<random>`; nothing else is read. */
const NAME = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_]{0,64}\.[0-9a-f]{16,64}$/;
/** The suffix the copy gives a pipe it took: the snippet waits for it before starting `script`. */
export const TAKEN = '.taken';
const SCAN_MS = 1000;
const CONNECT_POLL_MS = 100;
/** A taken pipe no writer opened within this long is given up. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Sessions read at once at most: each holds a descriptor and a framer; users could make pipes by the thousand. */
const MAX_SESSIONS = 512;

interface Waiting {
  readonly pipe: SessionPipe;
  readonly path: string;
  readonly since: number;
}

/**
 * --session-dir: one source per login session. A user's profile snippet makes a FIFO in the
 * directory; the copy opens it without following links, checks it (a FIFO, one link, the
 * copy's group, nobody else may read or write it), takes the **uid from the pipe's owner** (never
 * from its name), renames it `<name>.taken` so the snippet knows it is read, and reads it as a
 * source of its own until the session's writer closes it. Then the pipe is removed.
 */
export class SessionDir implements SourceGroup {
  private host: SourceHost | null = null;
  private readonly seen = new Set<string>();
  private readonly waiting: Waiting[] = [];
  private readonly live = new Map<SessionPipe, string>();
  private timers: NodeJS.Timeout[] = [];
  private watcher: FSWatcher | null = null;
  private stopped = false;

  constructor(
    private readonly dir: string,
    private readonly owner: { readonly uid: number; readonly gid: number },
  ) {}

  /** Makes the directory (after the privilege drop: it is the run-as user's) or checks it. */
  prepare(): void {
    try {
      mkdirSync(this.dir, 0o700);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw refusal('SESSION_DIR', `cannot create the session directory ${this.dir}: ${errnoCode(err) ?? String(err)}`);
    }
    const st = lstatSync(this.dir);
    if (!st.isDirectory() || st.uid !== this.owner.uid) {
      throw refusal('SESSION_DIR', `${this.dir} must be a directory of the copy's user (uid ${this.owner.uid}), not a symlink or another's: it decides who may log sessions`);
    }
    if (st.gid !== this.owner.gid) throw refusal('SESSION_DIR', `${this.dir} must have the copy's group (gid ${this.owner.gid}): the session pipes inherit it`);
    chmodSync(this.dir, SESSION_DIR_MODE);
  }

  start(host: SourceHost): void {
    this.host = host;
    this.scan();
    this.timers.push(setInterval(() => this.scan(), SCAN_MS));
    this.timers.push(setInterval(() => this.connectWaiting(), CONNECT_POLL_MS));
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => this.scan());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // The scan timer alone notices new pipes.
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.watcher?.close();
    for (const w of this.waiting.splice(0)) this.finish(w.pipe, w.path, null);
    for (const pipe of this.live.keys()) pipe.stopReading();
  }

  settled(): void {
    // Sessions still open at stop end with the stream (source-end "copy stopped"); their pipes
    // are removed, so their `script` sees the end and the user's next output fails.
    for (const path of this.live.values()) removeQuietly(path);
    this.live.clear();
  }

  private scan(): void {
    if (this.stopped || this.host === null) return;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      this.host.log.warn('SESSION_DIR', `cannot list ${this.dir}: ${errnoCode(err) ?? String(err)}`);
      return;
    }
    const ours = new Set([...this.live.values(), ...this.waiting.map((w) => w.path)]);
    for (const name of names) {
      if (name.endsWith(TAKEN)) {
        // Taken by an earlier run, or a file someone made under that name: nobody reads it.
        if (!ours.has(join(this.dir, name))) removeQuietly(join(this.dir, name));
        continue;
      }
      if (this.seen.has(name)) continue;
      this.seen.add(name);
      this.take(name);
      // Taken (renamed) or refused (removed): the name cannot come back; only one the copy
      // could not remove stays remembered, so it is not refused again at every scan.
      if (lstatOrNull(join(this.dir, name)) === null) this.seen.delete(name);
    }
  }

  private take(name: string): void {
    const host = this.host as SourceHost;
    const path = join(this.dir, name);
    if (!NAME.test(name)) {
      this.refuse(path, `${name}: not a session pipe name (<user>.<tty>.<random hex>)`);
      return;
    }
    if (this.live.size + this.waiting.length >= MAX_SESSIONS) {
      this.refuse(path, `${name}: already ${MAX_SESSIONS} sessions open; this one is not logged`);
      return;
    }
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (err) {
      this.refuse(path, `${name}: cannot open (${errnoCode(err) ?? String(err)})`);
      return;
    }
    const st = fstatSync(fd);
    const problem = !st.isFIFO()
      ? 'not a FIFO'
      : st.nlink !== 1
        ? 'more than one link'
        : st.gid !== this.owner.gid
          ? "not in the copy's group"
          : (st.mode & 0o027) !== 0
            ? `mode ${(st.mode & 0o777).toString(8)}: only its owner may write it and nobody but the copy's group read it (mkfifo -m 640)`
            : null;
    if (problem !== null) {
      closeSync(fd);
      this.refuse(path, `${name}: ${problem}`);
      return;
    }
    const taken = `${path}${TAKEN}`;
    try {
      renameSync(path, taken);
    } catch (err) {
      closeSync(fd);
      this.refuse(path, `${name}: cannot mark it taken (${errnoCode(err) ?? String(err)})`);
      return;
    }
    const id = host.newId('session');
    const pipe = new SessionPipe(id, fd);
    const tty = (name.split('.')[1] ?? '').replace(/_/g, '/');
    host.announce(id, { kind: 'session', path: taken, uid: st.uid, user: userName(st.uid) ?? String(st.uid), tty, sessionStart: st.ctime.toISOString() });
    host.attach(pipe);
    this.waiting.push({ pipe, path: taken, since: Date.now() });
  }

  private connectWaiting(): void {
    const now = Date.now();
    for (const w of [...this.waiting]) {
      let connected: boolean;
      try {
        connected = w.pipe.connect(() => this.finish(w.pipe, w.path, 'session ended'));
      } catch (err) {
        this.drop(w);
        this.finish(w.pipe, w.path, `read error ${errnoCode(err) ?? String(err)}`);
        continue;
      }
      if (connected) {
        this.drop(w);
        this.live.set(w.pipe, w.path);
      } else if (now - w.since >= CONNECT_TIMEOUT_MS) {
        this.drop(w);
        this.finish(w.pipe, w.path, 'no writer came');
      }
    }
  }

  private drop(w: Waiting): void {
    const at = this.waiting.indexOf(w);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  private finish(pipe: SessionPipe, path: string, reason: string | null): void {
    this.live.delete(pipe);
    if (reason !== null) this.host?.detach(pipe, reason);
    removeQuietly(path);
  }

  /** Something in the directory that is not a session pipe: said, and removed (the copy owns the directory). */
  private refuse(path: string, why: string): void {
    this.host?.log.warn('SESSION_REFUSED', why);
    this.host?.record('session-refused', why);
    removeQuietly(path);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or the directory is no longer ours to change: nothing to do.
  }
}
