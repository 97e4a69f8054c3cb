import { appendFileSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../runtime/log.ts';
import { Backoff } from '../../../../runtime/sinks/forward/backoff.ts';
import { Forwarder } from '../../../../runtime/sinks/forward/forwarder.ts';
import { loadPosition, positionPath, savePosition } from '../../../../runtime/sinks/forward/position.ts';
import { SpoolReader, type SpoolMessage } from '../../../../runtime/sinks/forward/spool-reader.ts';
import type { Connection, Transport } from '../../../../runtime/sinks/forward/transport.ts';

/** An armored block as the splitter sees one (the splitter looks at BEGIN and END lines only). */
const msg = (n: number) => `-----BEGIN PGP MESSAGE-----\n\nbWVzc2FnZSA${n}\n-----END PGP MESSAGE-----\n`;
const texts = (messages: readonly SpoolMessage[]) => messages.map((m) => m.bytes.toString());
const body = (n: number) => msg(n).trimEnd();

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pp-spool-'));
  log = join(dir, 'www.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SpoolReader', () => {
  it('gives whole messages only: a message still being written waits for its END line', async () => {
    appendFileSync(log, msg(1) + msg(2).slice(0, 40));
    const r = new SpoolReader(log, silentLogger);
    expect(await r.open(null)).toBe(true);
    const first = await r.next(1 << 20);
    expect(texts(first!.messages)).toEqual([body(1)]);
    await r.commit(first!);
    expect(await r.next(1 << 20)).toBeNull();
    appendFileSync(log, msg(2).slice(40));
    const second = await r.next(1 << 20);
    expect(texts(second!.messages)).toEqual([body(2)]);
    await r.close();
  });

  it('steps over a torn message followed by whole ones (a copy killed mid-write, then restarted)', async () => {
    appendFileSync(log, msg(1) + msg(2).slice(0, 50) + msg(3));
    const r = new SpoolReader(log, silentLogger);
    await r.open(null);
    const chunk = await r.next(1 << 20);
    expect(texts(chunk!.messages)).toEqual([body(1), body(3)]);
    expect(chunk!.skippedBytes).toBeGreaterThan(0);
    await r.close();
  });

  it('follows rotation: reads the aside file to its end, then the fresh log; says when it is done with the aside file', async () => {
    appendFileSync(log, msg(1));
    const r = new SpoolReader(log, silentLogger);
    await r.open(null);
    await r.commit((await r.next(1 << 20))!);
    // A last block lands, then the log is renamed aside and a fresh one begins.
    appendFileSync(log, msg(2));
    const aside = `${log}.20261201T000000.000Z.1.aside`;
    renameSync(log, aside);
    appendFileSync(log, msg(3));
    expect(await r.doneWith(aside)).toBe(false);
    const rest = await r.next(1 << 20);
    expect(texts(rest!.messages)).toEqual([body(2)]);
    await r.commit(rest!);
    expect(await r.doneWith(aside)).toBe(false);
    const fresh = await r.next(1 << 20);
    expect(texts(fresh!.messages)).toEqual([body(3)]);
    expect(await r.doneWith(aside)).toBe(true);
    await r.close();
  });

  it('a saved position survives a restart: the next reader starts after it, in the aside file it was in', async () => {
    appendFileSync(log, msg(1) + msg(2));
    const r = new SpoolReader(log, silentLogger);
    await r.open(null);
    const one = await r.next(10); // about one message
    expect(texts(one!.messages)).toEqual([body(1)]);
    const pos = await r.commit(one!);
    await r.close();
    const aside = `${log}.20261201T000000.000Z.1.aside`;
    renameSync(log, aside);
    appendFileSync(log, msg(3));

    const again = new SpoolReader(log, silentLogger);
    expect(await again.open(pos)).toBe(true);
    const all: string[] = [];
    for (let c = await again.next(1 << 20); c !== null; c = await again.next(1 << 20)) {
      all.push(...texts(c.messages));
      await again.commit(c);
    }
    expect(all).toEqual([body(2), body(3)]);
    await again.close();
  });

  it('a position naming a file that is gone: says so and starts at the oldest file', async () => {
    appendFileSync(log, msg(1));
    const r = new SpoolReader(log, silentLogger);
    await r.open(null);
    const pos = await r.commit((await r.next(1 << 20))!);
    await r.close();
    unlinkSync(log);
    appendFileSync(log, msg(2));
    const again = new SpoolReader(log, silentLogger);
    expect(await again.open(pos)).toBe(false);
    expect(texts((await again.next(1 << 20))!.messages)).toEqual([body(2)]);
    await again.close();
  });
});

describe('position file', () => {
  it('is written atomically with the given mode, and read back', () => {
    const path = positionPath(log, 'ssh://u@h/x');
    expect(path).toMatch(/www\.log\.forward-[0-9a-f]{8}\.pos$/);
    const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    savePosition(path, { dev: 1, ino: 2, head: 'a'.repeat(64), headBytes: 3, offset: 4 }, { mode: 0o640, ...me });
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(loadPosition(path)).toEqual({ dev: 1, ino: 2, head: 'a'.repeat(64), headBytes: 3, offset: 4 });
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    appendFileSync(path, 'garbage');
    expect(loadPosition(path)).toBeNull();
  });
});

/** A transport that fails its first `failures` sends, then keeps what it is sent. */
function flakyTransport(failures: number): Transport & { got: string[]; sends: number } {
  const t = {
    label: 'test://flaky',
    got: [] as string[],
    sends: 0,
    async connect(): Promise<Connection> {
      return {
        closed: new Promise<void>(() => {}),
        async send(messages) {
          t.sends += 1;
          if (t.sends <= failures) throw new Error('link down');
          t.got.push(...texts(messages));
        },
        async close() {},
      };
    },
  };
  return t;
}

describe('Forwarder', () => {
  it('retries a failed batch after a backoff and ships every message once, in order; the outage is recorded', async () => {
    for (let i = 1; i <= 5; i += 1) appendFileSync(log, msg(i));
    const transport = flakyTransport(3);
    const events: string[] = [];
    const f = new Forwarder({
      transport,
      logPath: log,
      positionFile: positionPath(log, transport.label),
      fileLike: { mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
      log: silentLogger,
      record: (event) => events.push(event),
      backoff: new Backoff(5, 20),
    });
    f.start();
    const deadline = Date.now() + 5000;
    while (transport.got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    appendFileSync(log, msg(6));
    f.notify();
    await f.stop(2000);
    expect(transport.got).toEqual([1, 2, 3, 4, 5, 6].map(body));
    expect(events).toEqual(['forward-down', 'forward-restored']);
    expect(loadPosition(positionPath(log, transport.label))?.offset).toBe(statSync(log).size - 1);
  });
});

describe('Backoff', () => {
  it('1 s doubling to 1 min, back to 1 s after a success', () => {
    const b = new Backoff();
    expect([b.take(), b.take(), b.take(), b.take(), b.take(), b.take(), b.take(), b.take()]).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    b.reset();
    expect(b.take()).toBe(1000);
  });
});

describe('SpoolReader and a log cut back by the appender', () => {
  it('goes back to the new end when the log shrank below its position (a failed batch cut back, then written again)', async () => {
    appendFileSync(log, msg(1) + msg(2));
    const r = new SpoolReader(log, silentLogger);
    await r.open(null);
    await r.commit((await r.next(1 << 20))!);
    truncateSync(log, msg(1).length);
    expect(await r.next(1 << 20)).toBeNull();
    appendFileSync(log, msg(2) + msg(3));
    const again = await r.next(1 << 20);
    expect(texts(again!.messages)).toEqual([body(2), body(3)]);
    await r.close();
  });
});
