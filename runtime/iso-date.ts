/**
 * `Date.prototype.toISOString` from the date's UTC fields, for the copy.
 *
 * V8 11 (Node 20) works out the local time zone, and its display name, for every date string it
 * formats, the ISO one included, although that one is UTC: the first call loads ICU's time-zone
 * data, and about 1 MB of the node binary's pages stay resident for the rest of the process (a
 * bare `node` idles at 40.4 MB, 41.4 MB once it has called toISOString). The copy stamps events,
 * control records and file names with toISOString, from many modules; this gives the same
 * string from the UTC getters, which need no time zone. It replaces the method on the copy's
 * own Date.prototype only, with the builtin's property attributes, behaviour and errors.
 */
export function isoDatesFromUtcFields(): void {
  Object.defineProperty(Date.prototype, 'toISOString', { value: toISOString, writable: true, enumerable: false, configurable: true });
}

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** ECMA-262 21.4.4.36: YYYY-MM-DDTHH:mm:ss.sssZ; years outside 0..9999 as ±YYYYYY. */
const toISOString = {
  toISOString(this: Date): string {
    // Throws the builtin's TypeError for a `this` that is not a Date.
    const time = Date.prototype.getTime.call(this);
    if (!Number.isFinite(time)) throw new RangeError('Invalid time value');
    const y = this.getUTCFullYear();
    const year = y >= 0 && y <= 9999 ? `${y}`.padStart(4, '0') : `${y < 0 ? '-' : '+'}${`${Math.abs(y)}`.padStart(6, '0')}`;
    const ms = this.getUTCMilliseconds();
    return `${year}-${two(this.getUTCMonth() + 1)}-${two(this.getUTCDate())}T${two(this.getUTCHours())}:${two(this.getUTCMinutes())}:${two(this.getUTCSeconds())}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  },
}.toISOString;
