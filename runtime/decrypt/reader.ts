import { decodeControl, parseMetadata, type BlockMetadata, type ControlRecord } from '../metadata.ts';
import { countNewlines } from '../writer.ts';
import type { DecryptionKey } from './decryption-keys.ts';
import { FileWindow } from './file-window.ts';
import type { Opened, SessionKeyOf } from './fast-open.ts';
import { openMessage } from './open-message.ts';
import { findMessageStart, nextPiece, type Piece } from '../format/split.ts';

/**
 * Decrypts every message of an appended log, in file order, and checks each stream as it goes:
 * - a repeated (stream, sequence) pair (a retried append) is dropped, so each block counts once;
 * - a jump in a stream's sequence numbers is reported as missing blocks;
 * - a stream-end record is checked against the lines and bytes actually decrypted;
 * - lines the copy dropped under `--on-overload drop` are reported, as the copy counted them.
 * Problems are reported with the byte offset where they are; decryption goes on after them.
 */
export type ProblemKind = 'torn' | 'garbage' | 'undecryptable' | 'missing-blocks' | 'count-mismatch' | 'bad-control' | 'dropped-lines';

export interface Problem {
  readonly source: string;
  readonly offset: number;
  readonly length: number;
  readonly kind: ProblemKind;
  readonly detail: string;
}

/** Where a block was found and when it was sealed (the literal packet's date, when known). */
export interface BlockInfo {
  readonly source: string;
  readonly offset: number;
  readonly date: Date | null;
}

/** One opened message, before any check: what `verify` and the seal check look at. */
export interface OpenedBlock {
  readonly source: string;
  readonly offset: number;
  readonly length: number;
  readonly meta: BlockMetadata | null;
  readonly date: Date | null;
  readonly data: Uint8Array;
  /** SHA-256 of `data`, when a worker thread already computed it. */
  readonly digest?: Uint8Array;
}

export interface DecryptSink {
  /** Every message opened, repeats included, in input order, before `data` / `control`. */
  block?(block: OpenedBlock): void;
  data(bytes: Uint8Array, meta: BlockMetadata | null, info: BlockInfo): void | Promise<void>;
  control(record: ControlRecord, meta: BlockMetadata, info: BlockInfo): void | Promise<void>;
  problem(problem: Problem): void;
  /** The reader is about to wait for more input, or an input ended: buffered output goes out now. */
  idle?(): Promise<void>;
}

export interface DecryptSummary {
  messages: number;
  duplicates: number;
  problems: number;
}

interface StreamState {
  lastSeq: number;
  lines: number;
  bytes: number;
}


/**
 * Where the reader takes its input: chunk by chunk (a stream, an archive's inside), or, for a
 * file, read into the reader's own window (`readInto` fills `target` from `offset` as far as it
 * can and returns how many bytes it read, 0 at the end).
 *
 * A chunk is the reader's from then on: blocks being opened (on worker threads too) may be
 * views of it, so a source must hand in a fresh buffer each time, never one it reads into again.
 */
export type ChunkSource = (() => Promise<Buffer | null>) | { readonly readInto: (target: Buffer, offset: number) => Promise<number> };

/**
 * Messages opened ahead of the one being delivered. Blocks are delivered in order, so with two
 * workers and four ahead a worker often waited while the other finished the next block to
 * deliver (a flood's blocks differ in size fourfold): 80–130 ms of each worker's 400 ms. Eight
 * hold up to about 9 MB of opened text.
 */
const OPEN_AHEAD = 8;
/** Input read past the start of a torn piece before it is judged torn (blocks are ~1.4 MiB at most). */
const MAX_PIECE_WINDOW = 64 * 1024 * 1024;

export class LogDecrypter {
  readonly summary: DecryptSummary = { messages: 0, duplicates: 0, problems: 0 };
  private readonly streams = new Map<string, StreamState>();

