import { existsSync, lstatSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { BakedForward, NatsCredentials } from '../runtime/baked.ts';
import { errnoCode, refusal, usageError } from '../runtime/errors.ts';

/**
 * --forward URL (repeatable), checked once into what the copy bakes:
 *
 *   ssh://user@host[:port]/path/on/collector.log.asc[?identity=FILE&known-hosts=FILE]
 *   nats://host:port[,host:port...]/subject[?creds=FILE | nkey=FILE | user-password=FILE]
 *   tls://host:port/subject[?...][&ca=FILE]   (NATS over TLS; the server's certificate is
 *                                  always verified, against FILE or the system's CAs)
 *
 * No secret goes into the URL or the copy: a password in the URL is refused, keys and
 * credentials are named by file and read by the copy when it connects.
 */
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$/;
/** Passed to the receiver through the remote shell when no command is forced: nothing it would interpret. */
const REMOTE_PATH = /^\/[A-Za-z0-9._/-]+$/;
const SUBJECT = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
/**
 * ssh splits `UserKnownHostsFile=` at white space (a list of files) and expands `%` tokens and
 * `~` in it and in `-i`: a path outside this set could make ssh read a file nobody named.
 */
const SSH_FILE = /^\/[A-Za-z0-9._/@+,:=-]+$/;
const SSH_CLIENT = '/usr/bin/ssh';
const NATS_QUERY = ['creds', 'nkey', 'user-password'] as const;
const NATS_PARAMS = [...NATS_QUERY, 'ca'] as const;
const SSH_QUERY = ['identity', 'known-hosts'] as const;

export function resolveForwards(urls: readonly string[], cwd: string): BakedForward[] {
  const seen = new Set<string>();
  return urls.map((text) => {
    if (seen.has(text)) throw usageError('FORWARD_TWICE', `--forward ${JSON.stringify(text)} is given twice`);
    seen.add(text);
    return resolveForward(text, cwd);
  });
}

export function resolveForward(text: string, cwd: string): BakedForward {
  const bad = (why: string) => usageError('BAD_FORWARD', `--forward ${JSON.stringify(text)}: ${why}`);
  const scheme = /^([a-z]+):\/\//.exec(text)?.[1];
  if (scheme !== 'ssh' && scheme !== 'nats' && scheme !== 'tls') {
    throw bad('use ssh://user@host[:port]/path, nats://host:port/subject or tls://host:port/subject');
  }
  const rest = text.slice(scheme.length + 3);
  const [beforeQuery, query = ''] = splitOnce(rest, '?');
  const slash = beforeQuery.indexOf('/');
  if (slash < 0) throw bad(scheme === 'ssh' ? 'no path on the collector after the host' : 'no subject after the server');
  const authority = beforeQuery.slice(0, slash);
  const path = decodeURIComponent(beforeQuery.slice(slash));
  const params = parseQuery(query, bad);
  if (scheme === 'ssh') {
    const at = authority.lastIndexOf('@');
    if (at < 0) throw bad('name the user on the collector: ssh://user@host/path');
    const userPart = authority.slice(0, at);
    if (userPart.includes(':')) throw bad('no password in the URL: ssh push uses a key (?identity=FILE), never a password');
    if (!USER.test(userPart)) throw bad(`user ${JSON.stringify(userPart)} is not a user name`);
    const { host, port } = hostPort(authority.slice(at + 1), 22, bad);
    if (!REMOTE_PATH.test(path) || path.split('/').includes('..')) throw bad('the path on the collector must be absolute and use only letters, digits and . _ - /');
    onlyKeys(params, SSH_QUERY, bad);
    // The copy runs this client, by this path (no PATH lookup in a copy).
    if (!existsSync(SSH_CLIENT)) throw bad(`ssh push runs ${SSH_CLIENT}, which is missing here (Debian: apt-get install openssh-client)`);
    return {
      kind: 'ssh',
      label: text,
      user: userPart,
      host,
      port,
      path,
      identity: sshFileParam(params, 'identity', cwd, bad),
      knownHosts: sshFileParam(params, 'known-hosts', cwd, bad),
    };
  }
  if (authority.includes('@')) throw bad('no user or password in the URL: name a credentials file (?creds=, ?nkey= or ?user-password=)');
  const servers = authority.split(',').map((s) => {
    const { host, port } = hostPort(s, 4222, bad);
    return `${host}:${port}`;
  });
  const subject = path.slice(1);
  if (!SUBJECT.test(subject)) throw bad(`subject ${JSON.stringify(subject)} must be dot-separated tokens of letters, digits, _ and - (no wildcards)`);
  onlyKeys(params, NATS_PARAMS, bad);
  if (params.has('ca') && scheme !== 'tls') throw bad('?ca= names the CA of a TLS server: use tls://host:port/subject?ca=FILE');
  const given = NATS_QUERY.filter((k) => params.has(k));
  if (given.length > 1) throw bad(`give one of ${NATS_QUERY.map((k) => `?${k}=`).join(', ')}, not several`);
  const kind = given[0];
  const credentials: NatsCredentials | null = kind === undefined ? null : { kind, file: privateFile(fileParam(params, kind, cwd, bad) as string, text) };
  return { kind: 'nats', label: text, servers, tls: scheme === 'tls', ca: fileParam(params, 'ca', cwd, bad), subject, credentials };
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const at = s.indexOf(sep);
  return at < 0 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)];
}

