import type { Framer } from '../framer.ts';
import type { Logger } from '../log.ts';
import type { BlockOrigin } from '../writer.ts';
import type { SourceStart } from './ledger.ts';

/**
 * One thing the copy reads lines from: the baked pipe (or a pipe that replaced it), a watched
 * file, a session pipe. Each has a framer of its own, so a partial line of one is never joined to
 * bytes of another, and a block never mixes lines of two sources.
 *
 * The session (runtime/copy-session.ts) drives every source the same way: chunks arrive through
 * onChunk while it reads; pause/resume give backpressure; pullEverything takes what is waiting
 * synchronously (the end of a gather, the stop loop); stop closes it.
 */
export interface Source {
  /**
   * The source id each of its blocks names in its metadata. Undefined for the baked pipe: its
   * blocks carry no source, exactly as before there were other sources.
   */
  readonly id: string | undefined;
  readonly framer: Framer;
  /**
   * Where chunks read go; null: nowhere (at stop, the stop loop pulls them itself). A chunk (here
   * and in pullEverything) is valid only until `deliver` returns: a pipe reads the next one into
   * the same buffer. The framer copies it at once.
   */
  onChunk(deliver: ((chunk: Buffer) => void) | null): void;
  /** A read error: the session decides what it means (for the baked pipe: stop). */
  onFailure(handler: (err: Error) => void): void;
  pause(): void;
  resume(): void;
  /**
   * Takes every byte that can be read now, synchronously; returns how many. A pipe takes at most
   * `maxBytes` (the room left in --max-buffer); a file reads in bounded looks of its own.
   */
  pullEverything(take: (chunk: Buffer) => void, maxBytes?: number): number;
  /**
   * The framer's last blocks at stop. A pipe hands over everything, a partial line too (nobody
   * can read it later); a file keeps its partial line, which the next start reads whole.
   */
  finalBlocks(now: number): Buffer[];
  /** What the writer is told of a block this source's framer just made (marks for positions). */
  originOf(block: Buffer): BlockOrigin | undefined;
  /** True while a thread reads ahead for this source (a pipe in a flood): its chunks need no top-up. */
  readonly readAhead?: boolean;
  /**
   * Reading reads a flood of short reads: a pipe may hand its reads to a drain thread. True when
   * a thread reads ahead from here on (readAhead).
   */
  flood?(): boolean;
  /** At stop, before the stop loop: nothing reads on its own any more; only pullEverything takes data. */
  holdStill?(): void;
  /** Closes what it reads. Idempotent. */
  stop(): void;
}

/** What the session offers a group of sources (watched files, a session directory). */
export interface SourceHost {
  readonly log: Logger;
  /** A new id for a source of this kind, unique within the stream. */
  newId(kind: SourceStart['kind']): string;
  /** Announces `id` (once) with a source-start record. */
  announce(id: string, start: SourceStart): void;
  /** Starts reading a source (a new id, or another reader of an announced one). */
  attach(source: Source): void;
  /**
   * Stops reading `source` and admits its last blocks; with `endReason`, also closes its id
   * with a source-end record.
   */
  detach(source: Source, endReason: string | null): void;
  /** An event in the encrypted log. */
  record(event: string, detail: string): void;
  /** True once the copy is stopping: no new sources. */
  readonly stopping: boolean;
}

/** Sources that come and go: the files matching a watch, the pipes in a session directory. */
export interface SourceGroup {
  start(host: SourceHost): void;
  /** Before the stop loop: no new sources, no more reads of files (their rest waits for the next start). */
  stop(): void;
  /** After everything is durable at stop. */
  settled(): void;
}
