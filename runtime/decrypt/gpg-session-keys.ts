import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { PipesError } from '../errors.ts';
import type { SessionKeyOf } from './fast-open.ts';
import { openAgentRoute, type AgentRoute } from './gpg-agent-route.ts';
import { parsePkesks, wellFormedValue, type SessionKey } from './pkesk.ts';

export type { SessionKey } from './pkesk.ts';

/**
 * `--gpg`: the local GnuPG (its keyring, gpg-agent, a smartcard) decrypts each block's session
 * key; the bulk is decrypted natively. No secret key file is needed.
 *
 * The agent route first (gpg-agent-route.ts): one connection to gpg-agent, one PKDECRYPT per
 * distinct session key, the way gpg itself asks the agent (smartcards included). Where it
 * cannot be used (no agent socket, a key packet for a key it does not list), gpg is asked:
 *
 * GnuPG has no command that only decrypts a session key, but `gpg --decrypt --show-session-key`
 * reports it (status SESSION_KEY) as soon as it has it, before it reads the data. So gpg gets a
 * block's key packets followed by a stub encrypted packet of zeros: it decrypts the session key
 * through gpg-agent, reports it, then fails the stub's integrity check (expected; no plaintext
 * exists). GnuPG 2.2 and 2.4 read such stubs back to back, one SESSION_KEY per message, so one
 * gpg call serves every key asked for at once.
 *
 * - One private-key operation per distinct set of key packets: results (failures too) are
 *   remembered by the packets' SHA-256, so blocks that share a session key share the work.
 * - Requests made while a call runs are batched into the next call (up to MAX_BATCH).
 * - Each session key is checked where it is used: a wrong one fails the block's MDC.
 */

/** OpenPGP symmetric algorithm ids as gpg prints them, in openpgp.js names. */
const ALGORITHMS: Record<string, string> = { '7': 'aes128', '8': 'aes192', '9': 'aes256' };
/** A SEIPD v1 packet (tag 18, 41 body bytes) of zeros: enough for gpg to ask for the session key. */
const STUB = Buffer.concat([Buffer.from([0xc0 | 18, 41, 1]), Buffer.alloc(40)]);
/** Messages per gpg call: a call's cost (~10 ms to start) spread over many keys. */
const MAX_BATCH = 256;

export interface GpgOptions {
  /** The gpg program (default `gpg` on PATH); GNUPGHOME and GPG_TTY come from the environment. */
  readonly program?: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * `agent` (the default): ask gpg-agent over its socket, one connection for the run
   * (gpg-agent-route.ts), and gpg for what the agent route cannot take; `gpg`: only gpg calls.
   */
  readonly route?: 'agent' | 'gpg';
  /** One line for the admin: which route runs when it is not the agent, and why. */
  readonly notice?: (text: string) => void;
}

export interface GpgSessionKeys {
  readonly sessionKeyOf: SessionKeyOf;
  /** gpg calls made, distinct keys asked for, private-key operations asked of the agent directly. */
  readonly stats: { calls: number; keys: number; agentOperations: number };
  /** Ends the agent connection (idle, it does not keep the process alive either). */
  readonly close: () => Promise<void>;
}

export function gpgSessionKeys(options: GpgOptions): GpgSessionKeys {
  const cache = new Map<string, Promise<SessionKey | null>>();
  const stats = { calls: 0, keys: 0, agentOperations: 0 };
  const notice = options.notice ?? (() => {});
  // Opened at the first request, so a run that needs no key never talks to the agent.
  let agent: Promise<AgentRoute | null> | null = null;
  const agentRoute = (): Promise<AgentRoute | null> =>
    (agent ??=
      options.route === 'gpg'
        ? Promise.resolve(null)
        : openAgentRoute({ program: options.program, env: options.env, notice }).catch((err: unknown) => {
            notice(`--gpg: cannot ask gpg-agent directly (${(err as Error).message.split('\n')[0]}); asking gpg instead, one call per batch of session keys`);
            return null;
          }));
  let queue: Array<{ packets: Buffer; resolve: (key: SessionKey | null) => void; reject: (err: Error) => void }> = [];
  let running: Promise<void> | null = null;

  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      stats.calls += 1;
      try {
        const keys = await askGpg(batch.map((b) => b.packets), options);
        batch.forEach((b, i) => b.resolve(keys[i] ?? null));
      } catch (err) {
        for (const b of batch) b.reject(err as Error);
      }
    }
  };

  const sessionKeyOf: SessionKeyOf = (packets) => {
    const id = createHash('sha256').update(packets).digest('hex');
    let known = cache.get(id);
    if (known === undefined && parsePkesks(packets).some((p) => !wellFormedValue(p))) {
      // A key packet of a shape the copy never writes: it came from whoever appended to the log.
      // Neither the agent nor gpg (which hands it to the agent) gets it: gpg-agent 2.2 was seen to
      // exit on such a packet. The block stays closed and is reported like any it cannot open.
      known = Promise.resolve(null);
      cache.set(id, known);
    }
    if (known === undefined) {
      stats.keys += 1;
      const copy = Buffer.from(packets);
      const viaGpg = (): Promise<SessionKey | null> => {
        const asked = new Promise<SessionKey | null>((resolve, reject) => queue.push({ packets: copy, resolve, reject }));
        schedule();
        return asked;
      };
      known = agentRoute().then((route) => {
        const viaAgent = route?.sessionKey(copy);
        // No agent route, or key packets it cannot take (a hidden recipient, a key gpg knows by
        // another name): gpg reads them as it reads any message.
        if (viaAgent === undefined) return viaGpg();
        stats.agentOperations += 1;
        return viaAgent.catch((err: unknown) => {
          // The connection itself failed (the agent stopped): gpg from now on, which starts one.
          if (agent !== null && route !== null) {
            agent = Promise.resolve(null);
            route.close();
            notice(`--gpg: lost the connection to gpg-agent (${(err as Error).message}); asking gpg instead`);
          }
          return viaGpg();
        });
      });
      cache.set(id, known);
    }
    return known;
  };
  /**
   * A call starts on the next turn, so the blocks opened side by side join it. A request made
   * after the last batch was taken but before the call ended starts the next call.
   */
  const schedule = (): void => {
    if (running !== null) return;
    running = new Promise<void>((r) => setImmediate(r))
      .then(drain)
      .finally(() => {
        running = null;
        if (queue.length > 0) schedule();
      });
  };
  const close = async (): Promise<void> => {
    (await agent?.catch(() => null))?.close();
  };
  return { sessionKeyOf, stats, close };
}

