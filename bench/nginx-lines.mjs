// Varied nginx "combined" log lines for the benchmarks: random addresses, paths, statuses,
// sizes, user agents and timestamps from a seeded generator, plus a running number so no line
// is ever repeated (a repeated line would flatter compression). Same seed, same bytes: the
// benchmark regenerates them to check what comes back.

/** xorshift32: small, seedable, fast enough to make 1,000,000 lines in well under a second. */
export function random(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD'];
const PATHS = ['/', '/login', '/logout', '/api/v1/orders', '/api/v1/users', '/static/app.js', '/static/site.css', '/account/settings', '/search', '/cart/checkout', '/images/banner.png', '/health'];
const STATUSES = [200, 200, 200, 200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 404, 500, 502, 503];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'Mozilla/5.0 (Windows NT 10.0) Chrome/130.0', 'Mozilla/5.0 (iPhone) Safari/604.1', 'curl/8.5.0', 'Go-http-client/1.1', 'python-requests/2.32.3'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n, w = 2) => String(n).padStart(w, '0');

export function nginxLine(i, rnd) {
  const pick = (list) => list[Math.floor(rnd() * list.length)];
  const ip = `${1 + Math.floor(rnd() * 223)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
  const stamp = `${pad(1 + Math.floor(rnd() * 28))}/${pick(MONTHS)}/2026:${pad(Math.floor(rnd() * 24))}:${pad(Math.floor(rnd() * 60))}:${pad(Math.floor(rnd() * 60))} +0000`;
  const query = rnd() < 0.5 ? `?id=${Math.floor(rnd() * 1e6)}&page=${Math.floor(rnd() * 50)}` : '';
  const referer = rnd() < 0.2 ? `https://example.org${pick(PATHS)}` : '-';
  return `${ip} - - [${stamp}] "${pick(METHODS)} ${pick(PATHS)}${query} HTTP/1.1" ${pick(STATUSES)} ${Math.floor(rnd() * 60_000)} "${referer}" "${pick(AGENTS)}" rid=${i}\n`;
}

/** COUNT lines as one buffer. */
export function nginxLines(count, seed = 1) {
  const rnd = random(seed);
  const parts = new Array(count);
  for (let i = 0; i < count; i += 1) parts[i] = nginxLine(i, rnd);
  return Buffer.from(parts.join(''), 'utf8');
}
