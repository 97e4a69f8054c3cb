import { describe, expect, it } from 'vitest';
import { describeProgress, Progress } from '../../../../runtime/decrypt/progress.ts';

describe('progress', () => {
  it('says blocks, MB, rate and ETA when the total is known', () => {
    expect(describeProgress(120, 50e6, 150e6, 2)).toBe('decrypt: 120 blocks  50.0/150.0 MB  25.0 MB/s  ETA 0:04');
    expect(describeProgress(3, 1e6, null, 0.5)).toBe('decrypt: 3 blocks  1.0 MB  2.0 MB/s');
    expect(describeProgress(3, 10, 10, 1)).not.toMatch(/ETA/);
  });

  it('redraws at most every 250 ms and clears its line', () => {
    let t = 1_000;
    const out: string[] = [];
    const p = new Progress((s) => out.push(s), 100, () => t);
    p.addBytes(10);
    p.addBlock();
    t += 100;
    p.addBlock();
    expect(out.length).toBe(1);
    t += 200;
    p.addBytes(40);
    expect(out.length).toBe(2);
    expect(out[1]).toMatch(/^\r\x1b\[Kdecrypt: 2 blocks +0\.0\/0\.0 MB/);
    p.clear();
    expect(out.at(-1)).toBe('\r\x1b[K');
    p.clear();
    expect(out.length).toBe(3);
  });
});
