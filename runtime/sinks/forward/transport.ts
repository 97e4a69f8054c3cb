import type { SpoolMessage } from './spool-reader.ts';

/**
 * What a forwarder needs from a transport (ssh push, NATS JetStream, another engine later):
 * connect, send a batch of whole encrypted messages in order, and say when the far side has
 * stored every one of them. A batch that fails is sent again, whole, after a reconnect: the
 * far side must drop a message it already has (by the SHA-256 of its bytes, `messageId`).
 */
export interface Transport {
  /** For messages: the URL as given (no secret is ever in it). */
  readonly label: string;
  connect(): Promise<Connection>;
}

export interface Connection {
  /** Resolves once the far side has stored (or already had) every message of the batch. */
  send(messages: readonly SpoolMessage[]): Promise<void>;
  /** Resolves or rejects when the link breaks on its own (a dead connection is noticed idle too). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}
