import { isUtf8 } from 'node:buffer';
import type { ControlRecord } from '../metadata.ts';
import type { WriteBytes } from './output-text.ts';
import type { Problem } from './reader.ts';
import { linesOf, selectsLine, type Selection } from './selection.ts';
import type { BlockContext, Presenter } from './view.ts';

/**
 * JSON lines (docs/json-output.md): one object per log line, control record and problem. Every
 * object carries `"v"`, the schema version, and `"kind"`. Bumped only when a field changes
 * meaning or goes away; new fields may appear within a version.
 */
export const JSON_SCHEMA_VERSION = 1;

/**
 * The fields every line and control object shares: where and when the block was sealed, and
 * (only for a source other than the baked pipe) the source id.
 */
function blockFields(ctx: BlockContext): string {
  const time = ctx.info.date === null ? null : ctx.info.date.toISOString();
  return `"time":${JSON.stringify(time)},"host":${JSON.stringify(ctx.host)},"stream":${JSON.stringify(ctx.meta?.streamId ?? null)},"seq":${ctx.meta?.seq ?? null}${ctx.source === undefined || ctx.source === null ? '' : `,"source":${JSON.stringify(ctx.source)}`}`;
}

/**
 * A line's bytes as a JSON string: as text when they are valid UTF-8, else base64 with
 * `"encoding":"base64"` so no byte is lost or replaced.
 */
function lineField(bytes: Buffer): string {
  return isUtf8(bytes) ? `"line":${jsonString(bytes.toString('utf8'))}` : `"line":"${bytes.toString('base64')}","encoding":"base64"`;
}

/**
 * JSON.stringify escapes C0 controls but leaves C1 controls and the characters that reorder or
 * hide text (bidi overrides, zero-width) as they are; `\uXXXX` for those too, so JSON read on a
 * terminal cannot act on it either. The decoded string is the same.
 */
const HIDDEN = /[\u0080-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
function jsonString(text: string): string {
  return JSON.stringify(text).replace(HIDDEN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function jsonPresenter(write: WriteBytes, selection: Selection): Presenter {
  const head = `{"v":${JSON_SCHEMA_VERSION},`;
  return {
    async data(block: Buffer, ctx: BlockContext): Promise<void> {
      const common = blockFields(ctx);
      let out = '';
      for (const line of linesOf(block)) {
        if (!selectsLine(selection, line.bytes)) continue;
        out += `${head}"kind":"line",${common},${lineField(line.bytes)}${line.newline ? '' : ',"newline":false'}}\n`;
      }
      if (out !== '') await write(Buffer.from(out, 'utf8'));
    },
    async control(record: ControlRecord, ctx: BlockContext): Promise<void> {
      // Control records hold no logged bytes, so no pattern applies; with --grep only lines are wanted.
      if (selection.grep.length > 0) return;
      await write(Buffer.from(`${head}"kind":"control",${blockFields(ctx)},"type":${JSON.stringify(record.type)},"record":${JSON.stringify(record)}}\n`, 'utf8'));
    },
    async problem(p: Problem): Promise<void> {
      await write(Buffer.from(`${head}"kind":"problem","source":${JSON.stringify(p.source)},"offset":${p.offset},"length":${p.length},"problem":${JSON.stringify(p.kind)},"detail":${JSON.stringify(p.detail)}}\n`, 'utf8'));
    },
  };
}
