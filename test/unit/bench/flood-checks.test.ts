import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain .mjs modules of the bench, without types
import { parseTimes } from '../../../bench/copy-process.mjs';
// @ts-expect-error: as above
import { linesFor } from '../../../bench/line-writer.mjs';
// @ts-expect-error: as above
import { cutBlocks, meter } from '../../../bench/primitives-meter.mjs';
// @ts-expect-error: as above
import { checkUnmerged } from '../../../bench/writers.mjs';

/** Lines of several writers interleaved line by line, as a FIFO read by one reader gives them. */
function interleaved(writers: number, linesEach: number): Buffer {
  const all = Array.from({ length: writers }, (_, w) => (linesFor(linesEach, w) as Buffer).toString('latin1').split(/(?<=\n)/));
  const out: string[] = [];
  for (let i = 0; i < linesEach; i += 1) for (const lines of all) out.push(lines[i] as string);
  return Buffer.from(out.join(''), 'latin1');
}

describe('bench: the writers check (lines of different writers never merged)', () => {
  it('passes every writer line, in order, interleaved with the others', () => {
    expect(checkUnmerged(interleaved(3, 50), 3, 50)).toBeNull();
  });

  it('finds a line made of two writers\' bytes', () => {
    const text = interleaved(2, 20).toString('latin1').split(/(?<=\n)/);
    // Writer 0's line 5 loses its end to writer 1's line 5 (as if a write had been cut and merged).
    const a = text[10] as string;
    const b = text[11] as string;
    text.splice(10, 2, a.slice(0, 30) + b);
    expect(checkUnmerged(Buffer.from(text.join(''), 'latin1'), 2, 20)).toMatch(/line at byte \d+/);
  });

  it('finds a missing line and a line out of its writer\'s order', () => {
    const lines = interleaved(2, 10).toString('latin1').split(/(?<=\n)/);
    expect(checkUnmerged(Buffer.from(lines.slice(0, -1).join(''), 'latin1'), 2, 10)).toMatch(/writer 1: 9 of 10/);
    [lines[0], lines[2]] = [lines[2] as string, lines[0] as string];
    expect(checkUnmerged(Buffer.from(lines.join(''), 'latin1'), 2, 10)).toMatch(/not the next line/);
  });
});

describe('bench: the primitives meter', () => {
  it('cuts the lines at the copy\'s block boundaries and meters every byte', () => {
    const data = linesFor(100, null) as Buffer;
    const blocks = cutBlocks(data, [10, 60, 30]) as Buffer[];
    expect(Buffer.concat(blocks).equals(data)).toBe(true);
    expect(blocks.map((b) => b.toString('latin1').split('\n').length - 1)).toEqual([10, 60, 30]);
    expect(() => cutBlocks(data, [10, 60])).toThrow(/cover/);
    const m = meter(blocks, 1);
    expect(m.bytes).toBe(data.length);
    expect(m.blocks).toBe(3);
    expect(Object.keys(m.msPerMB)).toEqual(['deflate', 'sha1', 'aes', 'base64']);
  });
});

describe('bench: the CPU time of a copy from bash\'s times', () => {
  it('reads the children\'s user and system seconds', () => {
    expect(parseTimes('0m0.003s 0m0.001s\n1m2.500s 0m0.250s\n')).toEqual({ userSeconds: 62.5, systemSeconds: 0.25, cpuSeconds: 62.75 });
  });
});
