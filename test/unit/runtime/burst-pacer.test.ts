import { describe, expect, it } from 'vitest';
import { BurstPacer } from '../../../runtime/burst-pacer.ts';

const limits = { gatherMinMs: 2, gatherMaxMs: 6, streamAfterBytes: 32 * 1024, gatherQuietMs: 1 };

describe('burst pacer', () => {
  it('bursts 10 ms apart: every gather is the shortest', () => {
    const p = new BurstPacer(limits);
    for (let t = 0; t < 100; t += 10) {
      expect(p.startGather(t)).toBe(2);
      p.endGather(t + 2, 2900);
      expect(p.streaming).toBe(false);
    }
  });

  it('single lines one after another: gathers double up to the bound, and shrink after a quiet spell', () => {
    const p = new BurstPacer(limits);
    let t = 0;
    const gathers: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const ms = p.startGather(t + 0.5); // the next line comes half a millisecond after the last gather
      gathers.push(ms);
      t += 0.5 + ms;
      p.endGather(t, 150);
    }
    expect(gathers).toEqual([2, 4, 6, 6, 6]);
    expect(p.startGather(t + 50)).toBe(2);
  });

  it('lone lines a few milliseconds apart keep the shortest gather: their latency is not traded', () => {
    const p = new BurstPacer(limits);
    let t = 0;
    for (let i = 0; i < 10; i += 1) {
      expect(p.startGather(t)).toBe(2);
      p.endGather(t + 2.5, 0); // the timer fired a little late
      t += 5;
    }
  });

  it('a gather that finds half a pipe buffer turns to continuous reading until the pipe is idle', () => {
    const p = new BurstPacer(limits);
    p.startGather(0);
    p.endGather(2, 32 * 1024);
    expect(p.streaming).toBe(true);
    p.idle();
    expect(p.streaming).toBe(false);
    expect(p.startGather(100)).toBe(2);
  });
});

describe('burst pacer: quiet steps', () => {
  it('a shortest gather may end at a quiet step; a doubled one runs its full length', () => {
    const p = new BurstPacer(limits);
    expect(p.startGather(0)).toBe(2);
    expect(p.mayEndQuiet).toBe(true);
    p.endGather(1, 150); // ended early: one quiet millisecond
    expect(p.startGather(1.5)).toBe(4); // the next line came right after: lines back to back
    expect(p.mayEndQuiet).toBe(false);
    p.endGather(5.5, 150);
    expect(p.startGather(50)).toBe(2);
    expect(p.mayEndQuiet).toBe(true);
  });
});
