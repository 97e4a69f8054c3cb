import { describe, expect, it } from 'vitest';
import { SessionKeys } from '../../../runtime/session-key.ts';

/** A window with a hand-driven clock and timer; keyPackets counts the public-key operations. */
function harness(windowMs: number, maxBlocks = 1000) {
  let clock = 0;
  const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  let made = 0;
  const keys = new SessionKeys({
    windowMs,
    maxBlocks,
    keyPackets: async (key) => {
      made += 1;
      return Buffer.concat([Buffer.from(`pkesk${made}:`), Buffer.from(key)]);
    },
    now: () => clock,
    schedule: (fn, ms) => {
      const timer = { at: clock + ms, fn, cancelled: false };
      timers.push(timer);
      return () => void (timer.cancelled = true);
    },
  });
  const advance = (ms: number) => {
    clock += ms;
    for (const t of timers) if (!t.cancelled && t.at <= clock) (t.cancelled = true), t.fn();
  };
  /** Leases and gives back at once, as a seal does; returns the key's bytes and the lease. */
  const seal = async () => {
    const lease = await keys.lease(new Date());
    const copy = Buffer.from(lease.key);
    keys.release(lease.key);
    return { copy, lease };
  };
  return { keys, advance, seal, made: () => made };
}

describe('session-key window', () => {
  it('reuses one key and one set of key packets within the window', async () => {
    const h = harness(60_000);
    const a = await h.seal();
    h.advance(30_000);
    const b = await h.seal();
    expect(b.copy.equals(a.copy)).toBe(true);
    expect(b.lease.keyPackets).toBe(a.lease.keyPackets);
    expect(h.made()).toBe(1);
  });

  it('a window ends by time: a new key, and the old one is overwritten with zeros', async () => {
    const h = harness(60_000);
    const a = await h.seal();
    h.advance(60_000);
    expect(a.lease.key.equals(Buffer.alloc(32))).toBe(true); // erased by its timer, with no block coming
    const b = await h.seal();
    expect(b.copy.equals(a.copy)).toBe(false);
    expect(h.made()).toBe(2);
  });

  it('a window ends by block count', async () => {
    const h = harness(60_000, 3);
    const first = await Promise.all([h.seal(), h.seal(), h.seal()]);
    expect(new Set(first.map((s) => s.copy.toString('hex'))).size).toBe(1);
    expect(first[0]?.lease.key.equals(Buffer.alloc(32))).toBe(true);
    const fourth = await h.seal();
    expect(fourth.copy.equals(first[0]?.copy as Buffer)).toBe(false);
    expect(h.made()).toBe(2);
  });

  it('a window of 0 gives every block its own key, erased once the block is sealed', async () => {
    const h = harness(0);
    const seals = await Promise.all([h.seal(), h.seal(), h.seal()]);
    expect(new Set(seals.map((s) => s.copy.toString('hex'))).size).toBe(3);
    for (const s of seals) expect(s.lease.key.equals(Buffer.alloc(32))).toBe(true);
    expect(h.made()).toBe(3);
  });

  it('end() starts a new window; a key still leased is erased only when it is given back', async () => {
    const h = harness(60_000);
    const held = await h.keys.lease(new Date());
    const before = Buffer.from(held.key);
    h.keys.end();
    expect(held.key.equals(before)).toBe(true); // a seal in progress keeps a usable key
    const next = await h.seal();
    expect(next.copy.equals(before)).toBe(false);
    h.keys.release(held.key);
    expect(held.key.equals(Buffer.alloc(32))).toBe(true);
  });

  it('a failed public-key step fails the leases of that window only; the next lease retries', async () => {
    let fail = true;
    const keys = new SessionKeys({
      windowMs: 60_000,
      maxBlocks: 10,
      keyPackets: async () => {
        if (fail) throw new Error('no usable key');
        return Buffer.from('pkesk');
      },
      schedule: () => () => {},
    });
    await expect(keys.lease(new Date())).rejects.toThrow('no usable key');
    fail = false;
    const lease = await keys.lease(new Date());
    expect(Buffer.from(lease.keyPackets).toString()).toBe('pkesk');
    keys.release(lease.key);
  });
});
