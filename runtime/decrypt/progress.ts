/**
 * A one-line progress display for stderr on a terminal: blocks, MB read, rate and, when the
 * total is known, ETA. Hand-written (about 60 lines) rather than a library: it needs one
 * redrawn line, no colours or bars, and nothing to bundle or audit.
 */
export class Progress {
  private bytesRead = 0;
  private blocks = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly started: number;

  constructor(
    private readonly write: (text: string) => void,
    /** Bytes of input in all, or null when unknown (a stream). */
    private readonly total: number | null,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  addBytes(n: number): void {
    this.bytesRead += n;
    this.maybeDraw();
  }

  addBlock(): void {
    this.blocks += 1;
    this.maybeDraw();
  }

  /** Clears the line, so a message printed next starts on a clean line. */
  clear(): void {
    if (this.drawn) this.write('\r\x1b[K');
    this.drawn = false;
  }

  private maybeDraw(): void {
    const t = this.now();
    if (t - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = t;
    this.write(`\r\x1b[K${describeProgress(this.blocks, this.bytesRead, this.total, (t - this.started) / 1000)}`);
    this.drawn = true;
  }
}

/** Redrawn at most this often: a terminal kept busy by redraws slows the job it reports on. */
const REDRAW_MS = 250;

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

export function describeProgress(blocks: number, bytes: number, total: number | null, seconds: number): string {
  const rate = seconds > 0 ? bytes / seconds : 0;
  const parts = [`decrypt: ${blocks} blocks`, total === null ? `${mb(bytes)} MB` : `${mb(bytes)}/${mb(total)} MB`, `${mb(rate)} MB/s`];
  if (total !== null && rate > 0 && bytes < total) parts.push(`ETA ${clock((total - bytes) / rate)}`);
  return parts.join('  ');
}

function clock(seconds: number): string {
  const s = Math.ceil(seconds);
  const mm = Math.floor(s / 60);
  return `${mm}:${String(s % 60).padStart(2, '0')}`;
}
