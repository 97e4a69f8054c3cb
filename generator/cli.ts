import { Command, CommanderError, Option } from 'commander';
import { describeFailure, EXIT, usageError } from '../runtime/errors.ts';
import { blameConfig, mergeConfig, readConfigFile } from './config-file.ts';
import { runDecryptCommand, type DecryptIo, type RawDecryptOptions } from './decrypt-command.ts';
import { runVerifyCommand, type VerifyOptions } from './verify-command.ts';
import { addForwardCommands } from './forward-commands.ts';
import type { CommandIo } from './encrypter-command.ts';
import { describeOption, ENCRYPTER_OPTIONS, rawOptions, type RawEncrypterOptions } from './options.ts';
import { describeNotes, migrate, renderCommand, renderConfig } from './migrate.ts';
import { VERSION } from './package-info.ts';
import { readPassphrase, type PassphraseSource } from './passphrase.ts';
import { realSystem } from './system.ts';

export interface CliIo extends CommandIo, DecryptIo {
  readonly stdin: () => Promise<Buffer>;
  readonly writeData: (bytes: Uint8Array) => Promise<void>;
  readonly env: NodeJS.ProcessEnv;
}

const PROGRAM = 'paranoid-pipes';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
// The generator (esbuild, Handlebars), keygen (openpgp.js), the demo and the NATS client are
// loaded by the commands that use them: `decrypt` and `verify` start without them (about 200 ms
// less per run, and openpgp.js's 40-50 ms when the keys and messages are read natively).

/**
 * Builds the CLI. Commands set `result.exitCode`; nothing here calls process.exit, so tests run
 * the whole CLI in-process with their own output functions.
 */
