// Writes the bytes of a file into a pipe in chunks of the given size (default 4096), then exits.
// Usage: node bytes-writer.mjs PIPE FILE [CHUNK]
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

const [pipe, file, chunk = '4096'] = process.argv.slice(2);
const bytes = readFileSync(file);
const fd = openSync(pipe, 'w');
for (let at = 0; at < bytes.length; at += Number(chunk)) writeSync(fd, bytes.subarray(at, at + Number(chunk)));
closeSync(fd);
