import { SMTPServer } from 'smtp-server';

export interface TestSmtp {
  readonly port: number;
  /** Raw messages accepted, in order. */
  readonly mails: string[];
  /** Refusals still to give. */
  refusalsLeft(): number;
  close(): Promise<void>;
}

/** A real SMTP server on loopback that keeps what it receives; it answers 451 to the first `refusals` messages. */
export async function startSmtp(refusals = 0): Promise<TestSmtp> {
  let left = refusals;
  const mails: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (left > 0) {
          left -= 1;
          callback(Object.assign(new Error('mailbox busy, try later'), { responseCode: 451 }));
          return;
        }
        mails.push(Buffer.concat(chunks).toString('latin1'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as { port: number }).port,
    mails,
    refusalsLeft: () => left,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
