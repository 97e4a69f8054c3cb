// Benchmark writer: writes COUNT varied nginx-style lines into PIPE, one write(2) each, and
// times every write. Prints JSON: count, seconds, max/p99/p999 stall in ms.
// Usage: node stall-writer.mjs PIPE COUNT
import { closeSync, constants, openSync, writeSync } from 'node:fs';

const [pipe, count] = process.argv.slice(2);
const n = Number(count);
const paths = ['/', '/login', '/api/v1/orders', '/static/app.js', '/account', '/search'];
const agents = ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)'];
const fd = openSync(pipe, constants.O_WRONLY);
const stalls = new Float64Array(n);
const start = process.hrtime.bigint();
for (let i = 0; i < n; i += 1) {
  const line = `10.${i % 256}.${(i >> 8) % 256}.${(i * 7) % 256} - - [22/Nov/2026:06:00:00 +0000] "GET ${paths[i % 6]}?id=${i} HTTP/1.1" ${[200, 302, 404, 500][i % 4]} ${(i * 37) % 9000} "-" "${agents[i % 3]}" seq=${i}\n`;
  const t = process.hrtime.bigint();
  writeSync(fd, line);
  stalls[i] = Number(process.hrtime.bigint() - t) / 1e6;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
closeSync(fd);
const sorted = Float64Array.from(stalls).sort();
const at = (q) => sorted[Math.min(n - 1, Math.floor(q * n))];
process.stdout.write(JSON.stringify({ count: n, seconds, maxMs: sorted[n - 1], p99Ms: at(0.99), p999Ms: at(0.999) }));
