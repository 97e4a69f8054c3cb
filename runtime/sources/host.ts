import type { Logger } from '../log.ts';
import type { SourceLedger } from './ledger.ts';
import type { Source, SourceHost } from './source.ts';

/** What the session lends a group of sources (runtime/copy-session.ts). */
export interface HostDeps {
  readonly log: Logger;
  readonly ledger: SourceLedger;
  readonly stopping: () => boolean;
  /** After stream-end nothing more is recorded. */
  readonly ended: () => boolean;
  /** Starts reading a source. */
  readonly add: (source: Source) => void;
  /** Stops taking a source's chunks; false when it was not being read. */
  readonly remove: (source: Source) => boolean;
  /** A chunk through the source's framer, its blocks admitted. */
  readonly take: (source: Source, chunk: Buffer, now: number) => void;
  readonly admit: (block: Buffer, source: Source) => void;
  readonly record: (event: string, detail: string) => void;
}

export function sourceHost(d: HostDeps): SourceHost {
  return {
    log: d.log,
    newId: (kind) => d.ledger.newId(kind),
    announce: (id, start) => {
      if (!d.ended()) d.ledger.start(id, start);
    },
    attach: (source) => {
      if (d.stopping()) source.stop();
      else d.add(source);
    },
    detach: (source, endReason) => {
      if (!d.remove(source)) return;
      source.onChunk(null);
      // What it still holds goes to the log before it closes: a session's last output.
      source.pullEverything((chunk) => d.take(source, chunk, Date.now()));
      source.stop();
      for (const block of source.finalBlocks(Date.now())) d.admit(block, source);
      if (endReason !== null && source.id !== undefined) d.ledger.end(source.id, endReason);
    },
    record: d.record,
    get stopping() {
      return d.stopping();
    },
  };
}
