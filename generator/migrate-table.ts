import { formatSize } from './save-config.ts';

/**
 * What each Paranoid_Pipes option becomes in `paranoid-pipes encrypter`. Paranoid_Pipes (a Bash
 * script) took `--name=value` options; its encrypting side saved a customised copy of itself
 * that read a named pipe and appended gpg-encrypted blocks to a log, and its decrypting side ran
 * on whichever host held the secret key. Only the encrypting side carries over: decryption
 * belongs on the admin's machine (`paranoid-pipes decrypt`).
 */
export type Setting = readonly [option: string, value: string | true];

export type Outcome =
  /** Carried over as these encrypter options. */
  | { readonly kind: 'mapped'; readonly set: readonly Setting[]; readonly note: string }
  /** Nothing to carry: paranoid-pipes always does this, or the value asks for nothing. */
  | { readonly kind: 'implied'; readonly note: string }
  /** No equivalent (yet): reported, so nothing is dropped silently. */
  | { readonly kind: 'not-carried'; readonly note: string }
  /** Must not carry over (a secret or plaintext on the host): the migration fails (exit 3). */
  | { readonly kind: 'refused'; readonly code: string; readonly note: string };

/** The other Paranoid_Pipes options of the same command line, for rules that depend on them. */
export interface Given {
  one(name: string): string | undefined;
  yes(name: string): boolean;
}

export interface Rule {
  /** `yn` options take yes/no; `flag` options take no value. */
  readonly takes: 'value' | 'yn' | 'flag';
  /** May appear more than once (each occurrence converts on its own). */
  readonly repeatable?: boolean;
  readonly convert: (value: string, given: Given) => Outcome;
}

export class BadValue extends Error {}

const mapped = (note: string, ...set: Setting[]): Outcome => ({ kind: 'mapped', set, note });
const implied = (note: string): Outcome => ({ kind: 'implied', note });
const notCarried = (note: string): Outcome => ({ kind: 'not-carried', note });
const refused = (code: string, note: string): Outcome => ({ kind: 'refused', code, note });
const yes = (v: string) => v === 'yes';

export const ROTATE_ACTIONS_PP = ['compress-encrypt', 'encrypted-email', 'remove-old'] as const;
export const ROTATE_YN = '--enc-parsing-output-rotate-yn';
const ROTATE_OFF = `rotation is off (${ROTATE_YN} is not yes), so Paranoid_Pipes ignored it too`;

/** Rotation options only mean something when rotation is on; otherwise they are reported. */
const whenRotating = (convert: Rule['convert']): Rule['convert'] => (value, given) => (given.yes(ROTATE_YN) ? convert(value, given) : notCarried(ROTATE_OFF));

function octalMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new BadValue(`must be an octal mode like 420, got ${JSON.stringify(value)}`);
  return Number.parseInt(value, 8);
}

const decryptRefusal = (what: string): Outcome =>
  refused(
    'DECRYPT_ON_HOST',
    `${what}: decryption does not belong on the logging host (its secret key and the plaintext would be there); decrypt on the admin's machine with: paranoid-pipes decrypt --key KEY.sec.asc --passphrase-file FILE LOG`,
  );
const decryptSide = (what: string): Rule => ({ takes: 'value', convert: () => decryptRefusal(what) });

