/**
 * The options baked into a generated encrypter copy. The generator resolves and validates
 * everything into this shape once; the copy trusts it and reads nothing else (no config file,
 * no environment, no options).
 */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
  /** How the admin named it, e.g. "www-data:adm", for messages and --help. */
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
}

export interface BakedPath {
  readonly path: string;
  readonly owner: Owner;
  readonly mode: number;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface BakedOptions {
  readonly format: 1;
  readonly copyVersion: string;
  readonly generatedAt: string;
  readonly recipients: readonly BakedRecipient[];
  readonly pipe: BakedPath;
  readonly output: BakedPath;
  readonly runAs: RunAs;
  readonly compress: 'zlib' | 'none';
  readonly armor: boolean;
  /** Secret: a line equal to it stops the copy. Redacted in every printout. */
  readonly quitString: string | null;
  readonly header: readonly string[];
  readonly logLevel: LogLevel;
}
