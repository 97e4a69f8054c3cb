import { isAscii } from 'node:buffer';
import { MATCH_LIMIT_BYTES, type FilterRules } from './rules.ts';
import type { SourceTally } from './tally.ts';

const NL = 0x0a;

/**
 * The filter of one source, fed every block its framer makes, in order. Blocks end at line ends
 * except when the framer had to cut a line (longer than a block, or a partial line that waited
 * too long): such a line arrives in pieces and is kept whole, unjudged, since no piece shows
 * the whole line. Lines longer than MATCH_LIMIT_BYTES are kept unjudged too.
 */
export class LineFilter {
  /** The previous block ended inside a line: its rest opens the next block. */
  private midLine = false;

  constructor(
    private readonly rules: FilterRules,
    private readonly tally: SourceTally,
  ) {}

  /** The block without its dropped lines: the same buffer when nothing is dropped, empty when all are. */
  apply(block: Buffer): Buffer {
    let start = 0;
    if (this.midLine) {
      const nl = block.indexOf(NL);
      if (nl < 0) return block;
      start = nl + 1;
      this.midLine = false;
    }
    let parts: Buffer[] | null = null;
    let keptFrom = 0;
    // Most logs are ASCII: then one decode of the whole block serves every line (a slice of it
    // is cheap, and string offsets are byte offsets); otherwise each line is decoded as UTF-8.
    const ascii = isAscii(block) ? block.toString('latin1') : null;
    while (start < block.length) {
      const nl = block.indexOf(NL, start);
      if (nl < 0) {
        this.midLine = true;
        this.tally.unjudgedLines += 1;
        this.tally.keptLines += 1;
        break;
      }
      const end = nl + 1;
      if (nl - start > MATCH_LIMIT_BYTES) {
        this.tally.unjudgedLines += 1;
        this.tally.keptLines += 1;
      } else {
        const hit = this.rules.decide(ascii === null ? block.toString('utf8', start, nl) : ascii.slice(start, nl));
        if (hit < 0) {
          this.tally.keptLines += 1;
        } else {
          this.tally.dropped(hit, end - start);
          parts ??= [];
          if (start > keptFrom) parts.push(block.subarray(keptFrom, start));
          keptFrom = end;
        }
      }
      start = end;
    }
    if (parts === null) return block;
    if (keptFrom < block.length) parts.push(block.subarray(keptFrom));
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}
