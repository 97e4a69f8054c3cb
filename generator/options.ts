/**
 * The option table of `paranoid-pipes encrypter`: one entry per option drives the commander
 * flags, the --help text, the defaults shown, and the options table in the README
 * (`npm run options-table` prints it; a test fails when the README differs).
 *
 * The mapped type makes a missing entry a compile error.
 */
export interface RawEncrypterOptions {
  recipientKey: string[];
  recipient: string[];
  pipe?: string;
  pipeOwner?: string;
  pipeMode?: string;
  output?: string;
  outputOwner?: string;
  outputMode?: string;
  savePath?: string;
  saveOwner?: string;
  saveMode?: string;
  force?: boolean;
  compress?: string;
  quitString?: string;
  header: string[];
  armor?: boolean;
  binary?: boolean;
  runAs?: string;
  logLevel?: string;
  start?: boolean;
  help?: boolean;
}

export interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  /** Shown in help and README; the resolver applies it. */
  readonly defaultText?: string;
  /** May be given more than once; values are collected in order. */
  readonly repeatable?: boolean;
}

export const ENCRYPTER_OPTIONS: { readonly [K in keyof RawEncrypterOptions]-?: OptionSpec } = {
  recipientKey: {
    flags: '--recipient-key <file>',
    description: 'public key file (armored or binary) to encrypt to; secret keys are refused',
    repeatable: true,
  },
  recipient: {
    flags: '--recipient <email>',
    description: 'public key exported from the local GnuPG keyring (gpg --export) by e-mail or fingerprint',
    repeatable: true,
  },
  pipe: { flags: '--pipe <path>', description: 'named pipe the copy creates and reads (required)' },
  pipeOwner: { flags: '--pipe-owner <user:group>', description: 'owner of the pipe; writers get in through the group', defaultText: 'run-as user and group' },
  pipeMode: { flags: '--pipe-mode <octal>', description: 'mode of the pipe: owner read/write, group/other write only', defaultText: '600' },
  output: { flags: '--output <path>', description: 'encrypted log the copy appends to (required)' },
  outputOwner: { flags: '--output-owner <user:group>', description: 'owner of the encrypted log', defaultText: 'run-as user and group' },
  outputMode: { flags: '--output-mode <octal>', description: 'mode of the encrypted log', defaultText: '640' },
  savePath: { flags: '--save-path <path>', description: 'where the generated copy is written (required)' },
  saveOwner: { flags: '--save-owner <user:group>', description: 'owner of the generated copy', defaultText: 'current user' },
  saveMode: { flags: '--save-mode <octal>', description: 'mode of the generated copy; 100 when root starts it', defaultText: '500' },
  force: { flags: '--force', description: 'replace an existing file at --save-path' },
  compress: { flags: '--compress <algo>', description: 'compression inside each message: zlib or none', defaultText: 'zlib' },
  quitString: { flags: '--quit-string <string>', description: 'secret line that stops the copy (at least 8 characters); without it only signals stop it' },
  header: { flags: '--header <line>', description: 'line encrypted as the first block of every run', repeatable: true },
  armor: { flags: '--armor', description: 'write ASCII-armored messages', defaultText: 'on' },
  binary: { flags: '--binary', description: 'write binary messages (smaller) instead of armored' },
  runAs: { flags: '--run-as <user:group>', description: 'user the copy drops to when started as root', defaultText: 'save owner' },
  logLevel: { flags: '--log-level <level>', description: "copy's own diagnostics on stderr: error, warn, info, debug (never logged data)", defaultText: 'info' },
  start: { flags: '--start', description: 'start the copy detached after installing it' },
  help: { flags: '-h, --help', description: 'alone: this help; with other options: dry run that prints what would be baked and writes nothing' },
};

/** An option's description with its default and repeatability: for --help and the README. */
export function describeOption(spec: OptionSpec): string {
  const extra = [spec.repeatable === true ? 'repeatable' : '', spec.defaultText !== undefined ? `default: ${spec.defaultText}` : '']
    .filter(Boolean)
    .join('; ');
  return `${spec.description}${extra ? ` (${extra})` : ''}`;
}

/** The README's options table, generated from the table above. */
export function optionsMarkdownTable(): string {
  const rows = Object.values(ENCRYPTER_OPTIONS).map((spec) => `| \`${spec.flags}\` | ${describeOption(spec).replace(/\|/g, '\\|')} |`);
  return ['| option | meaning |', '| --- | --- |', ...rows].join('\n');
}
