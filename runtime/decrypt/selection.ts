import type { BlockMetadata } from '../metadata.ts';

/**
 * What the admin asked to see. Blocks are selected by what the whole block shares (seal time,
 * stream, host); lines within a block by the patterns. A line is kept when it matches any
 * --grep (or none was given) and no --ignore.
 */
export interface Selection {
  readonly grep: readonly RegExp[];
  readonly ignore: readonly RegExp[];
  /** Inclusive. */
  readonly since: Date | null;
  /** Exclusive: --since 02:00 --until 03:00 is the hour from 02:00. */
  readonly until: Date | null;
  /** Stream ids or prefixes of them (lower-case hex). */
  readonly streams: readonly string[];
  /** Host names as the stream-start record gives them (compared ignoring case). */
  readonly hosts: readonly string[];
  /**
   * Sources (runtime/sources/): an id as the blocks carry it (f1, s2), a path as the source's
   * source-start record names it, or `pipe` for the baked pipe's blocks (which carry no id).
   */
  readonly sources?: readonly string[];
}

/** The source of a block as far as the reader knows it: its id and the path announced for it. */
export interface BlockSource {
  readonly id: string | null;
  readonly path: string | null;
}

export const SELECT_ALL: Selection = { grep: [], ignore: [], since: null, until: null, streams: [], hosts: [] };

/** True when some line may be left out of a block (the fast path writes blocks whole). */
export const filtersLines = (s: Selection): boolean => s.grep.length > 0 || s.ignore.length > 0;

/**
 * Whether a block (data or control) is wanted. A block without metadata (written by another
 * tool) has no stream or host, and one without a date cannot be placed in time: such blocks are
 * left out when those filters are given.
 */
export function selectsBlock(s: Selection, meta: BlockMetadata | null, date: Date | null, host: string | null, source?: BlockSource): boolean {
  if (s.since !== null || s.until !== null) {
    if (date === null) return false;
    if (s.since !== null && date.getTime() < s.since.getTime()) return false;
    if (s.until !== null && date.getTime() >= s.until.getTime()) return false;
  }
  if (s.streams.length > 0 && (meta === null || !s.streams.some((id) => meta.streamId.startsWith(id)))) return false;
  if (s.hosts.length > 0 && (host === null || !s.hosts.some((h) => h.toLowerCase() === host.toLowerCase()))) return false;
  if (s.sources !== undefined && s.sources.length > 0 && (meta === null || !s.sources.some((want) => sourceMatches(want, source ?? null)))) return false;
  return true;
}

function sourceMatches(want: string, source: BlockSource | null): boolean {
  if (source === null || source.id === null) return want === 'pipe';
  return want === source.id || want === source.path;
}

/** A line of a block: its bytes without the newline, and whether it had one. */
export interface Line {
  readonly bytes: Buffer;
  readonly newline: boolean;
}

/** The lines of a block, in order; a last line without a newline is kept as it is. */
export function* linesOf(block: Buffer): Generator<Line> {
  let start = 0;
  while (start < block.length) {
    const nl = block.indexOf(0x0a, start);
    if (nl < 0) {
      yield { bytes: block.subarray(start), newline: false };
      return;
    }
    yield { bytes: block.subarray(start, nl), newline: true };
    start = nl + 1;
  }
}

/**
 * Patterns run on the line as UTF-8 text (bytes that are not valid UTF-8 read as U+FFFD), the
 * newline excluded, so `^` and `$` anchor to the line.
 */
export function selectsLine(s: Selection, line: Buffer): boolean {
  if (s.grep.length === 0 && s.ignore.length === 0) return true;
  const text = line.toString('utf8');
  if (s.grep.length > 0 && !s.grep.some((re) => re.test(text))) return false;
  return !s.ignore.some((re) => re.test(text));
}