  constructor(
    private readonly keys: readonly DecryptionKey[],
    private readonly sink: DecryptSink,
    /** With `--gpg`: session keys come from the local GnuPG instead of `keys`. */
    private readonly sessionKeyOf?: SessionKeyOf,
  ) {}

  /** A whole input already in memory (standard input, a decrypted archive). */
  async decryptBuffer(buf: Buffer, source: string): Promise<void> {
    let given = false;
    await this.decryptChunks(async () => {
      if (given) return null;
      given = true;
      return buf;
    }, source);
  }

  /**
   * An input read chunk by chunk (`read` returns null at its end), so a log of any size
   * decrypts in bounded memory: the window holds the messages being opened and the next
   * chunk. A piece that reaches the end of the window may be cut by it, so it is judged only
   * once more has been read (or the input has ended).
   *
   * Messages are opened a few at a time (session-key work and inflating overlap) and delivered
   * strictly in input order. Offsets in reports are offsets in the input.
   *
   * `live`: the input is a stream still being written (a followed log, a pipe): a whole message
   * at the end of what was read is delivered at once instead of waiting for more input, and
   * what is already opened is delivered before waiting for the next chunk.
   */
  async decryptChunks(read: ChunkSource, source: string, options: { readonly live?: boolean } = {}): Promise<void> {
    const live = options.live === true;
    let buf: Buffer = Buffer.alloc(0);
    let base = 0; // input offset of buf[0]
    let pos = 0; // the next byte of buf not yet split
    let eof = false;
    // A file is read straight into a window (`buf` is its filled part; file-window.ts).
    const file = typeof read === 'function' ? null : new FileWindow(read.readInto);
    const ahead: Array<{ piece: Piece; at: number; opened: Promise<Opened | Error> | null }> = [];
    const readMore = async (): Promise<void> => {
      // Keep what the pieces read ahead still need: a failed one is searched again from its start.
      const keepFrom = ahead.length > 0 ? (ahead[0] as { at: number }).at - base : pos;
      if (file !== null) {
        // Reading a file never waits for a writer, so the output need not go out first.
        const { read: n, dropped } = await file.more(keepFrom);
        if (n === 0) eof = true;
        buf = file.bytes;
        base += dropped;
        pos -= dropped;
        return;
      }
      await this.sink.idle?.();
      const chunk = await (read as () => Promise<Buffer | null>)();
      if (chunk === null) {
        eof = true;
        return;
      }
      buf = keepFrom === buf.length ? chunk : Buffer.concat([buf.subarray(keepFrom), chunk]);
      base += keepFrom;
      pos -= keepFrom;
    };
    for (;;) {
      while (ahead.length < OPEN_AHEAD) {
        const piece = nextPiece(buf, pos);
        // A piece reaching the window's end may be cut by it; a binary message cut short may
        // also look like one followed by a false start inside its own ciphertext. Both are judged
        // only with more input, up to a bound no message of ours comes near.
        const undecided =
          piece === null ||
          (piece.end >= buf.length && !(live && piece.kind === 'message')) ||
          (piece.kind === 'torn' && buf.length - piece.offset < MAX_PIECE_WINDOW && !(live && armoredTornBeforeMessage(buf, piece)));
        if (!eof && undecided && live && ahead.length > 0) break;
        if (!eof && undecided) {
          await readMore();
          continue;
        }
        if (piece === null) break;
        pos = piece.end;
        const opened = piece.kind === 'message' ? this.open(buf.subarray(piece.offset, piece.end), piece.armored).catch((err: unknown) => err as Error) : null;
        if (opened !== null) file?.hold(opened);
        ahead.push({ piece, at: base + piece.offset, opened });
      }
      const next = ahead.shift();
      if (next === undefined) {
        await this.sink.idle?.();
        return;
      }
      const { piece, at } = next;
      const length = piece.end - piece.offset;
      if (piece.kind !== 'message' || next.opened === null) {
        if (piece.kind !== 'message') this.report({ source, offset: at, length, kind: piece.kind, detail: piece.reason });
        continue;
      }
      const opened = await next.opened;
      if (opened instanceof Error) {
        this.report({ source, offset: at, length, kind: 'undecryptable', detail: opened.message });
        // A binary message whose length field outlived a torn write swallows the next message:
        // look for a message start inside it rather than skipping all of it. What was read
        // ahead from after it is dropped and split again from there.
        ahead.length = 0;
        pos = findMessageStart(buf, at - base + 1) ?? buf.length;
        continue;
      }
      this.summary.messages += 1;
      const meta = parseMetadata(opened.filename);
      this.sink.block?.({ source, offset: at, length, meta, date: opened.date, data: opened.data, digest: opened.digest });
      await this.deliver(opened.data, meta, { source, offset: at, date: opened.date }, opened.newlines);
    }
  }

