import { nextPiece } from '../../runtime/decrypt/split.ts';

/** The messages of a log, each as its own buffer, in file order (a log of whole messages only). */
export function splitMessages(buf: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let p = nextPiece(buf, 0); p !== null; p = nextPiece(buf, p.end)) {
    if (p.kind !== 'message') throw new Error(`not a whole message at offset ${p.offset}: ${p.kind}`);
    starts.push(p.offset);
  }
  // Each message runs to the next one's start, so an armored message keeps its final newline.
  return starts.map((at, i) => buf.subarray(at, starts[i + 1] ?? buf.length));
}

/** Byte offset of message `index` in the log the messages make when concatenated. */
export function offsetOf(messages: readonly Buffer[], index: number): number {
  return messages.slice(0, index).reduce((sum, m) => sum + m.length, 0);
}
