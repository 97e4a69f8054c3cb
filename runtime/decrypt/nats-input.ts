import { DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { PipesError } from '../errors.ts';
import { HEADER, natsConnectOptions, type NatsForward } from '../sinks/forward/nats.ts';
import { FollowStopped } from './follow.ts';
import type { ReadContext } from './read-input.ts';
import type { LogDecrypter } from './reader.ts';
import { nextPiece } from '../format/split.ts';

/** `decrypt --from nats://…/subject`: what to read from the subject's stream. */
export interface NatsInput {
  readonly kind: 'nats';
  readonly from: NatsForward;
  readonly label: string;
  /** Start at the first message the stream stored at or after this time (null: from its start). */
  readonly since: Date | null;
  /** Only messages whose Pp-Host / Pp-Log header is one of these (empty: all). */
  readonly hosts: readonly string[];
  readonly logs: readonly string[];
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Reads the blocks the copies forwarded into a JetStream subject, in the order the stream
 * stored them, through an ordered consumer: ephemeral, nothing left on the server, and it
 * recreates itself at the right sequence when the connection comes back. Without `follow` it
 * reads up to the subject's last message at the start and ends; with `follow` it keeps waiting
 * for new ones until the signal stops it (FollowStopped).
 *
 * Every message is one whole OpenPGP message (the forwarders send nothing else): each is given
 * to the decrypter as a chunk of one live stream, so blocks of several hosts and logs may
 * interleave, as their seals are checked per stream. A message that is not one whole OpenPGP
 * message is reported by its stream sequence and skipped, never spliced onto the next one.
 */
export async function decryptNats(decrypter: LogDecrypter, input: NatsInput, ctx: ReadContext, follow: boolean): Promise<void> {
  if (ctx.signal.aborted) throw new FollowStopped();
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsConnectOptions(input.from),
      name: 'paranoid-pipes decrypt',
      timeout: CONNECT_TIMEOUT_MS,
      // A follow rides out an outage (the client reconnects, the ordered consumer resumes);
      // a one-off read fails instead of hanging.
      reconnect: follow,
      maxReconnectAttempts: -1,
    });
  } catch (err) {
    throw new PipesError('NATS_UNREACHABLE', `--from ${input.label}: cannot connect: ${(err as Error).message}`);
  }
  let messages: ConsumerMessages | null = null;
  const stop = () => void messages?.close().catch(() => {});
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = await jsm.streams.find(input.from.subject).catch(() => {
      throw new PipesError('NATS_NO_STREAM', `--from ${input.label}: no JetStream stream stores subject ${JSON.stringify(input.from.subject)} (collect creates one; or nats stream add)`);
    });
    // Without --follow the read ends at the subject's last message as it is now.
    const last = follow ? null : await jsm.streams.getMessage(stream, { last_by_subj: input.from.subject }).catch(() => null);
    if (!follow && (last === null || (input.since !== null && last.time.getTime() < input.since.getTime()))) return;
    const consumer = await jetstream(nc).consumers.get(stream, {
      // One subject as a string: a list needs nats-server 2.10 (Debian 12 has 2.9).
      filter_subjects: input.from.subject,
      ...(input.since === null ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: input.since.toISOString() }),
    });
    if (ctx.signal.aborted) throw new FollowStopped();
    messages = await consumer.consume();
    const it = messages[Symbol.asyncIterator]();
    let done = false;
    const read = async (): Promise<Buffer | null> => {
      while (!done) {
        const next = await it.next();
        if (ctx.signal.aborted) throw new FollowStopped();
        if (next.done === true) {
          if (follow) throw new PipesError('NATS_CLOSED', `--from ${input.label}: the connection closed`);
          return null;
        }
        const m = next.value;
        if (last !== null && m.seq >= last.seq) done = true;
        const bytes = wanted(m, input) ? wholeMessage(m, decrypter, input.label) : null;
        if (bytes === null) continue;
        ctx.onBytes?.(bytes.length);
        return bytes;
      }
      return null;
    };
    await decrypter.decryptChunks(read, input.label, { live: true });
  } catch (err) {
    if (ctx.signal.aborted) throw new FollowStopped();
    throw err;
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    // Not awaited: close() resolves only once someone iterates past its end, and nobody will.
    void messages?.close().catch(() => {});
    await nc.close().catch(() => {});
  }
}

function wanted(m: JsMsg, input: NatsInput): boolean {
  const host = m.headers?.get(HEADER.host) ?? '';
  const log = m.headers?.get(HEADER.log) ?? '';
  if (input.hosts.length > 0 && !input.hosts.some((h) => h.toLowerCase() === host.toLowerCase())) return false;
  return input.logs.length === 0 || input.logs.includes(log);
}

function wholeMessage(m: JsMsg, decrypter: LogDecrypter, label: string): Buffer | null {
  const bytes = Buffer.from(m.data);
  const piece = nextPiece(bytes, 0);
  if (piece !== null && piece.kind === 'message' && nextPiece(bytes, piece.end) === null) return bytes.subarray(piece.offset, piece.end);
  decrypter.reportProblem({ source: `${label} (stream sequence ${m.seq})`, offset: 0, length: bytes.length, kind: 'garbage', detail: 'not one whole OpenPGP message' });
  return null;
}
