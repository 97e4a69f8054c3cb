import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Transporter } from 'nodemailer';
import type { BakedMail } from '../baked.ts';

export interface Mailer {
  /**
   * Sends one archive as an attachment; the body names it but holds no log content. `anchor`
   * (stream:seq:digest of the newest block's seal) lets `verify --anchor` prove the log reached it.
   */
  sendArchive(filename: string, content: Buffer, anchor?: string | null): Promise<void>;
}

type Nodemailer = typeof import('nodemailer').default;
let loading: Promise<Nodemailer> | null = null;

/**
 * nodemailer (and the http, https, tls and dns modules it imports) is loaded only by a copy that
 * mails: a copy without --mail-to never evaluates it, which keeps ~1 MB of code and objects
 * out of its memory. A copy that mails awaits this at start (runtime/copy.ts), so one that
 * cannot load it stops there and not at its first mail, hours later; the sends await the same
 * promise.
 */
export function loadNodemailer(): Promise<Nodemailer> {
  return (loading ??= import('nodemailer').then((m) => m.default));
}

function lazyTransport(make: (nodemailer: Nodemailer) => Transporter): Promise<Transporter> {
  const transport = loadNodemailer().then(make);
  // A failure is reported by the send that awaits it, not as an unhandled rejection.
  transport.catch(() => {});
  return transport;
}

function transportOf(mail: BakedMail): Promise<Transporter> {
  return lazyTransport((nodemailer) =>
    mail.transport.kind === 'smtp'
      ? nodemailer.createTransport(mail.transport.url)
      : nodemailer.createTransport({ sendmail: true, path: mail.transport.path, newline: 'unix' }),
  );
}

/** --report-every: sends a report already encrypted (armored OpenPGP) as the body of a mail. */
export interface ReportMailer {
  sendReport(subject: string, armored: string): Promise<void>;
}

/**
 * A report is not worth waiting long for: a server that does not answer lets go within these
 * bounds (nodemailer waits minutes by default), so a stopping copy is not held by its socket.
 */
const REPORT_SMTP_TIMEOUTS = { connectionTimeout: 20_000, greetingTimeout: 20_000, socketTimeout: 60_000 };

export function createReportMailer(mail: BakedMail): ReportMailer {
  const { transport: via } = mail;
  const transport = via.kind === 'smtp' ? lazyTransport((nodemailer) => nodemailer.createTransport({ url: via.url, ...REPORT_SMTP_TIMEOUTS })) : transportOf(mail);
  return {
    async sendReport(subject, armored) {
      await (await transport).sendMail({ from: mail.from, to: [...mail.to], subject, text: armored });
    },
  };
}

export function createMailer(mail: BakedMail): Mailer {
  const transport = transportOf(mail);
  return {
    async sendArchive(filename, content, anchor = null) {
      const sha256 = createHash('sha256').update(content).digest('hex');
      const host = hostname();
      await (await transport).sendMail({
        from: mail.from,
        to: [...mail.to],
        subject: `paranoid-pipes archive ${filename} from ${host}`,
        text: [
          'An encrypted log archive from paranoid-pipes is attached.',
          '',
          `host:    ${host}`,
          `file:    ${filename}`,
          `size:    ${content.length} bytes`,
          `sha256:  ${sha256}`,
          ...(anchor === null ? [] : [`anchor:  ${anchor}`]),
          '',
          'Decrypt: paranoid-pipes decrypt --archive-key ARCHIVE.sec.asc --key LOG.sec.asc FILE',
          'or: gpg -d FILE | gunzip   (gives the encrypted log, one OpenPGP message per block)',
          ...(anchor === null ? [] : ['Check that the log still reaches the anchored block: paranoid-pipes verify --anchor ANCHOR --key LOG.sec.asc ...']),
        ].join('\n'),
        attachments: [{ filename, content, contentType: 'application/octet-stream' }],
      });
    },
  };
}
