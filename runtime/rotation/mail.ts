import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
import type { BakedMail } from '../baked.ts';

export interface Mailer {
  /** Sends one archive as an attachment; the body names it but holds no log content. */
  sendArchive(filename: string, content: Buffer): Promise<void>;
}

export function createMailer(mail: BakedMail): Mailer {
  const transport =
    mail.transport.kind === 'smtp'
      ? nodemailer.createTransport(mail.transport.url)
      : nodemailer.createTransport({ sendmail: true, path: mail.transport.path, newline: 'unix' });
  return {
    async sendArchive(filename, content) {
      const sha256 = createHash('sha256').update(content).digest('hex');
      const host = hostname();
      await transport.sendMail({
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
          '',
          'Decrypt: paranoid-pipes decrypt --archive-key ARCHIVE.sec.asc --key LOG.sec.asc FILE',
          'or: gpg -d FILE | gunzip   (gives the encrypted log, one OpenPGP message per block)',
        ].join('\n'),
        attachments: [{ filename, content, contentType: 'application/octet-stream' }],
      });
    },
  };
}
