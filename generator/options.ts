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
  sessionKeyWindow?: string;
  runAs?: string;
  logLevel?: string;
  maxBuffer?: string;
  onOverload?: string;
  heartbeat?: string;
  rotateSize?: string;
  rotateCheckEvery?: string;
  rotateInterval?: string;
  rotateActions?: string;
  rotateRecipientKey: string[];
  rotateRecipient: string[];
  archiveDir?: string;
  archiveOwner?: string;
  archiveMode?: string;
  mailTo: string[];
  mailFrom?: string;
  mailTransport?: string;
  systemdUnit?: string;
  serviceBefore: string[];
  unitStartAs?: string;
  initScript?: string;
  forward: string[];
  ignore: string[];
  keep: string[];
  monitor: string[];
  monitorEvery?: string;
  reportEvery?: string;
  watchFile: string[];
  watchFrom?: string;
  consume?: boolean;
  sessionDir?: string;
  sessionProfile?: string;
  start?: boolean;
  config?: string;
  saveConfig?: string;
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
  pipe: { flags: '--pipe <path>', description: 'named pipe the copy creates and reads (required unless --watch-file or --session-dir is given: without it the copy makes no pipe and stops on SIGTERM/SIGINT only)' },
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
  quitString: { flags: '--quit-string <string>', description: 'secret line that, written into the pipe, stops the copy (at least 8 characters; needs --pipe); without it only signals stop it' },
  header: { flags: '--header <line>', description: 'line encrypted as the first block of every run', repeatable: true },
  armor: { flags: '--armor', description: 'write ASCII-armored messages', defaultText: 'on' },
  binary: { flags: '--binary', description: 'write binary messages (smaller) instead of armored' },
  sessionKeyWindow: {
    flags: '--session-key-window <duration>',
    description:
      'reuse one session key and its public-key packets for blocks sealed within this time (at most 6000 blocks; a new key at every rotation, reopen and start), e.g. 60s, 5m; 0: a fresh key per block. Much less CPU under a steady trickle; a snapshot of the copy\'s memory opens the current window\'s blocks (docs/threat-model.md). At most 1h',
    defaultText: '60s',
  },
  runAs: { flags: '--run-as <user:group>', description: 'user the copy drops to when started as root', defaultText: 'save owner' },
  maxBuffer: {
    flags: '--max-buffer <size>',
    description: 'most read-but-not-yet-written log data the copy holds in memory, e.g. 8M; at this size --on-overload applies (2M to 1G)',
    defaultText: '8M',
  },
  onOverload: {
    flags: '--on-overload <policy>',
    description: 'when the buffer is full: block (stop reading: the pipe fills and writers wait) or drop (keep reading, drop whole blocks, record how many lines and bytes in the encrypted log)',
    defaultText: 'block',
  },
  heartbeat: {
    flags: '--heartbeat <duration>',
    description: 'seal a heartbeat block when the pipe was idle this long, e.g. 1m (1s to 1d), so `verify` sees a log that went silent (off when absent)',
  },
  logLevel: { flags: '--log-level <level>', description: "copy's own diagnostics on stderr: error, warn, info, debug (never logged data)", defaultText: 'info' },
  rotateSize: { flags: '--rotate-size <size>', description: 'rotate the log when it reaches this size, e.g. 8M, 512K, 1G (off when absent)' },
  rotateCheckEvery: { flags: '--rotate-check-every <n>', description: 'check the size every n appends', defaultText: '100' },
  rotateInterval: { flags: '--rotate-interval <duration>', description: 'also check on a timer, e.g. 30s, 10m, 1h' },
  rotateActions: {
    flags: '--rotate-actions <list>',
    description: 'comma-separated: compress-encrypt (gzip, encrypt to the rotation key, into --archive-dir), encrypted-email (mail that archive), remove-old (delete the rotated log once the others succeeded)',
    defaultText: 'compress-encrypt,remove-old',
  },
  rotateRecipientKey: { flags: '--rotate-recipient-key <file>', description: 'public key file archives are encrypted to', defaultText: 'the log recipients', repeatable: true },
  rotateRecipient: { flags: '--rotate-recipient <email>', description: 'archive key from the local GnuPG keyring', repeatable: true },
  archiveDir: { flags: '--archive-dir <dir>', description: 'directory for archives (needed by compress-encrypt)' },
  archiveOwner: { flags: '--archive-owner <user:group>', description: 'owner of archive files', defaultText: 'the output owner' },
  archiveMode: { flags: '--archive-mode <octal>', description: 'mode of archive files', defaultText: '640' },
  mailTo: { flags: '--mail-to <address>', description: 'recipient of encrypted-email and --report-every', repeatable: true },
  mailFrom: { flags: '--mail-from <address>', description: 'sender of encrypted-email and --report-every' },
  mailTransport: { flags: '--mail-transport <how>', description: 'sendmail, a sendmail path, or smtp://host:port', defaultText: 'sendmail' },
  systemdUnit: { flags: '--systemd-unit <path>', description: 'also write a locked-down systemd service unit for this copy here (owner root, mode 644; the dry run prints it)' },
  serviceBefore: {
    flags: '--service-before <unit>',
    description: 'unit that writes into the pipe, e.g. nginx.service: it starts after the copy (and requires it once enabled) and stops before it',
    repeatable: true,
  },
  unitStartAs: {
    flags: '--unit-start-as <who>',
    description: 'run-as (systemd starts the copy as --run-as with no privileges; it must be able to read the copy, e.g. --save-owner root:GROUP --save-mode 550) or root (the copy starts as root and drops privileges itself; for --save-mode 100)',
    defaultText: 'run-as',
  },
  initScript: { flags: '--init-script <path>', description: "also write a SysV/LSB init script (Debian's start-stop-daemon) for this copy here (owner root, mode 755; the dry run prints it)" },
  forward: {
    flags: '--forward <url>',
    description:
      'also ship every encrypted block (ciphertext only; the log stays the spool) to ssh://user@host[:port]/path[?identity=FILE&known-hosts=FILE] (runs paranoid-pipes receive there) or nats://host:port/subject[?creds=FILE|nkey=FILE|user-password=FILE] (JetStream; tls://host:port/subject[?ca=FILE] for TLS, the certificate always verified); see docs/forwarding.md',
    repeatable: true,
  },
  ignore: {
    flags: '--ignore <regex>',
    description:
      'drop lines matching this JavaScript regular expression (no flags; any --ignore drops a line, and wins over --keep); dropped lines are counted per pattern in sealed `filtered` records; lines over 8 KiB are kept unmatched; see docs/filters-monitor.md',
    repeatable: true,
  },
  keep: { flags: '--keep <regex>', description: 'keep only lines matching this regular expression; given more than once, a line must match every --keep; the rest are dropped and counted like --ignore', repeatable: true },
  monitor: {
    flags: '--monitor <path>',
    description: 'record the SHA-256, mode and owner of this file, or of every regular file under this directory (symlinks not followed, at most 10000 files), at start and every --monitor-every; each change is an encrypted `monitor` record (decrypt --monitor-report)',
    repeatable: true,
  },
  monitorEvery: { flags: '--monitor-every <duration>', description: 'how often --monitor checks the files, e.g. 10m, 1h (1s to 7d)', defaultText: '1h' },
  reportEvery: {
    flags: '--report-every <duration>',
    description: 'mail an OpenPGP-encrypted summary (lines written and kept, top --ignore/--keep patterns, monitor changes, overload drops, errors) this often, e.g. 1d, to --mail-to from --mail-from via --mail-transport (1m to 30d)',
  },
  watchFile: {
    flags: '--watch-file <path>',
    description:
      'also follow this file like tail -F (by device and inode, across rename, copytruncate, delete and recreate), each as a source of its own in the log; * and ? in the last part match files, re-checked every 5 s; the run-as user must be able to read it; positions in <output>.watch.pos (docs/sources.md)',
    repeatable: true,
  },
  watchFrom: { flags: '--watch-from <where>', description: 'start or end: where a watched file never read before is read from at the first start (files appearing later: from their start)', defaultText: 'end' },
  consume: {
    flags: '--consume',
    description: 'empty each watched file once everything in it is durable in the log; only for writers that append with O_APPEND, and with a small loss window (docs/sources.md); the run-as user must be able to write the file',
  },
  sessionDir: {
    flags: '--session-dir <dir>',
    description:
      'also log login sessions, each through a FIFO of its own that users make in this directory (the copy makes it, its user\'s, mode 3733: nobody lists it or touches another\'s pipe); the user is the pipe\'s owner, never its name; see --session-profile and docs/sources.md',
  },
  sessionProfile: {
    flags: '--session-profile <path>',
    description: 'also write the /etc/profile.d/ snippet (*.sh, mode 644) that runs interactive logins inside script -qf, into a fresh FIFO in --session-dir',
  },
  start: { flags: '--start', description: 'start the copy detached after installing it' },
  config: {
    flags: '--config <file>',
    description: 'read options from a JSON file (keys: the long option names, e.g. "recipient-key"); options on the command line override it',
  },
  saveConfig: {
    flags: '--save-config <file>',
    description: 'write the resolved options to a JSON file for --config (mode 600: it holds the quit string; an existing one only with --force); also written in a dry run',
  },
  help: { flags: '-h, --help', description: 'alone: this help; with other options: dry run that prints what would be baked and writes nothing' },
};

type RepeatableKey = { [K in keyof RawEncrypterOptions]-?: RawEncrypterOptions[K] extends string[] ? K : never }[keyof RawEncrypterOptions];

/** Options as parsed (a repeatable option never given is absent) completed with empty lists. */
export function rawOptions(given: Partial<RawEncrypterOptions>): RawEncrypterOptions {
  const lists = Object.fromEntries(
    Object.entries(ENCRYPTER_OPTIONS)
      .filter(([, spec]) => spec.repeatable === true)
      .map(([key]) => [key, given[key as RepeatableKey] ?? []]),
  ) as Pick<RawEncrypterOptions, RepeatableKey>;
  return { ...given, ...lists };
}

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
