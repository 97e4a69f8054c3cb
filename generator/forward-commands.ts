import type { Command } from 'commander';
import { EXIT, usageError } from '../runtime/errors.ts';
import { resolveForward } from './forward-options.ts';
import type { CliIo } from './cli.ts';

const MODE = /^0?[0-7]{3}$/;

function parseMode(option: string, value: string): number {
  const mode = MODE.test(value) ? Number.parseInt(value, 8) : Number.NaN;
  if (Number.isNaN(mode) || (mode & 0o022) !== 0 || (mode & 0o200) === 0) {
    throw usageError('BAD_MODE', `${option} must be an octal mode the owner can write and nobody else can, like 640, got ${JSON.stringify(value)}`);
  }
  return mode;
}

/** The collecting side of --forward: `receive` (ssh push) and `collect` (NATS JetStream). */
export function addForwardCommands(program: Command, io: CliIo, result: { exitCode: number }): void {
  program
    .command('receive')
    .description("the collector's end of ssh push (--forward ssh://...): append whole encrypted messages from stdin to a log, answering what is stored; run it as the forced command of the sending host's key")
    .requiredOption('--output <path>', 'encrypted log to append to (created when missing)')
    .option('--mode <octal>', 'mode of a log it creates', '640')
    .action(async (options: { output: string; mode: string }) => {
      const { receive } = await import('../runtime/receive/receive.ts'); // not loaded for the other commands
      const r = await receive(options.output, parseMode('--mode', options.mode), {
        stdin: io.stdinStream?.() ?? process.stdin,
        out: io.out,
        err: io.err,
      });
      result.exitCode = r.refusedBytes + r.tornBytes > 0 ? EXIT.failed : EXIT.ok;
    });

  program
    .command('collect')
    .description('read the encrypted blocks that copies forward into a NATS JetStream subject and keep one encrypted log per host and log, verbatim, in a directory (runs until SIGTERM)')
    .requiredOption('--from <url>', 'nats://host:port/subject or tls://host:port/subject[?ca=FILE], with ?creds=FILE, ?nkey=FILE or ?user-password=FILE')
    .requiredOption('--dir <dir>', 'directory for the logs: DIR/HOST/LOG')
    .option('--stream <name>', 'JetStream stream (created, capturing SUBJECT and SUBJECT.>, when missing)', '')
    .option('--durable <name>', 'durable consumer: a restarted collect resumes where it stopped', 'paranoid-pipes-collect')
    .option('--mode <octal>', 'mode of the logs it creates', '640')
    .action(async (options: { from: string; dir: string; stream: string; durable: string; mode: string }) => {
      const from = resolveForward(options.from, process.cwd());
      if (from.kind !== 'nats') throw usageError('BAD_FROM', `--from must be a nats:// or tls:// URL, got ${JSON.stringify(options.from)}`);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.durable)) throw usageError('BAD_NAME', `--durable must be letters, digits, _ and -, got ${JSON.stringify(options.durable)}`);
      if (options.stream !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(options.stream)) throw usageError('BAD_NAME', `--stream must be letters, digits, _ and -, got ${JSON.stringify(options.stream)}`);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      try {
        const { collect } = await import('../runtime/receive/collect.ts'); // the NATS client, only here
        result.exitCode = await collect(
          { from, dir: options.dir, stream: options.stream === '' ? null : options.stream, durable: options.durable, mode: parseMode('--mode', options.mode) },
          { err: io.err },
          controller.signal,
        );
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
    });

  program
    .command('hosts')
    .description('list the collected logs in a directory (DIR/HOST/LOG from collect, or files from receive) with when each last got a block and how long it has been silent, longest silence first; last contact is the newest block stored (the file\'s modification time), so copies with --heartbeat keep it fresh while idle and a long silence means the host or its link is down')
    .requiredOption('--dir <dir>', 'the directory given to collect, or where receive writes')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { dir: string; json?: boolean }) => {
      const { hostsTable, listHostLogs } = await import('../runtime/receive/hosts.ts');
      const logs = listHostLogs(options.dir);
      io.out(options.json === true ? `${JSON.stringify(logs, null, 2)}\n` : hostsTable(logs));
    });
}
