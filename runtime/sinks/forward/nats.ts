import { readFileSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { connect, credsAuthenticator, headers, nkeyAuthenticator, usernamePasswordAuthenticator, type Authenticator, type ConnectionOptions } from '@nats-io/transport-node';
import type { BakedForward, NatsCredentials } from '../../baked.ts';
import { messageId } from './message-id.ts';
import type { SpoolMessage } from './spool-reader.ts';
import type { Connection, Transport } from './transport.ts';

export type NatsForward = Extract<BakedForward, { kind: 'nats' }>;

/**
 * NATS JetStream: every message is published to the subject with `Nats-Msg-Id` = its SHA-256
 * (the stream drops a repeat within its duplicate window) and headers naming the host and the
 * log, so a collector can keep one file per host and log. A batch counts as shipped when the
 * stream acknowledged every message of it (stored, or a duplicate it already had).
 * The client's own reconnect is off: the forwarder reconnects with its own backoff and resends
 * from its saved position, which is the one place that knows what is confirmed.
 */
export const NATS_LIMITS = {
  connectTimeoutMs: 10_000,
  /** Per publish: no acknowledgement within this long counts as a failed batch. */
  publishTimeoutMs: 15_000,
  /** Pings notice a dead link while idle. */
  pingIntervalMs: 15_000,
  maxPingOut: 3,
} as const;

export const HEADER = { host: 'Pp-Host', log: 'Pp-Log', armored: 'Pp-Armored' } as const;

export interface Origin {
  readonly host: string;
  /** The log's file name on the host (not its path). */
  readonly log: string;
}

export function natsAuthenticator(credentials: NatsCredentials | null): Authenticator | undefined {
  if (credentials === null) return undefined;
  const bytes = readFileSync(credentials.file);
  switch (credentials.kind) {
    case 'creds':
      return credsAuthenticator(new Uint8Array(bytes));
    case 'nkey':
      return nkeyAuthenticator(new TextEncoder().encode(bytes.toString('utf8').trim()));
    case 'user-password': {
      const [user, pass] = bytes.toString('utf8').split(/\r?\n/);
      if (user === undefined || user === '' || pass === undefined) throw new Error(`${credentials.file} must hold two lines: the user name, then the password`);
      return usernamePasswordAuthenticator(user, pass);
    }
  }
}

/**
 * Where and how to connect, the same for a copy's forwarder, `collect` and `decrypt --from`:
 * the servers, TLS (tls://, the server's certificate always verified: against ?ca=FILE when
 * given, else the system's CAs) and the credentials file read now.
 */
export function natsConnectOptions(f: NatsForward): Pick<ConnectionOptions, 'servers' | 'tls' | 'authenticator'> {
  return {
    servers: [...f.servers],
    ...(f.tls ? { tls: f.ca === null ? {} : { caFile: f.ca } } : {}),
    authenticator: natsAuthenticator(f.credentials),
  };
}

export function natsTransport(f: NatsForward, origin: Origin): Transport {
  return {
    label: f.label,
    async connect(): Promise<Connection> {
      const nc = await connect({
        ...natsConnectOptions(f),
        name: `paranoid-pipes ${origin.host} ${origin.log}`,
        reconnect: false,
        timeout: NATS_LIMITS.connectTimeoutMs,
        pingInterval: NATS_LIMITS.pingIntervalMs,
        maxPingOut: NATS_LIMITS.maxPingOut,
      });
      const js = jetstream(nc, { timeout: NATS_LIMITS.publishTimeoutMs });
      const closed = nc.closed().then((err) => {
        if (err) throw err;
        throw new Error('connection closed');
      });
      closed.catch(() => {});
      return {
        closed,
        async send(messages: readonly SpoolMessage[]) {
          const max = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
          const acks = messages.map((m) => {
            if (m.bytes.length > max) {
              throw new Error(`a ${m.bytes.length}-byte message is over the server's max_payload (${max}); raise max_payload on the NATS server`);
            }
            const h = headers();
            h.set(HEADER.host, origin.host);
            h.set(HEADER.log, origin.log);
            h.set(HEADER.armored, m.armored ? '1' : '0');
            return js.publish(f.subject, m.bytes, { msgID: messageId(m.bytes), headers: h });
          });
          await Promise.all(acks);
        },
        async close() {
          await nc.close().catch(() => {});
        },
      };
    },
  };
}
