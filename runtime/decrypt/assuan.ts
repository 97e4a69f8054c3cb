import { connect, type Socket } from 'node:net';

/**
 * A minimal client of the Assuan protocol that gpg-agent speaks on its socket: one command at
 * a time, each answered by status (S), data (D) and inquiry (INQUIRE) lines and ended by OK or
 * ERR. gpg itself reaches the agent this way, so a key on a smartcard works the same as a key
 * file (the agent asks scdaemon).
 */
export interface AssuanReply {
  /** The data lines joined, unescaped. */
  readonly data: Buffer;
  /** Status lines as "KEYWORD args". */
  readonly status: readonly string[];
}

export class AssuanError extends Error {
  constructor(
    /** The gpg-error code the agent sent (0 when the connection itself failed). */
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The protocol's line limit (ASSUAN_LINELENGTH), the "D " prefix and newline included. */
const LINE_MAX = 1000;
const DATA_PER_LINE = 300; // bytes per D line: up to three characters each once escaped

export class AssuanClient {
  private buffered = '';
  private waiting: ((line: string | null) => void) | null = null;
  private readonly lines: string[] = [];
  private closed = false;
  private pending = 0;
  /** Commands run one after another on the one connection. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.buffered += text;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        this.push(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
      }
      // No line of the protocol is longer: a peer that sends more without a line break is not
      // speaking it, and is not buffered without end.
      if (this.buffered.length > LINE_MAX) socket.destroy(new Error('Assuan line over the protocol limit'));
    });
    const end = () => {
      this.closed = true;
      this.waiting?.(null);
      this.waiting = null;
    };
    socket.on('close', end).on('error', end);
  }

  /** Connects and reads the server's greeting. */
  static async open(path: string): Promise<AssuanClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s)).once('error', reject);
    });
    const client = new AssuanClient(socket);
    const greeting = await client.nextLine();
    if (greeting === null || !greeting.startsWith('OK')) {
      client.close();
      throw new AssuanError(0, `no Assuan greeting on ${path}: ${greeting ?? 'closed'}`);
    }
    socket.unref();
    return client;
  }

  /**
   * Sends one command; `inquire` answers the server's INQUIRE with the data it asks for
   * (`null` cancels it).
   */
  transact(command: string, inquire?: (keyword: string) => Buffer | null): Promise<AssuanReply> {
    // The connection keeps the process alive only while a command waits for its answer (the
    // agent may be asking for a passphrase); idle, it does not hold an ended run open.
    this.pending += 1;
    this.socket.ref();
    const run = this.queue.then(() => this.run(command, inquire));
    this.queue = run
      .catch(() => {})
      .finally(() => {
        this.pending -= 1;
        if (this.pending === 0) this.socket.unref();
      });
    return run;
  }

  close(): void {
    this.closed = true;
    this.socket.end('BYE\n');
    this.socket.destroy();
  }

  private async run(command: string, inquire?: (keyword: string) => Buffer | null): Promise<AssuanReply> {
    if (command.length + 1 > LINE_MAX || /[\r\n]/.test(command)) throw new AssuanError(0, 'Assuan command too long or with a line break');
    this.socket.write(`${command}\n`, 'latin1');
    const data: Buffer[] = [];
    const status: string[] = [];
    for (;;) {
      const line = await this.nextLine();
      if (line === null) throw new AssuanError(0, 'gpg-agent closed the connection');
      if (line === 'OK' || line.startsWith('OK ')) return { data: Buffer.concat(data), status };
      if (line.startsWith('ERR ')) {
        const m = /^ERR (\d+) ?(.*)$/.exec(line);
        throw new AssuanError(Number(m?.[1] ?? 0), m?.[2] || line);
      }
      if (line.startsWith('D ')) data.push(unescapeData(line.slice(2)));
      else if (line.startsWith('S ')) status.push(line.slice(2));
      else if (line.startsWith('INQUIRE ')) {
        const keyword = line.slice('INQUIRE '.length).split(' ')[0] as string;
        const answer = inquire?.(keyword) ?? null;
        if (answer === null) this.socket.write('CAN\n', 'latin1');
        else this.socket.write(`${dataLines(answer)}END\n`, 'latin1');
      }
      // '#' comments and anything else are ignored, as the protocol says.
    }
  }

  private push(line: string): void {
    if (this.waiting !== null) {
      const w = this.waiting;
      this.waiting = null;
      w(line);
    } else this.lines.push(line);
  }

  private nextLine(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

/** D lines for `bytes`: '%', CR and LF percent-escaped, as the protocol requires. */
export function dataLines(bytes: Buffer): string {
  let out = '';
  for (let at = 0; at < bytes.length; at += DATA_PER_LINE) {
    let line = 'D ';
    for (const b of bytes.subarray(at, at + DATA_PER_LINE)) line += b === 0x25 || b === 0x0a || b === 0x0d ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
    out += `${line}\n`;
  }
  return out;
}

/** A D line's payload back to bytes (%XX escapes). */
export function unescapeData(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '%' &&  /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

/** Percent-plus escaping for SETKEYDESC and OPTION values (space as '+'). */
export function plusEscape(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/[%+\x00-\x20]/g, (c) => (c === ' ' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`));
}
