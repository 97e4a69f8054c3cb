import { accessSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import type { BakedForward, BakedOptions } from '../../baked.ts';
import { errnoCode, refusal } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { Forwarder } from './forwarder.ts';
import type { Origin } from './nats.ts';
import { positionPath } from './position.ts';
import { sshTransport } from './ssh.ts';
import type { Transport } from './transport.ts';

/** At stop, forwarders get this long to ship what is left; the rest goes at the next start. */
export const FORWARD_STOP_WAIT_MS = 5000;
/** How often rotation looks whether every forwarder is past an aside file. */
const HOLD_POLL_MS = 500;

/** Every --forward of a running copy. */
export class Forwarding {
  private stopped = false;

  constructor(readonly forwarders: readonly Forwarder[]) {}

  start(): void {
    for (const f of this.forwarders) f.start();
  }

  /** The writer appended a batch. */
  notify(): void {
    for (const f of this.forwarders) f.notify();
  }

  /**
   * Resolves once every forwarder has shipped `aside`, so rotation may remove or rename it;
   * rejects when forwarding stops first (the aside file stays for the next start).
   */
  async holdAside(aside: string): Promise<void> {
    for (;;) {
      if (this.stopped) throw new Error(`${aside} is not forwarded yet; it stays for the next start`);
      const done = await Promise.all(this.forwarders.map((f) => f.doneWith(aside)));
      if (done.every(Boolean)) return;
      await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS).unref());
    }
  }

  async stop(waitMs: number = FORWARD_STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    await Promise.all(this.forwarders.map((f) => f.stop(waitMs)));
  }
}

export function transportFor(f: BakedForward, origin: Origin): Transport {
  if (f.kind === 'ssh') return sshTransport(f);
  // The NATS client is loaded on first connect: a copy that forwards over ssh or not at all
  // never runs its module code.
  return {
    label: f.label,
    connect: async () => (await import('./nats.ts')).natsTransport(f, origin).connect(),
  };
}

/** null when the copy forwards nowhere. Call after the privilege drop: positions are the run-as user's. */
export function createForwarding(baked: BakedOptions, log: Logger, record: (event: string, detail: string) => void): Forwarding | null {
  const forward = baked.forward ?? [];
  if (forward.length === 0) return null;
  const { output } = baked;
  const origin: Origin = { host: hostname(), log: basename(output.path) };
  return new Forwarding(
    forward.map(
      (f) =>
        new Forwarder({
          transport: transportFor(f, origin),
          logPath: output.path,
          // Keyed by the destination, not the key or credentials file: changing those keeps the position.
          positionFile: positionPath(output.path, f.label.split('?')[0] as string),
          fileLike: { mode: output.mode, uid: output.owner.uid, gid: output.owner.gid },
          log,
          record,
        }),
    ),
  );
}

/**
 * Forwarders save their positions beside the log, as the run-as user: found out at start, not
 * at the first confirmed batch.
 */
export function assertForwardDirWritable(baked: BakedOptions): void {
  if ((baked.forward ?? []).length === 0) return;
  const dir = dirname(baked.output.path);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw refusal(
      'FORWARD_DIR_ACCESS',
      `forwarding keeps its positions in ${JSON.stringify(dir)}, where ${baked.runAs.label} cannot create files (${errnoCode(err) ?? String(err)}); give that user write access to it`,
    );
  }
}