export function createProgram(io: CliIo, result: { exitCode: number }): Command {
  const program = new Command(PROGRAM)
    .description('Encrypt server logs as they are written: a named pipe in, an OpenPGP-encrypted log out.')
    .version(VERSION, '-V, --version')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showSuggestionAfterError(true);

  const encrypter = program
    .command('encrypter')
    .description('generate a self-contained encrypter copy for one log source and install it')
    .helpOption(false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  for (const spec of Object.values(ENCRYPTER_OPTIONS)) {
    const option = new Option(spec.flags, describeOption(spec));
    if (spec.repeatable === true) option.argParser(collect);
    encrypter.addOption(option);
  }
  encrypter.action(async (given: Partial<RawEncrypterOptions>) => {
    const file = given.config === undefined ? null : readConfigFile(given.config, { cwd: process.cwd(), uid: realSystem.uid });
    const raw = rawOptions(mergeConfig(given, file));
    if (raw.help === true && onlyHelpGiven(raw)) {
      io.out(encrypter.helpInformation());
      io.out('\nWith other options, --help is a dry run: it validates them and prints what would be baked.\n');
      return;
    }
    try {
      await (await import('./encrypter-command.ts')).runEncrypterCommand(raw, io);
    } catch (err) {
      throw blameConfig(err, given, file);
    }
  });

  withPassphraseOptions(program.command('decrypt'))
    .description('decrypt encrypted logs, archives and streams (appended messages, torn tails reported) to stdout, a file or a FIFO')
    .argument('[inputs...]', 'encrypted logs, archives (*.gz.gpg), directories (read recursively, in rotation order), FIFOs, or - for standard input (the default)')
    .addOption(keyOption())
    .addOption(archiveKeyOption())
    .option('--gpg', 'let the local GnuPG (keyring, gpg-agent, smartcard) decrypt the session keys instead of --key files')
    .option('--archive-dir <dir>', 'decrypt every archive (*.gz.gpg) in this directory, before its log, in rotation order')
    .option('--output <file>', 'write the log here (created with mode 600; must not exist)')
    .option('--to-pipe <path>', 'write the log into a FIFO made here for another tool, waiting for its reader')
    .option('--to-pipe-mode <mode>', 'mode of the --to-pipe FIFO (600, 640 or 660; default 600)')
    .option('--json', 'one JSON object per line, control record and problem (docs/json-output.md)')
    .addOption(new Option('--grep <regex>', 'only lines matching this JavaScript regular expression (repeatable: any of them)').argParser(collect))
    .addOption(new Option('--ignore <regex>', 'leave out lines matching this regular expression (repeatable)').argParser(collect))
    .option('--since <time>', 'only blocks sealed at or after this time (2026-11-24T02:00, "2026-11-24 02:00Z", 2h for two hours ago)')
    .option('--until <time>', 'only blocks sealed before this time')
    .addOption(new Option('--stream <id>', 'only this stream (its id or the first 4+ hex digits; repeatable)').argParser(collect))
    .addOption(new Option('--host <name>', 'only streams of this host, as their stream-start record names it (repeatable; with --from, also the host a block was forwarded from)').argParser(collect))
    .addOption(new Option('--source <id|path>', 'only this source of the copy: its id (f1, s2), the path of a watched file or session pipe, or "pipe" (repeatable)').argParser(collect))
    .option('-f, --follow', 'keep reading the live log (or -, or the --from subject) as it grows, across rotations, until SIGINT/SIGTERM')
    .option('--from <url>', 'also read the blocks copies forwarded into a NATS JetStream subject: nats://host:port/subject or tls://host:port/subject, with ?creds=FILE, ?nkey=FILE or ?user-password=FILE (and ?ca=FILE for tls://)')
    .addOption(new Option('--log <name>', 'with --from: only the blocks of this log (its file name on the host; repeatable)').argParser(collect))
    .option('--raw', 'on a terminal too, print control characters as they are (escaped there by default)')
    .option('-q, --quiet', 'no progress and no notices on stderr (problems are still reported)')
    .option('--show-control', 'print control records (stream start/end) as JSON on stderr')
    .option('--monitor-report', 'print only the --monitor records: the baseline listing of each stream, then each change and check (with --json: as control objects)')
    .action(async (files: string[], options: RawDecryptOptions) => {
      result.exitCode = await runDecryptCommand(files, options, io);
    });

  withPassphraseOptions(program.command('verify'))
    .description('check the seals of encrypted logs and archives: nothing altered, removed, reordered or forged (writes no log text)')
    .argument('[files...]', 'encrypted logs, archives (*.gz.gpg) and directories (read recursively), put in rotation order as decrypt does')
    .addOption(keyOption())
    .addOption(archiveKeyOption())
    .option('--archive-dir <dir>', 'verify every archive (*.gz.gpg) in this directory, before the logs, in rotation order')
    .option('--json', 'print the result as one JSON document (see docs/verify.md)')
    .option('--live', 'the last log is still being written: report its open tail as such, not as a finding')
    .addOption(new Option('--anchor <stream:seq:digest>', 'an anchor from rotation mail: the log must still hold that block (repeatable)').argParser(collect))
    .action(async (files: string[], options: VerifyOptions) => {
      result.exitCode = await runVerifyCommand(files, options, io);
    });

  withPassphraseOptions(program.command('keygen'))
    .description('make a GnuPG-compatible key pair: a public key to bake, a passphrase-protected secret key to keep elsewhere')
    .requiredOption('--email <address>', 'e-mail address of the key')
    .requiredOption('--out-dir <dir>', 'directory for <email>.pub.asc and <email>.sec.asc (created with mode 700 when missing)')
    .option('--name <name>', 'name in the user id')
    .action(async (options: PassphraseSource & { email: string; outDir: string; name?: string }) => {
      const { generateKeyPair, prepareKeyDir, writeKeyPair } = await import('./keygen.ts');
      await prepareKeyDir(options.outDir); // before asking for a passphrase that could not be used
      const passphrase = await readPassphrase(options, 'Passphrase for the new secret key: ', io.env);
      if (passphrase === null) throw usageError('PASSPHRASE_NEEDED', 'give --passphrase-file, --passphrase-fd or --passphrase-env, or run on a terminal');
      const pair = await generateKeyPair(options.email, options.name, passphrase);
      const paths = await writeKeyPair(options.outDir, options.email, pair);
      io.out(`key ${pair.fingerprint}\npublic key (bake this): ${paths.publicPath}\nsecret key (move it off this host): ${paths.secretPath}\n`);
    });

  program
    .command('migrate')
    .description('print the paranoid-pipes encrypter command (or, with --json, the config file) for a Paranoid_Pipes command line, option by option')
    .argument('[old-options...]', 'the Paranoid_Pipes options (--name=value), after --')
    .usage('[--json] -- <Paranoid_Pipes options...>')
    .option('--json', 'print a config file for --config instead of a command (the notes go to stderr)')
    .showHelpAfterError('(put the Paranoid_Pipes options after --: paranoid-pipes migrate [--json] -- --enc-pipe-file=PATH ...)')
    .action((ppArgs: string[], options: { json?: boolean }) => {
      const migration = migrate(ppArgs);
      const { table, attention } = describeNotes(migration);
      if (options.json === true) {
        const { json, dropped } = renderConfig(migration);
        io.out(json);
        const secret = migration.settings.some(([option]) => option === 'quit-string') ? '  the config holds the quit string: --config reads it only when group and others cannot (chmod 600)\n' : '';
        io.err(`paranoid-pipes migrate: each Paranoid_Pipes option and what it became:\n${table}${dropped.map((d) => `  ${d}\n`).join('')}${secret}`);
      } else {
        io.out(renderCommand(migration));
      }
      if (attention !== null) io.err(`paranoid-pipes migrate: ${attention}\n`);
    });

  program
    .command('demo')
    .description('run the whole flow once in a temp dir with a throwaway key, and show the result')
    .option('--keep', 'keep the temp dir to look at afterwards')
    .action(async (options: { keep?: boolean }) => {
      result.exitCode = await (await import('./demo.ts')).runDemo(io, options.keep === true);
    });

  addForwardCommands(program, io, result);

  return program;
}

function onlyHelpGiven(raw: RawEncrypterOptions): boolean {
  return Object.entries(raw).every(([key, value]) => key === 'help' || value === undefined || (Array.isArray(value) && value.length === 0));
}

/** Where the passphrase of a secret key comes from, for every command that opens one (never argv). */
function withPassphraseOptions(command: Command): Command {
  return command
    .option('--passphrase-file <file>', 'read the passphrase from the first line of a file')
    .option('--passphrase-fd <n>', 'read the passphrase from a file descriptor')
    .option('--passphrase-env <var>', 'read the passphrase from an environment variable (give its name)');
}

/** The secret keys that open a log and its archives: decrypt and verify take the same two. */
const keyOption = () => new Option('--key <file>', 'armored secret key of the log (repeatable)').argParser(collect).default([]);
const archiveKeyOption = () => new Option('--archive-key <file>', 'armored secret key of the archives, if not the log key (repeatable)').argParser(collect);

/** The one exit boundary of the CLI. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const result = { exitCode: EXIT.ok as number };
  const program = createProgram(io, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage; // commander already printed its message
    }
    const { text, exitCode } = describeFailure(err, PROGRAM);
    io.err(`${text}\n`);
    return exitCode;
  }
}