function parseQuery(query: string, bad: (why: string) => Error): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const pair of query.split('&')) {
    const [key, value] = splitOnce(pair, '=');
    if (value === undefined || value === '') throw bad(`${JSON.stringify(key)} needs a value`);
    if (params.has(key)) throw bad(`${JSON.stringify(key)} is given twice`);
    params.set(key, decodeURIComponent(value));
  }
  return params;
}

function onlyKeys(params: Map<string, string>, allowed: readonly string[], bad: (why: string) => Error): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) throw bad(`unknown parameter ${JSON.stringify(key)}; allowed: ${allowed.join(', ')}`);
  }
}

function hostPort(s: string, defaultPort: number, bad: (why: string) => Error): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(s);
  if (m === null || !HOST.test(m[1] as string)) throw bad(`${JSON.stringify(s)} is not host[:port]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw bad(`port ${port} is out of range`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** A file ssh is given in an option: only characters ssh takes literally. */
function sshFileParam(params: Map<string, string>, key: string, cwd: string, bad: (why: string) => Error): string | null {
  const path = fileParam(params, key, cwd, bad);
  if (path !== null && !SSH_FILE.test(path)) throw bad(`${key} ${JSON.stringify(path)}: ssh would split or expand this path; use only letters, digits and . _ / @ + , : = -`);
  return path;
}

/**
 * NATS credentials let whoever holds them publish as this host (and a collect files messages by
 * the host they name): a file others can read, or group or others can change, is refused.
 */
function privateFile(path: string, url: string): string {
  const mode = lstatSync(path).mode & 0o777;
  if ((mode & 0o027) !== 0) {
    throw refusal('FORWARD_CREDENTIALS_OPEN', `--forward ${JSON.stringify(url)}: credentials file ${JSON.stringify(path)} has mode ${mode.toString(8).padStart(3, '0')}: others could read it or someone else change it; chmod 600 (or 640 for the run-as user's group)`);
  }
  return path;
}

/** A file named in the URL: made absolute and checked to be a regular file now, not at the first outage. */
function fileParam(params: Map<string, string>, key: string, cwd: string, bad: (why: string) => Error): string | null {
  const value = params.get(key);
  if (value === undefined) return null;
  const path = isAbsolute(value) ? value : resolvePath(cwd, value);
  let isFile = false;
  try {
    isFile = lstatSync(path).isFile();
  } catch (err) {
    throw bad(`${key} file ${JSON.stringify(path)} cannot be read (${errnoCode(err) ?? String(err)})`);
  }
  if (!isFile) throw bad(`${key} ${JSON.stringify(path)} is not a regular file`);
  return path;
}
