import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AssuanClient, AssuanError, plusEscape } from './assuan.ts';
import { isRead, readKeyPackets } from '../format/key-packets.ts';
import { ecdhSessionKey, encValSexp, parsePkesks, plainValue, rsaSessionKey, wellFormedValue, type EcdhParams, type Pkesk, type SessionKey } from './pkesk.ts';

const execFileAsync = promisify(execFile);

/**
 * `--gpg` through gpg-agent directly: one connection to the agent's socket for the whole run,
 * one PKDECRYPT per distinct session key, as gpg itself asks the agent (so a smartcard works
 * the same). No process is started per key, which is most of the cost when the key is not
 * protected by a passphrase or the agent's unlocking is cheap.
 *
 * The agent unlocks a passphrase-protected key anew for every operation (its cache holds the
 * passphrase, not the unlocked key), so each operation costs one pass of the key's S2K hashing,
 * calibrated by GnuPG to about 100 ms of one core. That, not the route, bounds the rate then:
 * see docs/performance.md.
 */
export interface AgentRoute {
  /** The session key, or null when the agent refused; `undefined` when no packet is for a key the agent holds. */
  sessionKey(packets: Buffer): Promise<SessionKey | null> | undefined;
  readonly stats: { readonly operations: number };
  close(): void;
}

export interface AgentOptions {
  readonly program?: string;
  readonly env: NodeJS.ProcessEnv;
  /** One line for the admin (stderr), e.g. why a key could not be used. */
  readonly notice: (text: string) => void;
}

interface SecretKey {
  readonly keyId: string;
  readonly grip: string;
  /** For ECDH keys: what the key derivation needs. */
  ecdh: EcdhParams | null;
}

/** Environment gpg hands the agent so that its pinentry opens on the admin's terminal or display. */
const PINENTRY_ENV: ReadonlyArray<[string, string]> = [
  ['GPG_TTY', 'ttyname'],
  ['TERM', 'ttytype'],
  ['DISPLAY', 'display'],
  ['XAUTHORITY', 'xauthority'],
];

/** Connects to the agent and learns the secret keys it holds; throws with the reason when it cannot. */
export async function openAgentRoute(options: AgentOptions): Promise<AgentRoute> {
  const gpg = options.program ?? 'gpg';
  const keys = await secretKeys(gpg, options.env);
  if (keys.size === 0) throw new Error('GnuPG lists no secret keys');
  const gpgconf = 'gpgconf';
  const { stdout } = await execFileAsync(gpgconf, ['--list-dirs', 'agent-socket'], { env: options.env });
  const socketPath = stdout.trim();
  await execFileAsync(gpgconf, ['--launch', 'gpg-agent'], { env: options.env });
  const agent = await AssuanClient.open(socketPath);
  for (const [name, option] of PINENTRY_ENV) {
    const value = options.env[name];
    if (value !== undefined && value !== '') await agent.transact(`OPTION ${option}=${plusEscape(value)}`).catch(() => {});
  }

  const stats = { operations: 0 };
  /** Keys the agent said it has (HAVEKEY), and keys it failed on: not asked again this run. */
  const held = new Map<string, Promise<boolean>>();
  const failed = new Set<string>();
  const has = (grip: string): Promise<boolean> => {
    let known = held.get(grip);
    if (known === undefined) {
      known = agent.transact(`HAVEKEY ${grip}`).then(
        () => true,
        () => false,
      );
      held.set(grip, known);
    }
    return known;
  };

  /** SETKEY, SETKEYDESC and PKDECRYPT set state on the connection: one operation at a time. */
  let previous: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = previous.then(work);
    previous = run.catch(() => {});
    return run;
  };
  const operation = async (pkesk: Pkesk, key: SecretKey): Promise<SessionKey | null> => {
    if (failed.has(key.grip) || !(await has(key.grip))) return null;
    stats.operations += 1;
    try {
      await agent.transact(`SETKEY ${key.grip}`);
      await agent.transact(`SETKEYDESC ${plusEscape(`paranoid-pipes decrypt needs the OpenPGP key ${key.keyId} to open the session keys of an encrypted log.`)}`);
      const reply = await agent.transact('PKDECRYPT', (keyword) => (keyword === 'CIPHERTEXT' ? encValSexp(pkesk) : null));
      const value = plainValue(reply.data);
      if (value === null) return null;
      if (pkesk.algorithm === 'rsa') return rsaSessionKey(value, !reply.status.includes('PADDING 0'));
      return key.ecdh === null ? null : ecdhSessionKey(value, pkesk, key.ecdh);
    } catch (err) {
      if (!(err instanceof AssuanError) || err.code === 0) throw err;
      // A refused passphrase or a cancelled pinentry: said once, and not asked again this run.
      // Any other refusal is about this one packet (it comes from the log, which the encrypting
      // host can append to): that block stays closed, the key is asked again for the next one.
      if (KEY_UNUSABLE.has(err.code & 0xffff)) {
        failed.add(key.grip);
        options.notice(`--gpg: gpg-agent could not use key ${key.keyId}: ${err.message}`);
      }
      return null;
    }
  };
  const decrypt = (pkesk: Pkesk, key: SecretKey) => exclusive(() => operation(pkesk, key));

  return {
    sessionKey(packets) {
      const ours = parsePkesks(packets)
        .map((p) => ({ p, key: keys.get(p.keyId) }))
        .filter((x): x is { p: Pkesk; key: SecretKey } => x.key !== undefined && (x.p.algorithm === 'rsa' || x.key.ecdh !== null) && wellFormedValue(x.p));
      if (ours.length === 0) return undefined;
      return (async () => {
        for (const { p, key } of ours) {
          const found = await decrypt(p, key);
          if (found !== null) return found;
        }
        return null;
      })();
    },
    stats,
    close: () => agent.close(),
  };
}

