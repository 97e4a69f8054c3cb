import type { ControlRecord } from './metadata.ts';
import type { WriterLimits } from './writer.ts';

// The writer's queue items and how a batch is taken from them; runtime/writer.ts seals and
// appends the batches.

/**
 * Where a block came from: its source id (absent: the baked pipe) and, for a source that keeps
 * a position (a watched file), marks the writer hands back around the append that makes it durable.
 */
export interface BlockOrigin {
  readonly source?: string;
  readonly marks?: readonly unknown[];
}

export type Item =
  | { readonly kind: 'data'; readonly bytes: Buffer; readonly counted: boolean; readonly origin?: BlockOrigin }
  | { readonly kind: 'control'; readonly make: (seq: number) => ControlRecord; readonly source?: string; readonly marks?: readonly unknown[] };

/**
 * Takes the next batch off the front of `queue`: consecutive data items of one source (and of
 * one kind: counted or not) are merged up to the block cap; it stops at the batch cap.
 */
export function takeBatch(queue: Item[], limits: Pick<WriterLimits, 'maxBatchBytes' | 'maxBlockBytes'>): { items: Item[]; dataBytes: number } {
  const items: Item[] = [];
  let dataBytes = 0;
  while (queue.length > 0 && dataBytes < limits.maxBatchBytes) {
    const first = queue.shift() as Item;
    if (first.kind === 'control') {
      items.push(first);
      continue;
    }
    const parts = [first.bytes];
    let size = first.bytes.length;
    let next = queue[0];
    // Only blocks of a watched file carry marks: no array for the pipe's blocks.
    let marks: unknown[] | null = first.origin?.marks === undefined ? null : [...first.origin.marks];
    while (
      next !== undefined &&
      next.kind === 'data' &&
      next.counted === first.counted &&
      next.origin?.source === first.origin?.source &&
      size + next.bytes.length <= limits.maxBlockBytes
    ) {
      queue.shift();
      parts.push(next.bytes);
      if (next.origin?.marks !== undefined) (marks ??= []).push(...next.origin.marks);
      size += next.bytes.length;
      next = queue[0];
    }
    const bytes = parts.length === 1 ? first.bytes : Buffer.concat(parts, size);
    const origin = first.origin === undefined ? undefined : marks === null ? first.origin : { ...first.origin, marks };
    items.push(origin === undefined ? { kind: 'data', bytes, counted: first.counted } : { kind: 'data', bytes, counted: first.counted, origin });
    dataBytes += size;
  }
  return { items, dataBytes };
}

export function marksOf(items: readonly Item[]): unknown[] {
  const marks: unknown[] = [];
  for (const item of items) {
    const carried = item.kind === 'data' ? item.origin?.marks : item.marks;
    if (carried !== undefined) marks.push(...carried);
  }
  return marks;
}

export function sourceOf(item: Item): string | undefined {
  return item.kind === 'data' ? item.origin?.source : item.source;
}

export function countNewlines(bytes: Buffer): number {
  let n = 0;
  let at = bytes.indexOf(0x0a);
  while (at >= 0) {
    n += 1;
    at = bytes.indexOf(0x0a, at + 1);
  }
  return n;
}
