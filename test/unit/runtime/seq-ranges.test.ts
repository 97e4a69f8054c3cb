import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeqRanges } from '../../../runtime/decrypt/seq-ranges.ts';

describe('sequence ranges', () => {
  it('answers as a set of every number would, in any insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 120 }), (seqs) => {
        const ranges = new SeqRanges();
        const set = new Set<number>();
        for (const q of seqs) {
          expect(ranges.add(q)).toBe(!set.has(q));
          set.add(q);
        }
        for (let q = 0; q <= 61; q += 1) expect(ranges.has(q)).toBe(set.has(q));
        const missing = ranges.missing(0, 61).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
        expect(missing).toEqual(Array.from({ length: 62 }, (_, i) => i).filter((q) => !set.has(q)));
      }),
    );
  });
});
