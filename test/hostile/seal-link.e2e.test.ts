import { readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkFilePath } from '../../runtime/seal/link-file.ts';
import { cli, writerProcess } from '../helpers/cli.ts';
import { E2eFixture, QUIT, sendQuit } from '../helpers/e2e.ts';

/** The state file beside the log: made with the log's owner and mode; a symlink there is refused. */
const fx = new E2eFixture();
beforeAll(() => fx.setup());
afterAll(() => fx.dispose());

describe('the stream link file', () => {
  it('is made with the log owner and mode; a symlink put in its place is refused, left untouched, and the next stream shows as unlinked', async () => {
    const paths = await fx.generate(['--quit-string', QUIT, '--output-mode', '640'], 'link');
    let copy = await fx.startReading(paths);
    await writerProcess(paths.pipe, 'a', 5);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    const state = linkFilePath(paths.output);
    const st = statSync(state);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.uid).toBe(statSync(paths.output).uid);
    expect(JSON.parse(readFileSync(state, 'utf8'))).toMatchObject({ lastSeq: 2 });

    const bait = join(fx.tmp.path, 'bait');
    writeFileSync(bait, 'untouched\n');
    unlinkSync(state);
    symlinkSync(bait, state);
    copy = await fx.startReading(paths);
    await writerProcess(paths.pipe, 'b', 5);
    sendQuit(paths.pipe);
    expect(await copy.exited).toBe(0);
    expect(copy.stderr()).toMatch(/SEAL_LINK.*cannot open .*\.seal: ELOOP; this stream starts without a link/);
    expect(readFileSync(bait, 'utf8')).toBe('untouched\n');
    const r = await cli(['verify', '--key', fx.keyFiles.sec, paths.output]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toMatch(/unlinked: stream [0-9a-f]{32}: starts without a link to the stream before it/);
    const d = await fx.decrypt([paths.output], ['--show-control']);
    expect(d.stderr).toMatch(/"event":"seal-link-unavailable"/);
    expect(d.stderr).toMatch(/"sealKey":"\(withheld\)"/);
    expect(d.stderr).not.toMatch(/"sealKey":"[0-9a-f]{64}"/);
  });
});
