/**
 * The line filters of a copy (--ignore, --keep), compiled once. A line is dropped when it
 * matches any --ignore pattern (OR), or when --keep patterns are set and it misses one of them
 * (AND); --ignore is tested first, so it wins. Each dropped line is charged to exactly one
 * pattern: the first --ignore that matched, else the first --keep it missed. The counts per
 * pattern then add up to the lines dropped.
 */
import type { BakedFilters } from '../baked.ts';

export type FilterKind = 'ignore' | 'keep';

export interface FilterPattern {
  readonly kind: FilterKind;
  readonly pattern: string;
}

/**
 * Only lines up to this long (without the newline) are matched; longer ones are kept unjudged.
 * Bounds the work a pattern can do on one line: writers choose the lines, and a pattern that
 * backtracks badly should meet short input only.
 */
export const MATCH_LIMIT_BYTES = 8192;

export class FilterRules {
  readonly patterns: readonly FilterPattern[];
  private readonly ignore: readonly RegExp[];
  private readonly keep: readonly RegExp[];

  constructor(filters: BakedFilters) {
    this.ignore = filters.ignore.map((p) => new RegExp(p));
    this.keep = filters.keep.map((p) => new RegExp(p));
    this.patterns = [...filters.ignore.map((pattern) => ({ kind: 'ignore' as const, pattern })), ...filters.keep.map((pattern) => ({ kind: 'keep' as const, pattern }))];
  }

  /** -1: keep the line; otherwise the index (in `patterns`) of the pattern that drops it. */
  decide(line: string): number {
    for (let i = 0; i < this.ignore.length; i += 1) if ((this.ignore[i] as RegExp).test(line)) return i;
    for (let i = 0; i < this.keep.length; i += 1) if (!(this.keep[i] as RegExp).test(line)) return this.ignore.length + i;
    return -1;
  }
}

/**
 * Why a pattern is refused at generation, or null when it is accepted: it must compile as a
 * JavaScript regular expression (no flags) and must not nest unbounded quantifiers, as in
 * `(a+)+` or `(.*x)*`, the classic shape of catastrophic backtracking. This is a screen for the
 * common case, not a proof; the line length bound above limits the rest.
 */
export function patternProblem(pattern: string): string | null {
  if (pattern === '') return 'an empty pattern matches every line';
  try {
    new RegExp(pattern);
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  return nestedQuantifier(pattern) ? 'a group with an unbounded quantifier (+, *, {n,}) inside is itself repeated without bound: such patterns can take exponential time on a crafted line; rewrite it without the nesting' : null;
}

/** A scan of the pattern's groups: true when a group holding + * or {n,} is followed by one. */
function nestedQuantifier(pattern: string): boolean {
  const groups: boolean[] = [false];
  let i = 0;
  const unboundedAt = (at: number): number => {
    const c = pattern[at];
    if (c === '*' || c === '+') return 1;
    if (c !== '{') return 0;
    const m = /^\{[0-9]+,\}/.exec(pattern.slice(at));
    return m === null ? 0 : m[0].length;
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      i += 2;
    } else if (c === '[') {
      i += 1;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i += 1;
    } else if (c === '(') {
      groups.push(false);
      i += 1;
    } else if (c === ')') {
      const inner = groups.pop() ?? false;
      i += 1;
      if (inner && unboundedAt(i) > 0) return true;
      if (inner && groups.length > 0) groups[groups.length - 1] = true;
    } else {
      const n = unboundedAt(i);
      if (n > 0) groups[groups.length - 1] = true;
      i += Math.max(n, 1);
    }
  }
  return false;
}
