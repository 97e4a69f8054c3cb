/** The base64 attachment of a simple MIME message (nodemailer's layout), decoded. */
export function attachmentOf(raw: string): { filename: string; content: Buffer } {
  const parts = raw.split(/\r?\n--[^\r\n]+\r?\n/);
  for (const part of parts) {
    const [head = '', ...body] = part.split(/\r?\n\r?\n/);
    const name = /filename="?([^";\r\n]+)"?/i.exec(head)?.[1];
    if (name !== undefined && /content-transfer-encoding:\s*base64/i.test(head)) {
      const b64 = body.join('\n').split(/\r?\n--/)[0]!.replace(/[^A-Za-z0-9+/=]/g, '');
      return { filename: name, content: Buffer.from(b64, 'base64') };
    }
  }
  throw new Error('no base64 attachment in the message');
}
