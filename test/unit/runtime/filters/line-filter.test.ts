import { afterEach, describe, expect, it, vi } from 'vitest';
import { Filtering } from '../../../../runtime/filters/filtering.ts';
import { LineFilter } from '../../../../runtime/filters/line-filter.ts';
import { FilterRules, MATCH_LIMIT_BYTES, patternProblem } from '../../../../runtime/filters/rules.ts';
import { FilterTally } from '../../../../runtime/filters/tally.ts';

function filterOf(ignore: string[], keep: string[] = []) {
  const rules = new FilterRules({ ignore, keep });
  const tally = new FilterTally(rules.patterns);
  return { filter: new LineFilter(rules, tally.of('src')), tally };
}

const b = (s: string) => Buffer.from(s);

describe('FilterRules', () => {
  it('ignore is OR, keep is AND, ignore wins; each dropped line charged to one pattern', () => {
    const rules = new FilterRules({ ignore: ['health', 'ping'], keep: ['^GET', '200$'] });
    expect(rules.decide('GET /health 200')).toBe(0);
    expect(rules.decide('GET /ping 200')).toBe(1);
    expect(rules.decide('POST / 200')).toBe(2);
    expect(rules.decide('GET / 404')).toBe(3);
    expect(rules.decide('GET / 200')).toBe(-1);
  });

  it('screens patterns: invalid, empty and nested unbounded quantifiers are refused', () => {
    expect(patternProblem('(')).toMatch(/not a valid regular expression/);
    expect(patternProblem('')).toMatch(/empty/);
    for (const bad of ['(a+)+', '(a*)*', '(.*x)*', '((ab)+c)+', '(a+){2,}', '(?:x+y)*']) expect(patternProblem(bad), bad).toMatch(/exponential/);
    for (const ok of ['health', '^(GET|POST) ', '[(+)]+', '\\(a+\\)+', '(ab)+', '(a+)?', 'a{2,3}', '(a{1,3})+']) expect(patternProblem(ok), ok).toBeNull();
  });
});

describe('LineFilter', () => {
  it('returns the same buffer when nothing is dropped, an empty one when everything is', () => {
    const { filter } = filterOf(['x']);
    const block = b('a\nb\n');
    expect(filter.apply(block)).toBe(block);
    expect(filter.apply(b('x1\nx2\n')).length).toBe(0);
  });

  it('keeps the bytes of kept lines exactly, and counts lines and bytes per pattern', () => {
    const { filter, tally } = filterOf(['drop'], ['keep|drop']);
    expect(filter.apply(b('keep 1\ndrop 1\nother\nkeep 2\ndrop 22\n')).toString()).toBe('keep 1\nkeep 2\n');
    const [rec] = tally.take(false);
    expect(rec).toMatchObject({ source: 'src', lines: 3, bytes: 7 + 8 + 6, totalLines: 3, keptLines: 2 });
    expect(rec!.patterns).toEqual([
      { kind: 'ignore', pattern: 'drop', lines: 2, bytes: 15 },
      { kind: 'keep', pattern: 'keep|drop', lines: 1, bytes: 6 },
    ]);
    expect(tally.take(false)).toEqual([]);
    expect(tally.take(true)[0]).toMatchObject({ lines: 0, totalLines: 3, patterns: [] });
  });

  it('a line that arrives in pieces is kept whole and unjudged, and the next line is judged again', () => {
    const { filter, tally } = filterOf(['drop']);
    expect(filter.apply(b('drop a\ndrop the start of a cut line')).toString()).toBe('drop the start of a cut line');
    expect(filter.apply(b(' more of it')).toString()).toBe(' more of it');
    expect(filter.apply(b(' and its end, drop\ndrop b\nkeep\n')).toString()).toBe(' and its end, drop\nkeep\n');
    expect(tally.totals().lines).toBe(2);
    expect(tally.of('src').unjudgedLines).toBe(1);
  });

  it('a line longer than the match limit is kept unmatched', () => {
    const { filter, tally } = filterOf(['x']);
    const long = `${'x'.repeat(MATCH_LIMIT_BYTES + 1)}\n`;
    expect(filter.apply(b(`${long}x\n`)).toString()).toBe(long);
    expect(tally.of('src').unjudgedLines).toBe(1);
    expect(tally.totals()).toEqual({ lines: 1, bytes: 2 });
  });

  it('matches invalid UTF-8 and NUL bytes without throwing, and passes kept bytes untouched', () => {
    const { filter } = filterOf(['^drop']);
    const odd = Buffer.from([0xff, 0x00, 0xfe, 0x0a]);
    expect(filter.apply(Buffer.concat([odd, b('drop\n')])).equals(odd)).toBe(true);
  });
});

describe('Filtering', () => {
  afterEach(() => vi.useRealTimers());

  it('records every interval while lines are dropped, nothing when idle, and a final record with every source', () => {
    vi.useFakeTimers();
    const reports: Array<{ final: boolean; lines: number[] }> = [];
    const f = new Filtering({ ignore: ['x'], keep: [] }, (r) => reports.push({ final: r.final, lines: r.sources.map((s) => s.lines) }), 1000);
    const filter = f.forSource('p');
    f.start();
    filter.apply(b('x\nx\ny\n'));
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(1000);
    filter.apply(b('x\n'));
    vi.advanceTimersByTime(1000);
    f.stop();
    f.flush(true);
    expect(reports).toEqual([
      { final: false, lines: [2] },
      { final: false, lines: [1] },
      { final: true, lines: [0] },
    ]);
  });
});