  private open(bytes: Buffer, armored: boolean): Promise<Opened> {
    return openMessage(bytes, armored, this.keys, this.sessionKeyOf);
  }

  private async deliver(data: Uint8Array, meta: BlockMetadata | null, info: BlockInfo, newlines?: number): Promise<void> {
    const { source, offset } = info;
    if (meta === null) {
      await this.sink.data(data, null, info); // a message from another tool: plain data, unchecked
      return;
    }
    let stream = this.streams.get(meta.streamId);
    if (stream === undefined) {
      stream = { lastSeq: -1, lines: 0, bytes: 0 };
      this.streams.set(meta.streamId, stream);
    }
    if (meta.seq <= stream.lastSeq) {
      this.summary.duplicates += 1;
      return;
    }
    if (meta.seq > stream.lastSeq + 1) {
      const missing = meta.seq - stream.lastSeq - 1;
      this.report({
        source,
        offset,
        length: 0,
        kind: 'missing-blocks',
        detail: `stream ${meta.streamId}: ${missing} block(s) missing before sequence ${meta.seq}`,
      });
    }
    stream.lastSeq = meta.seq;
    if (meta.kind === 'control') {
      const record = decodeControl(data);
      if (record === null) {
        this.report({ source, offset, length: 0, kind: 'bad-control', detail: `stream ${meta.streamId}: unreadable control block ${meta.seq}` });
        return;
      }
      if (record.type === 'stream-end' && (record.lines !== stream.lines || record.bytes !== stream.bytes)) {
        this.report({
          source,
          offset,
          length: 0,
          kind: 'count-mismatch',
          detail: `stream ${meta.streamId}: the copy wrote ${record.lines} lines / ${record.bytes} bytes, decrypted ${stream.lines} / ${stream.bytes}`,
        });
      }
      if (record.type === 'event' && record.event === 'overload-dropped') {
        // The copy was told to drop rather than block: a loss it counted, which the reader must see.
        this.report({ source, offset, length: 0, kind: 'dropped-lines', detail: `stream ${meta.streamId}: ${record.detail}` });
      }
      await this.sink.control(record, meta, info);
      return;
    }
    if (meta.kind === 'data') {
      stream.lines += newlines ?? countNewlines(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      stream.bytes += data.byteLength;
    }
    await this.sink.data(data, meta, info);
  }

  /** A problem found outside the log itself (an archive's outer layer). */
  reportProblem(problem: Problem): void {
    this.report(problem);
  }

  private report(problem: Problem): void {
    this.summary.problems += 1;
    this.sink.problem(problem);
  }
}

/**
 * An armored piece without its END line, followed by a whole message: torn for good (a message
 * of ours never contains a BEGIN line), so a live input need not wait for more to judge it.
 */
function armoredTornBeforeMessage(buf: Buffer, piece: Piece): boolean {
  if (buf[piece.offset] !== 0x2d) return false; // '-': the BEGIN line
  const next = nextPiece(buf, piece.end);
  return next !== null && next.kind === 'message' && next.armored;
}
