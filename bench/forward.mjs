// Forwarding benchmark (issue 12): the same flood through a local-only copy and through a copy
// forwarding into NATS JetStream, in one run; and the latency of a lone line from write(2) until
// the JetStream server delivers the stored block. Needs nats-server. Not part of the tests.
//
//   npm run bench:forward                  # 200,000 nginx lines
//   npm run bench:forward -- --lines 50000 --latency-lines 50
import { execFile, spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import * as openpgp from 'openpgp';
import tmp from 'tmp';
import { waitForReader } from './copy-flood.mjs';
import { nginxLine } from './nginx-lines.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.mjs');
const BENCH = join(ROOT, 'bench');
const run = promisify(execFile);
const { values: opts } = parseArgs({ options: { lines: { type: 'string', default: '200000' }, 'latency-lines': { type: 'string', default: '100' } } });
const LINES = Number(opts.lines);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => process.hrtime.bigint();
const secs = (a, b) => Number(b - a) / 1e9;
const exited = (child) => new Promise((resolve) => child.on('exit', (code) => resolve(code)));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Messages in an armored log: one BEGIN line each. */
function messagesIn(file) {
  const text = readFileSync(file, 'latin1');
  return text.split('-----BEGIN PGP MESSAGE-----').length - 1;
}

// `npm run bench` runs this after the local benchmark: without a NATS server here it says so
// and leaves the local results standing.
const natsServer = await run('nats-server', ['--version']).catch(() => null);
if (natsServer === null) {
  console.log('\nforwarding benchmark skipped: nats-server is not installed (Debian: apt-get install nats-server)');
  process.exit(0);
}

const dir = tmp.dirSync({ prefix: 'pp-bench-fwd-', unsafeCleanup: true });
const port = await freePort();
mkdirSync(join(dir.name, 'store'));
writeFileSync(join(dir.name, 'nats.conf'), `listen: "127.0.0.1:${port}"\nmax_payload: 4MB\njetstream { store_dir: "${join(dir.name, 'store')}" }\n`);
const nats = spawn('nats-server', ['-js', '-c', join(dir.name, 'nats.conf')], { stdio: 'ignore' });
try {
  await sleep(500);
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench', 'bench.>'] });
  const stored = async () => (await jsm.streams.info('BENCH')).state.messages;

  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'bench@example.org' }], format: 'armored' });
  void privateKey;
  const pub = join(dir.name, 'bench.pub.asc');
  writeFileSync(pub, publicKey);
  const copyOf = async (name, extra) => {
    const p = { pipe: join(dir.name, `${name}.pipe`), log: join(dir.name, `${name}.log`), copy: join(dir.name, `${name}.mjs`) };
    await run(process.execPath, [CLI, 'encrypter', '--recipient-key', pub, '--pipe', p.pipe, '--output', p.log, '--save-path', p.copy, '--log-level', 'warn', ...extra]);
    return p;
  };
  const flood = async (pipe) => JSON.parse((await run(process.execPath, [join(BENCH, 'flood-writer.mjs'), pipe, String(LINES), '1'], { maxBuffer: 1 << 20 })).stdout);

  // Local only: from the first write until the copy, stopped after the writer closed, exits (all durable).
  const local = await copyOf('local', []);
  let child = spawn(local.copy, [], { stdio: ['ignore', 'ignore', 'inherit'] });
  let done = exited(child);
  await waitForReader(local.pipe);
  const w1 = await flood(local.pipe);
  child.kill('SIGTERM');
  await done;
  const localSecs = secs(BigInt(w1.startedAt), now());

  // Forwarding: the same, and the copy's exit now also waits (up to 5 s) until JetStream has
  // confirmed every block of the log; checked against the stream below.
  const fwd = await copyOf('fwd', ['--forward', `nats://127.0.0.1:${port}/bench`]);
  child = spawn(fwd.copy, [], { stdio: ['ignore', 'ignore', 'inherit'] });
  done = exited(child);
  await waitForReader(fwd.pipe);
  const w2 = await flood(fwd.pipe);
  child.kill('SIGTERM');
  await done;
  const fwdSecs = secs(BigInt(w2.startedAt), now());
  const caughtUp = (await stored()) === messagesIn(fwd.log);
  if (!caughtUp) console.log('the forwarder had not caught up when the copy stopped: the row below is not the forwarding time');

  // Latency: a fresh run; a lone line every 50 ms; the time until a subscriber gets the stored block.
  child = spawn(fwd.copy, [], { stdio: ['ignore', 'ignore', 'inherit'] });
  done = exited(child);
  await waitForReader(fwd.pipe);
  // Latency: a lone line every 50 ms; the time until a subscriber gets the stored block.
  const sub = nc.subscribe('bench');
  const pipeFd = openSync(fwd.pipe, constants.O_WRONLY);
  const latencies = [];
  const it = sub[Symbol.asyncIterator]();
  await sleep(300); // the stream-start block of this run goes by first
  for (let n = sub.getPending(); n > 0; n -= 1) await it.next();
  for (let i = 0; i < Number(opts['latency-lines']); i += 1) {
    const t0 = performance.now();
    writeSync(pipeFd, nginxLine(i, Math.random));
    await it.next();
    latencies.push(performance.now() - t0);
    await sleep(50);
  }
  closeSync(pipeFd);
  child.kill('SIGTERM');
  await done;
  await nc.close();
  latencies.sort((a, b) => a - b);
  const q = (p) => +latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2);

  const mb = w1.bytes / 1e6;
  const rows = [
    { copy: 'local log only',  lines: LINES, MB: +mb.toFixed(1), seconds: +localSecs.toFixed(2), 'MB/s': +(mb / localSecs).toFixed(1) },
    { copy: 'local log + --forward nats:// (stored in JetStream)', lines: LINES, MB: +mb.toFixed(1), seconds: +fwdSecs.toFixed(2), 'MB/s': +(mb / fwdSecs).toFixed(1) },
  ];
  const latency = { lines: latencies.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1) };
  const results = { caughtUpAtStop: caughtUp, date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version }, throughput: rows, latency };
  writeFileSync(join(BENCH, 'results-forward.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nforwarding benchmark, ${results.date}, ${results.machine.cpus} x ${results.machine.cpu}, Node ${process.version}\n`);
  console.table(rows);
  console.log('Latency of a lone line, write(2) to the block delivered by the JetStream server:');
  console.table([latency]);
} finally {
  nats.kill('SIGTERM');
  await exited(nats);
  dir.removeCallback();
}
