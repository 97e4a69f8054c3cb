/**
 * The options baked into a generated encrypter copy. The generator resolves and validates
 * everything into this shape once; the copy trusts it and reads nothing else (no config file,
 * no environment, no options).
 */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
  /**
   * `user:group` by name as resolved at generation (ids where the host has no name), e.g.
   * "www-data:adm", for messages and --help: the copy never looks names up.
   */
  readonly label: string;
}

export interface RunAs extends Owner {
  /** Supplementary groups of the run-as user, resolved at generation. */
  readonly groups: readonly number[];
}

export interface BakedRecipient {
  readonly fingerprint: string;
  readonly userIds: readonly string[];
  /** Armored public key only; the generator refuses secret keys. */
  readonly armoredKey: string;
  /** Absent (a copy baked by hand in tests): the copy reads the armored key with openpgp.js. */
  readonly sealing?: BakedSealing;
}

/**
 * What the copy needs to seal blocks to a recipient without loading openpgp.js (whose code and
 * objects were a quarter of an idle copy's memory), worked out by the generator with openpgp.js
 * when it checks the key (signatures, revocation, expiry: runtime/seal/recipient-keys.ts).
 */
export interface BakedSealing {
  /**
   * The body (hex) of the public key packet the blocks' session keys are encrypted to: the
   * encryption subkey openpgp.js picks at generation, or a primary key that encrypts. The copy
   * checks that the armored key holds it.
   */
  readonly keyPacket: string;
  /** The later creation of the key and that subkey, ISO 8601. */
  readonly validFrom: string;
  /** The earlier expiry of the key and that subkey, ISO 8601; null: neither expires. */
  readonly validUntil: string | null;
  /** The key's primary user lists ZLIB among its preferred compression algorithms (RFC 4880 5.2.3.9). */
  readonly zlib: boolean;
}

