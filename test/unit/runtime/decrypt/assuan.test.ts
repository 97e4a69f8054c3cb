import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AssuanClient, AssuanError, dataLines, plusEscape, unescapeData } from '../../../../runtime/decrypt/assuan.ts';
import { plainValue } from '../../../../runtime/decrypt/pkesk.ts';
import { tempDir } from '../../../helpers/cli.ts';

const dir = tempDir('pp-assuan-');
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  dir.dispose();
});

/** A scripted Assuan server on a Unix socket: answers each command line with `reply(line)`. */
async function fakeAgent(reply: (line: string, send: (text: string) => void) => void): Promise<string> {
  const path = join(dir.path, `agent-${servers.length}.sock`);
  const server = createServer((socket) => {
    socket.setEncoding('latin1');
    socket.on('error', () => {}); // the client hangs up after BYE without waiting for the answer
    socket.write('OK Pleased to meet you\n');
    let buf = '';
    socket.on('data', (t: string) => {
      buf += t;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        reply(line, (text) => socket.write(text, 'latin1'));
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return path;
}

describe('Assuan', () => {
  it('escapes %, CR and LF in data lines and reads them back; lines stay under the limit', () => {
    const bytes = Buffer.from(Array.from({ length: 2000 }, (_, i) => i % 256));
    const lines = dataLines(bytes).split('\n').filter((l) => l !== '');
    expect(lines.every((l) => l.startsWith('D ') && l.length < 1000)).toBe(true);
    expect(Buffer.concat(lines.map((l) => unescapeData(l.slice(2)))).equals(bytes)).toBe(true);
    expect(plusEscape('a b%c+\n')).toBe('a+b%25c%2B%0A');
  });

  it('answers an inquiry, collects status and data lines, and reports ERR with its code', async () => {
    let inquired = '';
    const path = await fakeAgent((line, send) => {
      if (line === 'PKDECRYPT') send('INQUIRE CIPHERTEXT\n');
      else if (line.startsWith('D ')) inquired += line.slice(2);
      else if (line === 'END') send('S PADDING 0\nD (5:value3:a%25b)\nOK\n');
      else if (line === 'HAVEKEY nope') send('ERR 67108881 No secret key <GPG Agent>\n');
      else send('OK\n');
    });
    const agent = await AssuanClient.open(path);
    try {
      const reply = await agent.transact('PKDECRYPT', (keyword) => (keyword === 'CIPHERTEXT' ? Buffer.from('(x%y)') : null));
      expect(unescapeData(inquired).toString()).toBe('(x%y)');
      expect(reply.status).toEqual(['PADDING 0']);
      expect(plainValue(reply.data)?.toString()).toBe('a%b');
      const err = await agent.transact('HAVEKEY nope').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AssuanError);
      expect((err as AssuanError).code).toBe(67108881);
      expect((await agent.transact('NOP')).status).toEqual([]); // the connection goes on after an ERR
    } finally {
      agent.close();
    }
  });
});
