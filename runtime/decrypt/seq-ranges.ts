/**
 * The sequence numbers seen of one stream, as sorted disjoint ranges: blocks arrive in order, so
 * this stays a single range however long the log, and grows by one range per gap or reordering
 * (a Set of every number would hold millions of entries for a log of one-line blocks).
 */
export class SeqRanges {
  /** [from, to] inclusive, sorted, disjoint and not adjacent. */
  private readonly ranges: Array<[number, number]> = [];

  has(seq: number): boolean {
    const i = this.indexAfter(seq) - 1;
    const r = this.ranges[i];
    return r !== undefined && seq <= r[1];
  }

  /** Adds `seq`; false when it was already there. */
  add(seq: number): boolean {
    const last = this.ranges[this.ranges.length - 1];
    if (last !== undefined && seq === last[1] + 1) {
      last[1] = seq; // the usual case: the next block in order
      return true;
    }
    if (this.has(seq)) return false;
    const i = this.indexAfter(seq);
    const before = this.ranges[i - 1];
    const after = this.ranges[i];
    const joinsBefore = before !== undefined && before[1] + 1 === seq;
    const joinsAfter = after !== undefined && after[0] - 1 === seq;
    if (joinsBefore && joinsAfter) {
      before[1] = after[1];
      this.ranges.splice(i, 1);
    } else if (joinsBefore) before[1] = seq;
    else if (joinsAfter) after[0] = seq;
    else this.ranges.splice(i, 0, [seq, seq]);
    return true;
  }

  /** The numbers in [from, to] never added, as ranges. */
  missing(from: number, to: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let next = from;
    for (const [a, b] of this.ranges) {
      if (b < next) continue;
      if (a > to) break;
      if (a > next) out.push([next, Math.min(a - 1, to)]);
      next = b + 1;
      if (next > to) break;
    }
    if (next <= to) out.push([next, to]);
    return out;
  }

  /** Index of the first range starting after `seq`. */
  private indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ranges[mid] as [number, number])[0] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
