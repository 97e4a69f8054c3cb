import { describe, expect, it } from 'vitest';
import { drainRingBytes } from '../../../runtime/drain-thread.ts';

describe('the drain thread ring', () => {
  it('is a power of two (its positions wrap with 32-bit counters), at most a quarter of --max-buffer and at most 1 MiB', () => {
    const MiB = 1024 * 1024;
    for (const maxBuffer of [2 * MiB, 3 * MiB, 4 * MiB, 8 * MiB, 100 * MiB, 1024 * MiB]) {
      const ring = drainRingBytes(maxBuffer);
      expect(ring & (ring - 1)).toBe(0);
      expect(ring).toBeLessThanOrEqual(maxBuffer / 4);
      expect(ring).toBeLessThanOrEqual(MiB);
      expect(ring).toBeGreaterThanOrEqual(64 * 1024);
    }
    expect(drainRingBytes(2 * MiB)).toBe(512 * 1024);
    expect(drainRingBytes(8 * MiB)).toBe(MiB);
  });
});