export const PP_RULES: Readonly<Record<string, Rule>> = {
  '--enc-copy-save-yn': {
    takes: 'yn',
    convert: (v) =>
      yes(v)
        ? implied('paranoid-pipes always writes a copy')
        : notCarried('Paranoid_Pipes would run its loop without saving a copy; paranoid-pipes always generates a copy, and the command below writes one'),
  },
  '--enc-copy-save-path': {
    takes: 'value',
    convert: (v) => {
      if (v.endsWith('.mjs')) return mapped('where the generated copy is written', ['save-path', v]);
      const renamed = `${v.replace(/\.[^/.]*$/, '')}.mjs`;
      return mapped(`where the generated copy is written, renamed to ${JSON.stringify(renamed)}: the copy is a Node.js ES module, which node runs only under a .mjs name; update whatever started the old path`, ['save-path', renamed]);
    },
  },
  '--enc-copy-save-ownership': {
    takes: 'value',
    convert: (v) =>
      mapped(
        'the user the copy runs as becomes --run-as; the copy file itself belongs to root, which starts it: the user that reads untrusted log lines must not be able to rewrite a program root runs',
        ['run-as', v],
        ['save-owner', 'root:root'],
      ),
  },
  '--enc-copy-save-permissions': {
    takes: 'value',
    convert: (v) => {
      const mode = octalMode(v).toString(8).padStart(3, '0');
      return mapped(`mode of the copy file (octal); root owns it and starts it (so even execute-only 100 works), and it drops to --run-as`, ['save-mode', mode]);
    },
  },
  '--debug-level': { takes: 'value', convert: () => notCarried('verbosity (and prompts) of the Paranoid_Pipes main script; the generator prints everything it bakes, and --help shows it without writing anything') },
  '--log-level': {
    takes: 'value',
    convert: (v) =>
      v === '0'
        ? mapped("Paranoid_Pipes wrote no log of its own at 0; the copy never writes its diagnostics to a file (stderr only, never logged data), and 'error' keeps them to failures", ['log-level', 'error'])
        : notCarried(`Paranoid_Pipes level ${JSON.stringify(v)} logged its own messages to a file on the host; the copy's diagnostics go to stderr only (--log-level error|warn|info|debug, default info)`),
  },
  '--enc-parsing-quit-string': {
    takes: 'value',
    convert: (v) => mapped('a whole line equal to it stops the copy; it is a secret and has been in shell history and init scripts: consider a fresh one (openssl rand -hex 16)', ['quit-string', v]),
  },
  '--enc-pipe-file': { takes: 'value', convert: (v) => mapped('the named pipe the copy creates and reads', ['pipe', v]) },
  '--enc-pipe-ownership': { takes: 'value', convert: (v) => mapped('owner (the copy) and group (the writers) of the pipe', ['pipe-owner', v]) },
  '--enc-pipe-permissions': {
    takes: 'value',
    convert: (v) => {
      const mode = octalMode(v);
      const withWrite = (mode | 0o200).toString(8).padStart(3, '0');
      return withWrite === v.replace(/^0/, '')
        ? mapped('mode of the pipe (octal)', ['pipe-mode', withWrite])
        : mapped(
            `${v} becomes ${withWrite}: the copy opens its pipe for reading and writing (so it never sees end-of-file between writers) and, after dropping to its user, must be able to open a pipe it puts back; the write bit is for the copy's own user only`,
            ['pipe-mode', withWrite],
          );
    },
  },
  '--enc-parsing-output-file': { takes: 'value', convert: (v) => mapped('the encrypted log the copy appends to', ['output', v]) },
  '--enc-parsing-recipient': {
    takes: 'value',
    repeatable: true,
    convert: (v) => mapped("public key from root's GnuPG keyring (gpg --export) at generation; --recipient-key FILE bakes a key file instead", ['recipient', v]),
  },
  '--enc-parsing-save-output-yn': {
    takes: 'yn',
    convert: (v) => (yes(v) ? implied('paranoid-pipes always appends to the encrypted log') : notCarried('paranoid-pipes always appends to --output; it has no mode that only prints')),
  },
  [ROTATE_YN]: {
    takes: 'yn',
    convert: (v) => (yes(v) ? implied('rotation is on when a size (--rotate-size) or a timer is given') : implied('rotation stays off')),
  },
  '--enc-parsing-output-max-size': {
    takes: 'value',
    convert: whenRotating((v) => {
      if (!/^[1-9][0-9]*$/.test(v)) throw new BadValue(`must be a size in bytes, got ${JSON.stringify(v)}`);
      return mapped(`rotate when the log reaches ${v} bytes`, ['rotate-size', formatSize(Number(v))]);
    }),
  },
  '--enc-output-rotate-check-requency': { takes: 'value', convert: whenRotating((v) => mapped('check the size every this many appends', ['rotate-check-every', v])) },
  '--enc-parsing-output-check-frequency': { takes: 'value', convert: whenRotating((v) => mapped('check the size every this many appends', ['rotate-check-every', v])) },
  '--enc-parsing-output-rotate-actions': {
    takes: 'value',
    convert: whenRotating((v) => {
      const unknown = v.split(',').filter((a) => !(ROTATE_ACTIONS_PP as readonly string[]).includes(a.trim()));
      if (unknown.length > 0) throw new BadValue(`unknown action ${JSON.stringify(unknown[0])}; known: ${ROTATE_ACTIONS_PP.join(', ')}`);
      const what: Record<string, string> = {
        'compress-encrypt': 'gzipped and encrypted into an archive',
        'encrypted-email': 'the archive mailed as an attachment',
        'remove-old': 'the rotated log removed once the others succeeded',
      };
      return mapped(`same actions, in this order: ${v.split(',').map((a) => what[a.trim()]).join('; ')}`, ['rotate-actions', v]);
    }),
  },
  '--enc-parsing-output-rotate-recipient': {
    takes: 'value',
    repeatable: true,
    convert: whenRotating((v, given) => {
      const mail = (given.one('--enc-parsing-output-rotate-actions') ?? '').includes('encrypted-email');
      return mail
        ? mapped("archives are encrypted to this key (from root's GnuPG keyring) and mailed to this address", ['rotate-recipient', v], ['mail-to', v])
        : mapped("archives are encrypted to this key (from root's GnuPG keyring)", ['rotate-recipient', v]);
    }),
  },
  '--enc-parsing-disown-yn': {
    takes: 'yn',
    convert: (v) => (yes(v) ? mapped('start the copy detached once installed; a service manager (systemd, an init script) is the better owner of a long-running copy', ['start', true]) : implied('the copy is not started')),
  },
  '--help': { takes: 'flag', convert: () => mapped('a dry run: validates and prints what would be baked, writes nothing; remove it to install', ['help', true]) },
  '--enc-parsing-bulk-out-dir': {
    takes: 'value',
    convert: () =>
      refused(
        'BULK_ENCRYPTION',
        'path-triggered bulk encryption: a file path written into the pipe made the encrypter read that file and encrypt it; whoever can write the pipe (the logged service) could make it read any file it can, and the plaintext files sit on the host until then. paranoid-pipes encrypts only what is written into its pipe',
      ),
  },
  '--dec-yn': {
    takes: 'yn',
    convert: (v) => (yes(v) ? decryptRefusal('--dec-yn=yes') : implied('no decryption on this host')),
  },
  '--dec-pass': {
    takes: 'value',
    convert: () =>
      refused(
        'PASSPHRASE_BAKED',
        "a passphrase baked into a decrypter on the logging host: with the secret key beside it, whoever takes the host reads every log. paranoid-pipes decrypt runs on the admin's machine and never takes a passphrase on the command line (--passphrase-file, --passphrase-fd, --passphrase-env, or a prompt)",
      ),
  },
  '--dec-parsing-output-file': decryptSide('--dec-parsing-output-file (plaintext written on the host)'),
  '--dec-parsing-bulk-out-dir': decryptSide('--dec-parsing-bulk-out-dir (plaintext files written on the host)'),
  '--dec-parsing-save-output-yn': decryptSide('--dec-parsing-save-output-yn'),
  '--dec-parsing-disown-yn': decryptSide('--dec-parsing-disown-yn'),
  '--dec-bulk-check-sleep': decryptSide('--dec-bulk-check-sleep'),
  '--dec-bulk-check-count-max': decryptSide('--dec-bulk-check-count-max'),
};
