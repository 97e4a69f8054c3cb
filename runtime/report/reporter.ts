import { hostname } from 'node:os';
import type { BakedReport } from '../baked.ts';
import { gnupgCompatible } from '../encryptor.ts';
import type { Logger } from '../log.ts';
import type { RecipientKeys } from '../recipients.ts';
import { createReportMailer, type ReportMailer } from '../rotation/mail.ts';
import { reportText, type ReportFacts } from './summary.ts';

/** At stop, the last report gets this long to go out. */
export const STOP_REPORT_WAIT_MS = 15_000;

/** The facts a report needs, gathered from the running copy at the time of sending. */
export type ReportSource = () => Omit<ReportFacts, 'host' | 'from' | 'to'>;

/**
 * --report-every: a summary mailed every interval and at stop, encrypted to the log's recipients (OpenPGP,
 * armored, as the mail body), through the transport rotation mails use. A failed send is an
 * encrypted `report-failed` event and an error diagnostic; the next interval sends a fresh one.
 * A sent one is a `report-sent` event with its numbers.
 */
export class Reporter {
  private timer: NodeJS.Timeout | null = null;
  private from = new Date().toISOString();
  private sending: Promise<void> | null = null;
  private readonly mailer: ReportMailer;

  constructor(
    private readonly options: BakedReport,
    private readonly keys: RecipientKeys,
    private readonly facts: ReportSource,
    private readonly record: (event: string, detail: string) => void,
    private readonly log: Logger,
    mailer?: ReportMailer,
  ) {
    this.mailer = mailer ?? createReportMailer(options.mail);
  }

  start(): void {
    this.timer = setInterval(() => void this.send(), this.options.everyMs);
    this.timer.unref();
  }

  /**
   * Ends the timer and sends a last report for the time since the previous one, waiting for it
   * at most STOP_REPORT_WAIT_MS: a mail server that does not answer must not hold the stop.
   */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timeout = setTimeout(() => {
        this.log.warn('REPORT_LATE', `the last report was not sent within ${STOP_REPORT_WAIT_MS / 1000} s of the stop; stopping without it`);
        resolve();
      }, STOP_REPORT_WAIT_MS);
    });
    const last = (async () => {
      await this.sending;
      await this.send();
    })();
    await Promise.race([last, late]);
    clearTimeout(timeout);
  }

  send(): Promise<void> {
    if (this.sending !== null) return this.sending;
    const to = new Date().toISOString();
    const facts: ReportFacts = { host: hostname(), from: this.from, to, ...this.facts() };
    this.from = to;
    this.sending = this.deliver(facts).finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  private async deliver(facts: ReportFacts): Promise<void> {
    const numbers = `${facts.written.lines} lines written, ${facts.filtered.lines} filtered, ${facts.monitorChangeCount} monitor changes, ${facts.overloadDropped.lines} dropped, ${Object.values(facts.errors).reduce((a, b) => a + b, 0)} errors`;
    try {
      const date = await this.keys.validAt(new Date());
      // openpgp.js was loaded at start with the keys (runtime/seal/recipient-keys.ts).
      const openpgp = await import('openpgp');
      const message = await openpgp.createMessage({ text: reportText(facts), format: 'utf8' });
      const armored = (await openpgp.encrypt({ message, encryptionKeys: [...(await this.keys.openpgpKeys())], format: 'armored', date, ...gnupgCompatible() })) as string;
      await this.mailer.sendReport(`paranoid-pipes report from ${facts.host}`, armored);
      this.record('report-sent', `period ${facts.from} to ${facts.to} to ${this.options.mail.to.join(', ')}: ${numbers}`);
    } catch (err) {
      const why = (err as Error).message;
      this.log.error('REPORT_FAILED', why);
      this.record('report-failed', `period ${facts.from} to ${facts.to}: ${why}`);
    }
  }
}