export interface BakedPath {
  readonly path: string;
  readonly owner: Owner;
  readonly mode: number;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const ROTATE_ACTIONS = ['compress-encrypt', 'encrypted-email', 'remove-old'] as const;
export type RotateAction = (typeof ROTATE_ACTIONS)[number];

export type MailTransport = { readonly kind: 'sendmail'; readonly path: string } | { readonly kind: 'smtp'; readonly url: string };

export interface BakedMail {
  readonly to: readonly string[];
  readonly from: string;
  readonly transport: MailTransport;
}

export interface BakedRotation {
  /** Rotate when the log is at least this big at a check; null: never by size. */
  readonly maxBytes: number | null;
  /** Check the size every this many appended batches. */
  readonly checkEvery: number;
  /** Also check on this timer; null: no timer. */
  readonly intervalMs: number | null;
  readonly actions: readonly RotateAction[];
  /** Archives are encrypted to these (the rotation key; by default the log recipients). */
  readonly recipients: readonly BakedRecipient[];
  readonly archive: BakedPath | null;
  readonly mail: BakedMail | null;
}

export const OVERLOAD_POLICIES = ['block', 'drop'] as const;

/** What the copy does when writers are faster than encryption. */
export interface BakedOverload {
  /** Read-but-not-yet-written data held in memory at most (plus one read chunk). */
  readonly maxBufferBytes: number;
  /** block: stop reading, writers wait; drop: keep reading, drop whole blocks and count them. */
  readonly policy: (typeof OVERLOAD_POLICIES)[number];
}

export interface BakedOptions {
  readonly format: 1;
  readonly copyVersion: string;
  readonly generatedAt: string;
  readonly recipients: readonly BakedRecipient[];
  /**
   * The named pipe the copy creates and reads; null: a copy that only follows --watch-file or
   * --session-dir (no FIFO, no quit string: it stops on SIGTERM/SIGINT).
   */
  readonly pipe: BakedPath | null;
  readonly output: BakedPath;
  readonly runAs: RunAs;
  readonly compress: 'zlib' | 'none';
  readonly armor: boolean;
  /** How long one session key (and its public-key packets) seals blocks; 0: a fresh key per block. */
  readonly sessionKeyWindowMs: number;
  /** Secret: a line equal to it (in the pipe) stops the copy; always null without a pipe. Redacted in every printout. */
  readonly quitString: string | null;
  readonly header: readonly string[];
  readonly logLevel: LogLevel;
  readonly overload: BakedOverload;
  /** A sealed heartbeat block after this long without a block; null: off. */
  readonly heartbeatMs: number | null;
  readonly rotation: BakedRotation | null;
  /**
   * Owner the copy was installed with. At start the copy refuses to run when its own file or a
   * directory above it belongs to anyone but root or this owner, or is group/other writable.
   */
  readonly saveOwner: Owner;
  /** --watch-file and its options: absent when no file is watched (copies bake what they did before). */
  readonly watch?: BakedWatch;
  /** --session-dir: absent when sessions are not logged. */
  readonly session?: BakedSession;
  /** --forward: absent in copies generated before forwarding existed. */
  readonly forward?: readonly BakedForward[];
  /** --ignore / --keep: absent when no filter is set (the copy then looks at no line). */
  readonly filters?: BakedFilters;
  /** --monitor: files whose SHA-256 the copy checks; absent when off. */
  readonly monitor?: BakedMonitor;
  /** --report-every: an encrypted summary mail; absent when off. */
  readonly report?: BakedReport;
}

/** Line filters (docs/filters-monitor.md): a line goes when it matches any ignore, or misses a keep. */
export interface BakedFilters {
  /** JavaScript regular expressions, no flags, validated at generation. */
  readonly ignore: readonly string[];
  readonly keep: readonly string[];
}

export interface BakedMonitor {
  /** Absolute paths: files, or directories walked recursively (symlinks are not followed). */
  readonly paths: readonly string[];
  readonly everyMs: number;
}

export interface BakedReport {
  readonly everyMs: number;
  readonly mail: BakedMail;
}

/** Login sessions the copy logs, each through a pipe of its own (runtime/sources/session-dir.ts). */
export interface BakedSession {
  /** Made (or checked) by the copy, owned by the run-as user, mode 3733. */
  readonly dir: string;
}

/** Files the copy follows besides its pipe (runtime/sources/file-watch.ts). */
export interface BakedWatch {
  /** Absolute paths; `*` and `?` in the last part are expanded at start and every few seconds. */
  readonly files: readonly string[];
  /** Where a file never seen before is read from at the first start. */
  readonly from: 'start' | 'end';
  /** Empty each file once everything in it is durable (writers appending with O_APPEND only). */
  readonly consume: boolean;
}

/**
 * Where a copy ships its encrypted blocks besides the local log (--forward). Only ciphertext
 * leaves the host; the local log stays the durable spool. No secret is baked: an ssh identity
 * or NATS credentials are named by path and read when connecting.
 */
export type BakedForward =
  | {
      readonly kind: 'ssh';
      /** The URL as given, for messages and --help. */
      readonly label: string;
      readonly user: string;
      readonly host: string;
      readonly port: number;
      /** Path given to the receiver (a forced command on the collector may override it). */
      readonly path: string;
      readonly identity: string | null;
      readonly knownHosts: string | null;
    }
  | {
      readonly kind: 'nats';
      readonly label: string;
      /** host:port, one or more (a cluster). */
      readonly servers: readonly string[];
      readonly tls: boolean;
      /** tls:// only: the CA file that signed the server's certificate (else the system CAs). */
      readonly ca: string | null;
      readonly subject: string;
      readonly credentials: NatsCredentials | null;
    };

export type NatsCredentials =
  | { readonly kind: 'creds'; readonly file: string }
  | { readonly kind: 'nkey'; readonly file: string }
  /** A file of two lines: the user name, then the password. */
  | { readonly kind: 'user-password'; readonly file: string };
