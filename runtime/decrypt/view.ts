import type { BlockMetadata, ControlRecord } from '../metadata.ts';
import type { BlockInfo, DecryptSink, Problem } from './reader.ts';
import { selectsBlock, type BlockSource, type Selection } from './selection.ts';

/** What a presenter knows of a block besides its bytes. */
export interface BlockContext {
  readonly meta: BlockMetadata | null;
  readonly info: BlockInfo;
  /** The host of the block's stream, from its stream-start record; null until one was read. */
  readonly host: string | null;
  /** The block's source id (runtime/sources/); null for the baked pipe and another tool's block. */
  readonly source?: string | null;
}

/** Turns selected blocks into output (text, JSON lines). Line selection is its own work. */
export interface Presenter {
  data(block: Buffer, ctx: BlockContext): Promise<void>;
  control(record: ControlRecord, ctx: BlockContext): Promise<void>;
  problem(problem: Problem): Promise<void>;
}

export interface ViewHooks {
  /** Problems always reach the admin on stderr, whatever the output is. */
  readonly reportProblem: (problem: Problem) => void;
  /** Called for every block read, selected or not (progress). */
  readonly onBlock?: () => void;
}

/**
 * The reader's sink: learns each stream's host from its stream-start record, keeps the blocks
 * the selection wants and hands them to the presenter.
 */
export class SelectingSink implements DecryptSink {
  private readonly hosts = new Map<string, string>();
  /** `<stream>/<source id>` → the path its source-start record names. */
  private readonly sourcePaths = new Map<string, string>();
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly selection: Selection,
    private readonly presenter: Presenter,
    private readonly hooks: ViewHooks,
  ) {}

  async data(bytes: Uint8Array, meta: BlockMetadata | null, info: BlockInfo): Promise<void> {
    this.hooks.onBlock?.();
    const host = meta === null ? null : (this.hosts.get(meta.streamId) ?? null);
    const source = this.sourceOf(meta);
    if (!selectsBlock(this.selection, meta, info.date, host, source)) return;
    await this.presenter.data(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { meta, info, host, source: source.id });
  }

  async control(record: ControlRecord, meta: BlockMetadata, info: BlockInfo): Promise<void> {
    this.hooks.onBlock?.();
    if (record.type === 'stream-start' && typeof record.host === 'string') this.hosts.set(meta.streamId, record.host);
    if (record.type === 'source-start' && typeof record.path === 'string') this.sourcePaths.set(`${meta.streamId}/${record.source}`, record.path);
    const host = this.hosts.get(meta.streamId) ?? null;
    const source = this.sourceOf(meta);
    if (!selectsBlock(this.selection, meta, info.date, host, source)) return;
    await this.presenter.control(record, { meta, info, host, source: source.id });
  }

  private sourceOf(meta: BlockMetadata | null): BlockSource {
    if (meta?.source === undefined) return { id: null, path: null };
    return { id: meta.source, path: this.sourcePaths.get(`${meta.streamId}/${meta.source}`) ?? null };
  }

  problem(problem: Problem): void {
    this.hooks.reportProblem(problem);
    // The reader does not wait for problem(): started now, so its output keeps its place among
    // the blocks' (writes go out in the order they are made), and awaited by flush().
    const written = this.presenter.problem(problem);
    this.pending = Promise.all([this.pending, written]).then(() => undefined);
  }

  /** Waits for problems handed to the presenter. */
  flush(): Promise<void> {
    return this.pending;
  }
}
