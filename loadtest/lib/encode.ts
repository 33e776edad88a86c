/**
 * encode.ts encodes a batch of series as an uncompressed WriteRequest by hand, so that the byte
 * layout is known: every sample is `09 <8-byte double> 10 <6-byte timestamp varint>`, and the
 * offset of each sample's 15 patchable bytes is reported. prepareLoad checks the result against
 * protobufjs' encoding. Timestamps are always encoded as 6-byte varints (valid for
 * 2^35 <= ms < 2^42, i.e. years 1971-2109), which keeps the layout fixed from round to round.
 */

/** varintLen is the number of bytes of v (a non-negative integer) as a varint. */
export function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) { v = Math.floor(v / 128); n++; }
  return n;
}
/** putVarint writes v as a varint at pos and returns the position after it. */
export function putVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 128) { buf[pos++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
  buf[pos++] = v;
  return pos;
}
/** ts6 encodes ts as exactly 6 varint bytes (2^35 <= ts < 2^42). */
export function ts6(ts: number): Uint8Array {
  const out = new Uint8Array(6);
  let v = ts;
  for (let k = 0; k < 5; k++) { out[k] = (v % 128) | 0x80; v = Math.floor(v / 128); }
  out[5] = v;
  return out;
}

/** PATCH_LEN is the number of bytes of a sample patched per round: 8 (double) + 1 (timestamp tag) + 6 (timestamp varint). */
export const PATCH_LEN = 15;

/** EncodedSeries is one series with its labels already encoded. */
export interface EncodedSeries { labelBytes: Uint8Array }

/** encodeLabels encodes sorted labels as the repeated TimeSeries.labels field. */
export function encodeLabels(labels: Array<[string, string]>): Uint8Array {
  const parts = labels.map(([n, v]) => [Buffer.from(n, 'utf8'), Buffer.from(v, 'utf8')] as const);
  let len = 0;
  for (const [n, v] of parts) {
    const inner = 1 + varintLen(n.length) + n.length + 1 + varintLen(v.length) + v.length;
    len += 1 + varintLen(inner) + inner;
  }
  const out = new Uint8Array(len);
  let p = 0;
  for (const [n, v] of parts) {
    const inner = 1 + varintLen(n.length) + n.length + 1 + varintLen(v.length) + v.length;
    out[p++] = 0x0a;
    p = putVarint(out, p, inner);
    out[p++] = 0x0a;
    p = putVarint(out, p, n.length);
    out.set(n, p); p += n.length;
    out[p++] = 0x12;
    p = putVarint(out, p, v.length);
    out.set(v, p); p += v.length;
  }
  return out;
}

/**
 * encodeRound0 builds the uncompressed WriteRequest of a batch (for the given values and
 * timestamp; round 0 when the template is made) and the offset of each patch region.
 */
export function encodeRound0(series: EncodedSeries[], values: number[], ts: number): { raw: Buffer; patch: Uint32Array } {
  let total = 0;
  for (const s of series) {
    const tsLen = s.labelBytes.length + 2 + 16;
    total += 1 + varintLen(tsLen) + tsLen;
  }
  const raw = Buffer.allocUnsafe(total);
  const patch = new Uint32Array(series.length);
  const tsBytes = ts6(ts);
  let p = 0;
  for (let j = 0; j < series.length; j++) {
    const s = series[j] as EncodedSeries;
    const tsLen = s.labelBytes.length + 2 + 16;
    raw[p++] = 0x0a;
    p = putVarint(raw, p, tsLen);
    raw.set(s.labelBytes, p); p += s.labelBytes.length;
    raw[p++] = 0x12; // TimeSeries.samples
    raw[p++] = 16; // Sample length
    raw[p++] = 0x09; // Sample.value, fixed64
    patch[j] = p;
    raw.writeDoubleLE(values[j] as number, p); p += 8;
    raw[p++] = 0x10; // Sample.timestamp, varint
    raw.set(tsBytes, p); p += 6;
  }
  if (p !== total) throw new Error(`internal: encoded ${p} bytes, expected ${total}`);
  return { raw, patch };
}