/**
 * One gpg call for several messages' key packets: the session keys in order (null where gpg
 * had none). If the status lines cannot be matched to the messages one by one, each message is
 * asked alone.
 */
async function askGpg(packets: readonly Buffer[], options: GpgOptions): Promise<Array<SessionKey | null>> {
  const input = Buffer.concat(packets.flatMap((p) => [p, STUB]));
  const { status, stderr } = await runGpg(input, options);
  const perMessage = splitByMessage(status);
  if (perMessage.length === packets.length) return perMessage.map(sessionKeyIn);
  if (packets.length === 1) {
    if (perMessage.length === 0) throw new PipesError('GPG_FAILED', `gpg could not be asked for a session key: ${lastLines(stderr)}`);
    return [sessionKeyIn(perMessage.flat())];
  }
  const alone: Array<SessionKey | null> = [];
  for (const p of packets) alone.push(...(await askGpg([p], options)));
  return alone;
}

/** Status lines of each message: each ends with END_DECRYPTION, or with NO_SECKEY/DECRYPTION_FAILED without one. */
function splitByMessage(status: readonly string[]): string[][] {
  const messages: string[][] = [];
  let current: string[] = [];
  for (const line of status) {
    current.push(line);
    if (line.startsWith('END_DECRYPTION')) {
      messages.push(current);
      current = [];
    }
  }
  if (current.some((l) => l.startsWith('DECRYPTION_FAILED') || l.startsWith('NO_SECKEY'))) messages.push(current);
  return messages;
}

function sessionKeyIn(lines: readonly string[]): SessionKey | null {
  for (const line of lines) {
    const m = /^SESSION_KEY (\d+):([0-9A-Fa-f]+)$/.exec(line);
    const algorithm = m ? ALGORITHMS[m[1] as string] : undefined;
    if (m && algorithm !== undefined) return { data: Buffer.from(m[2] as string, 'hex'), algorithm };
  }
  return null;
}

const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' / ') || 'no output';

/** Calls gpg with an argument array (no shell); status lines on fd 3, stderr kept for errors. */
function runGpg(input: Buffer, options: GpgOptions): Promise<{ status: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = ['--batch', '--no-tty', '--quiet', '--status-fd', '3', '--show-session-key', '--decrypt'];
    const child = spawn(options.program ?? 'gpg', args, { env: options.env, stdio: ['pipe', 'ignore', 'pipe', 'pipe'] });
    let status = '';
    let stderr = '';
    (child.stdio[3] as Readable | null)?.setEncoding('utf8').on('data', (t: string) => (status += t));
    child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', (err) => reject(new PipesError('GPG_MISSING', `--gpg: cannot run ${options.program ?? 'gpg'}: ${err.message}`)));
    // gpg exits 2 here by design (the stubs fail their check): the status lines say what it found.
    child.on('close', () =>
      resolve({
        status: status
          .split('\n')
          .filter((l) => l.startsWith('[GNUPG:] '))
          .map((l) => l.slice('[GNUPG:] '.length)),
        stderr,
      }),
    );
    child.stdin?.on('error', () => {}); // gpg may stop reading early (no secret key): the status says why
    child.stdin?.end(input);
  });
}