/**
 * gpg-error codes that say the key cannot be used at all this run (so it is not asked again):
 * bad passphrase (11), no passphrase (69), no pinentry (85), pinentry error (86), cancelled (99),
 * fully cancelled (198), no secret key (17), card removed (112), not confirmed (114).
 */
const KEY_UNUSABLE = new Set([11, 17, 69, 85, 86, 99, 112, 114, 198]);

/** The secret keys GnuPG lists (key ID → keygrip), with the public parameters ECDH needs. */
async function secretKeys(gpg: string, env: NodeJS.ProcessEnv): Promise<Map<string, SecretKey>> {
  const { stdout } = await execFileAsync(gpg, ['--batch', '--no-tty', '--with-colons', '--with-keygrip', '--list-secret-keys'], { env, maxBuffer: 16 << 20 });
  const keys = new Map<string, SecretKey>();
  const primaries: string[] = [];
  let current: string | null = null;
  let primary = false;
  // sec (a primary key) or ssb (a subkey), then its fpr and grp lines.
  for (const line of stdout.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'sec' || f[0] === 'ssb') {
      current = (f[4] ?? '').toUpperCase();
      primary = f[0] === 'sec';
    } else if (f[0] === 'fpr' && primary && f[9]) {
      primaries.push(f[9]);
      primary = false;
    } else if (f[0] === 'grp' && current !== null && f[9]) {
      keys.set(current, { keyId: current, grip: f[9], ecdh: null });
      current = null;
    }
  }
  if (keys.size === 0) return keys;
  const { stdout: exported } = await execFileAsync(gpg, ['--batch', '--no-tty', '--export', ...primaries], { env, encoding: 'buffer', maxBuffer: 64 << 20 });
  // Read natively (key-packets.ts): a key packet of another shape is skipped, as it has no v4 ECDH parameters.
  for (const k of (readKeyPackets(exported) ?? []).filter(isRead)) {
    const entry = keys.get(k.keyId);
    if (entry === undefined || k.ecdh === null) continue;
    entry.ecdh = { oid: k.ecdh.oid, hash: k.ecdh.hash, cipher: k.ecdh.cipher, fingerprint: k.fingerprint };
  }
  return keys;
}
