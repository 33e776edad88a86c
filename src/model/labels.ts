/**
 * Label sets. On the wire between threads and in the head's arena a label set is a *label blob*:
 * for each label, sorted by name: uvarint nameLen, name bytes, uvarint valueLen, value bytes.
 * Off the hot path a label set is a `Labels` array of [name, value] pairs.
 */

/** Labels is a label set sorted by name. */
export type Labels = [name: string, value: string][];

const utf8 = new TextDecoder('utf-8', { fatal: false });
const enc = new TextEncoder();

/** putUvarint writes `v` (< 2^31) as a uvarint at `off` and returns the offset after it. */
export function putUvarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[off++] = v;
  return off;
}

/** uvarintSize is the number of bytes putUvarint writes for `v`. */
export function uvarintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/**
 * decodeLabelBlob turns a label blob into Labels. The bytes must not change while it runs
 * (callers copy shared memory first, or own it).
 */
export function decodeLabelBlob(buf: Uint8Array, off: number, len: number): Labels {
  const out: Labels = [];
  const end = off + len;
  let p = off;
  while (p < end) {
    let n = 0;
    let shift = 0;
    let b: number;
    do { b = buf[p++]!; n |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    const name = utf8.decode(buf.subarray(p, p + n));
    p += n;
    n = 0; shift = 0;
    do { b = buf[p++]!; n |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    const value = utf8.decode(buf.subarray(p, p + n));
    p += n;
    out.push([name, value]);
  }
  return out;
}

/** encodeLabelBlob turns Labels (already sorted) into a label blob. */
export function encodeLabelBlob(ls: Labels): Uint8Array {
  const parts = ls.map(([n, v]) => [enc.encode(n), enc.encode(v)] as const);
  let size = 0;
  for (const [n, v] of parts) size += uvarintSize(n.length) + n.length + uvarintSize(v.length) + v.length;
  const out = new Uint8Array(size);
  let p = 0;
  for (const [n, v] of parts) {
    p = putUvarint(out, p, n.length); out.set(n, p); p += n.length;
    p = putUvarint(out, p, v.length); out.set(v, p); p += v.length;
  }
  return out;
}

/** labelsToObject turns Labels into the JSON object shape of the Prometheus HTTP API. */
export function labelsToObject(ls: Labels): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [n, v] of ls) o[n] = v;
  return o;
}

/** compareLabels orders label sets the way Prometheus does (labels.Compare). */
export function compareLabels(a: Labels, b: Labels): number {
  const l = Math.min(a.length, b.length);
  for (let i = 0; i < l; i++) {
    const [an, av] = a[i]!;
    const [bn, bv] = b[i]!;
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return a.length - b.length;
}
