import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type JsMsg } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { BakedForward } from '../baked.ts';
import { nextPiece } from '../format/split.ts';
import { EXIT, PipesError } from '../errors.ts';
import { Backoff } from '../sinks/forward/backoff.ts';
import { HEADER, natsConnectOptions } from '../sinks/forward/nats.ts';
import { CollectorFile } from './collector-file.ts';

type NatsFrom = Extract<BakedForward, { kind: 'nats' }>;

export interface CollectOptions {
  readonly from: NatsFrom;
  readonly dir: string;
  /** null: derived from the subject (logs.web -> LOGS_WEB). */
  readonly stream: string | null;
  readonly durable: string;
  readonly mode: number;
}

export const COLLECT_LIMITS = {
  /** Messages taken per fetch: written with one fdatasync per file, then acknowledged. */
  batch: 256,
  fetchExpiresMs: 1000,
  /** A stream collect creates drops a repeated Nats-Msg-Id within this window (the client resends a batch at most). */
  duplicateWindowMs: 10 * 60_000,
  /** A message whose log is refused (a symlink, say) comes back after this long, until an admin fixes it. */
  refusedRetryMs: 60_000,
} as const;

/**
 * `paranoid-pipes collect`: a durable pull consumer on the stream; every message is appended
 * verbatim to DIR/HOST/LOG (the names from the headers the copy set, made safe for a path),
 * fdatasync'd, and only then acknowledged. A message acknowledged late comes again: the file
 * drops it by its SHA-256. Bytes that are no whole OpenPGP message are refused (acknowledged,
 * said, not written). Connection failures reconnect with the forwarders' backoff.
 */
export async function collect(opts: CollectOptions, io: { err: (text: string) => void }, signal: AbortSignal): Promise<number> {
  const files = new Map<string, CollectorFile>();
  const backoff = new Backoff();
  const stream = opts.stream ?? streamNameOf(opts.from.subject);
  mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
  let down = false;
  try {
    while (!signal.aborted) {
      let nc: NatsConnection | null = null;
      try {
        nc = await connect({ ...natsConnectOptions(opts.from), name: 'paranoid-pipes collect', reconnect: false, timeout: 10_000 });
        const consumer = await setUp(nc, stream, opts);
        if (down) io.err(`paranoid-pipes collect: connected again to ${opts.from.label}\n`);
        down = false;
        backoff.reset();
        while (!signal.aborted) {
          const batch: JsMsg[] = [];
          for await (const m of await consumer.fetch({ max_messages: COLLECT_LIMITS.batch, expires: COLLECT_LIMITS.fetchExpiresMs })) batch.push(m);
          if (batch.length === 0) continue;
          const retry = await store(batch, files, opts, io);
          for (const m of batch) {
            if (retry.includes(m)) m.nak(COLLECT_LIMITS.refusedRetryMs);
            else m.ack();
          }
          await nc.flush();
        }
      } catch (err) {
        if (signal.aborted) break;
        if (!down) io.err(`paranoid-pipes collect: ${opts.from.label}: ${(err as Error).message}; retrying with backoff\n`);
        down = true;
        await sleep(backoff.take(), signal);
      } finally {
        await nc?.close().catch(() => {});
      }
    }
  } finally {
    for (const f of files.values()) await f.close().catch(() => {});
  }
  return EXIT.ok;
}

async function setUp(nc: NatsConnection, stream: string, opts: CollectOptions) {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(stream);
  } catch {
    await jsm.streams.add({
      name: stream,
      subjects: [opts.from.subject, `${opts.from.subject}.>`],
      storage: StorageType.File,
      duplicate_window: nanos(COLLECT_LIMITS.duplicateWindowMs),
    });
  }
  try {
    await jsm.consumers.info(stream, opts.durable);
  } catch {
    await jsm.consumers.add(stream, { durable_name: opts.durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  }
  return jetstream(nc).consumers.get(stream, opts.durable);
}

/**
 * Appends a batch to the logs its headers name. Returns the messages to give back to the stream
 * (not acknowledged): those of a log refused for safety (a symlink or a hard link where it should
 * be), so one such log holds back neither the other hosts nor its own messages. Any other
 * failure (a full disk, say) throws: nothing of the batch is acknowledged then.
 */
export async function store(batch: readonly JsMsg[], files: Map<string, CollectorFile>, opts: CollectOptions, io: { err: (text: string) => void }): Promise<JsMsg[]> {
  const byFile = new Map<string, Array<{ msg: JsMsg; bytes: Buffer; armored: boolean }>>();
  for (const m of batch) {
    const bytes = Buffer.from(m.data);
    const piece = nextPiece(bytes, 0);
    if (piece === null || piece.kind !== 'message' || nextPiece(bytes, piece.end) !== null) {
      io.err(`paranoid-pipes collect: refused stream message ${m.seq}: not one whole OpenPGP message\n`);
      continue;
    }
    const host = safeName(m.headers?.get(HEADER.host) ?? '', 'unknown-host');
    const log = safeName(m.headers?.get(HEADER.log) ?? '', 'unknown-log');
    const key = join(host, log);
    const list = byFile.get(key) ?? [];
    list.push({ msg: m, bytes: bytes.subarray(piece.offset, piece.end), armored: piece.armored });
    byFile.set(key, list);
  }
  const retry: JsMsg[] = [];
  for (const [key, messages] of byFile) {
    let file = files.get(key);
    if (file === undefined) {
      const [host] = key.split('/');
      mkdirSync(join(opts.dir, host as string), { recursive: true, mode: 0o750 });
      try {
        file = await CollectorFile.open(join(opts.dir, key), opts.mode);
      } catch (err) {
        if (!(err instanceof PipesError) || err.exitCode !== EXIT.refused) throw err;
        io.err(`paranoid-pipes collect: ${err.message}; ${messages.length} message(s) left in the stream, offered again in ${COLLECT_LIMITS.refusedRetryMs / 1000} s\n`);
        retry.push(...messages.map((m) => m.msg));
        continue;
      }
      files.set(key, file);
    }
    await file.append(messages);
  }
  return retry;
}

/** A header value as one path component: what a host sends must not climb out of DIR. */
export function safeName(value: string, fallback: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 128);
  return cleaned === '' ? fallback : cleaned;
}

export function streamNameOf(subject: string): string {
  return subject.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
