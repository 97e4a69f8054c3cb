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
  stdinStream: () => process.stdin,
  errIsTty: process.stderr.isTTY === true,
  outIsTty: process.stdout.isTTY === true,
  trapStop: () => {
    // A follow or a stream runs until stopped: SIGINT/SIGTERM end it cleanly (output flushed,
    // a FIFO it made removed) instead of killing it mid-write.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    return { signal: stop.signal, release: () => void process.off('SIGINT', onSignal).off('SIGTERM', onSignal) };
  },
  writeData: (bytes) =>
    new Promise<void>((resolve, reject) => {
      process.stdout.write(bytes, (err) => (err ? reject(err) : resolve()));
    }),
  // The write callback comes once the bytes are written: their buffer may be used again then.
  writeDataReleases: true,
});
