import type { Finding, StreamSummary } from './seal-check.ts';

/**
 * What `verify` prints: one line per finding (file, byte offset, kind, stream, detail), then one
 * line per stream, then a verdict; or the same as one JSON document (`--json`, described in
 * docs/verify.md). Never any logged bytes: only metadata of the blocks.
 */
export interface VerifyResult {
  readonly clean: boolean;
  readonly inputs: readonly string[];
  readonly blocks: number;
  readonly streams: readonly StreamSummary[];
  readonly findings: readonly Finding[];
}

export function formatText(result: VerifyResult): string {
  const lines: string[] = [];
  for (const f of result.findings) {
    const where = `${f.source}: offset ${f.offset}`;
    const stream = f.stream === null ? '' : ` stream ${f.stream}`;
    lines.push(`${f.severity === 'error' ? 'FAIL' : 'note'} ${where}: ${f.kind}:${stream}: ${f.detail}`);
  }
  for (const s of result.streams) {
    const state = s.end !== null ? 'ended' : 'open';
    const seal = s.sealed ? 'sealed' : 'UNSEALED';
    const when = s.start?.startedAt ?? 'start unknown';
    lines.push(`stream ${s.id}: ${seal}, blocks 0–${s.maxSeq} (${s.blocks} read), ${state}, started ${when}, first at ${s.first.source}: offset ${s.first.offset}`);
  }
  const errors = result.findings.filter((f) => f.severity === 'error').length;
  lines.push(
    result.clean
      ? `verified: ${result.blocks} blocks in ${result.streams.length} stream(s), every seal checked, nothing missing`
      : `NOT verified: ${errors} finding(s) in ${result.blocks} blocks, ${result.streams.length} stream(s)`,
  );
  return `${lines.join('\n')}\n`;
}

export function formatJson(result: VerifyResult): string {
  const streams = result.streams.map((s) => ({
    id: s.id,
    sealed: s.sealed,
    blocks: s.blocks,
    lastSeq: s.maxSeq,
    ended: s.end !== null,
    startedAt: s.start?.startedAt ?? null,
    host: s.start?.host ?? null,
    previous: s.start?.previous ?? null,
    first: s.first,
  }));
  return `${JSON.stringify({ clean: result.clean, inputs: result.inputs, blocks: result.blocks, streams, findings: result.findings }, null, 2)}\n`;
}
