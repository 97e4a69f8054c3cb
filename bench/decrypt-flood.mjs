// The decrypter on a flood's log (issue 11: at least 100 MB/s of ciphertext on 2 cores, as a
// whole process: node's start, the key, every block opened and its seal checked, the text
// written). Makes the log with a copy (1,000,000 nginx lines by default), then times
// `paranoid-pipes decrypt --output FILE` several times, each output compared by SHA-256 with what
// was written; with more than one `--cli`, the builds alternate run by run, so a drift of the
// machine's speed falls on all of them alike.
//
// The decrypter runs in this environment as an admin's machine has it (bench-util.mjs adminEnv):
// without NODE_EXTRA_CA_CERTS. Some machines set it to the whole system CA bundle (220 KB here),
// and node then parses that at every start, whatever the process does: `node -e 0` took 0.08 s
// instead of 0.02 s here, this CLI's `--version` 0.10–0.13 s instead of 0.08–0.09 s. When it is
// set, one more series runs with it, so its cost is in the results too.
//
//   node bench/decrypt-flood.mjs [--lines 1000000] [--runs 10] [--cli DIR/dist/cli.mjs ...] [--out FILE]
//   npm run bench:decrypt
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { withBenchKey } from './bench-key.mjs';
import { adminEnv, now, seconds, sha256, writeResults } from './bench-util.mjs';
import { copyFlood } from './copy-flood.mjs';
import { generateCopy } from './flood-rows.mjs';
import { nginxLines } from './nginx-lines.mjs';

const execFileAsync = promisify(execFile);
const CLI = new URL('../dist/cli.mjs', import.meta.url).pathname;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One timed decrypt into `out` (removed first); returns its wall seconds and whether the text matched. */
async function decryptOnce({ cli, sec, log, out, env, expectedSha }) {
  rmSync(out, { force: true });
  const t = now();
  await execFileAsync(process.execPath, [cli, 'decrypt', '--key', sec, '--output', out, log], { env });
  const secs = seconds(t, now());
  const matches = sha256(readFileSync(out)) === expectedSha;
  rmSync(out, { force: true });
  return { secs, matches };
}

/**
 * Times `runs` decrypts of `log` per series, the series alternating run by run. A series is
 * `{ name, cli, env }`. Returns per series the median, the range and whether every output matched.
 */
export async function timeDecrypts({ series, sec, log, dir, runs, expectedSha }) {
  const cipherMB = statSync(log).size / 1e6;
  const times = series.map(() => []);
  const matched = series.map(() => true);
  for (let run = 0; run < runs; run += 1) {
    for (const [i, s] of series.entries()) {
      const r = await decryptOnce({ cli: s.cli, sec, log, out: join(dir, `decrypted-${i}`), env: s.env, expectedSha });
      times[i].push(r.secs);
      matched[i] &&= r.matches;
    }
  }
  return series.map((s, i) => {
    const med = median(times[i]);
    return {
      name: s.name,
      cli: s.cli,
      runs,
      cipherMB: +cipherMB.toFixed(1),
      medianSeconds: +med.toFixed(3),
      minSeconds: +Math.min(...times[i]).toFixed(3),
      maxSeconds: +Math.max(...times[i]).toFixed(3),
      medianCipherMBps: +(cipherMB / med).toFixed(1),
      matches: matched[i],
    };
  });
}

/** The series for these builds: each in the admin's environment, the first also as this machine sets it up, when it sets NODE_EXTRA_CA_CERTS. */
export function decryptSeries(clis) {
  const series = clis.map((cli, i) => ({ name: clis.length > 1 ? `build ${i + 1}` : 'paranoid-pipes decrypt', cli, env: adminEnv() }));
  if (process.env.NODE_EXTRA_CA_CERTS) series.push({ name: `${series[0].name}, NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`, cli: clis[0], env: process.env });
  return series;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values } = parseArgs({ options: { lines: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '10' }, cli: { type: 'string', multiple: true }, out: { type: 'string' } } });
  const lines = Number(values.lines);
  const clis = values.cli ?? [CLI];
  await withBenchKey('pp-decrypt-flood-', async (dir, key) => {
    const copy = await generateCopy(dir, key, 'flood');
    rmSync(copy.log, { force: true });
    await copyFlood(copy.path, copy.pipe, lines);
    const expectedSha = sha256(nginxLines(lines, 1));
    const rows = await timeDecrypts({ series: decryptSeries(clis), sec: key.sec, log: copy.log, dir, runs: Number(values.runs), expectedSha });
    console.table(rows.map(({ cli, ...r }) => r));
    if (values.out) writeResults(values.out, { lines, rows });
    process.exitCode = rows.every((r) => r.matches) ? 0 : 1;
  });
}
