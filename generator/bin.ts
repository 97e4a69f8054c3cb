import { main } from './cli.ts';

// `paranoid-pipes decrypt log | head`: when the reader of stdout goes away, stop quietly, as a
// Unix filter killed by SIGPIPE does. This is the bin's edge; nothing is left to flush or save.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/** The `paranoid-pipes` executable: real stdio around the in-process CLI. */
process.exitCode = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
  writeData: (bytes) =>
    new Promise<void>((resolve, reject) => {
      process.stdout.write(bytes, (err) => (err ? reject(err) : resolve()));
    }),
});
