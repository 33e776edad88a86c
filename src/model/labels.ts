/**
 * Label sets. Between threads and in the head's arena a label set is a *label blob*: for each
 * label, sorted by name, the name bytes, 0xFF, the value bytes, 0xFF. 0xFF never occurs in UTF-8,
 * so the blob is unambiguous (the gateway refuses label bytes that contain it), and it is exactly
 * the Thanos hash input without its `tenant ‖ 0xFF` prefix. Off the hot path a label set is a
 * `Labels` array of [name, value] pairs.
 */

/** Labels is a label set sorted by name. */
export type Labels = [name: string, value: string][];

/** LABEL_SEP ends every name and every value in a label blob. */
export const LABEL_SEP = 0xff;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const enc = new TextEncoder();

/**
 * decodeLabelBlob turns a label blob into Labels. The bytes must not change while it runs
 * (callers copy shared memory first, or own it).
 */
export function decodeLabelBlob(buf: Uint8Array, off: number, len: number): Labels {
  const out: Labels = [];
  const end = off + len;
  let p = off;
  while (p < end) {
    let q = p;
    while (buf[q] !== LABEL_SEP) q++;
    const name = utf8.decode(buf.subarray(p, q));
    p = q + 1;
    q = p;
    while (buf[q] !== LABEL_SEP) q++;
    out.push([name, utf8.decode(buf.subarray(p, q))]);
    p = q + 1;
  }
  return out;
}

/** encodeLabelBlob turns Labels (already sorted) into a label blob. */
export function encodeLabelBlob(ls: Labels): Uint8Array {
  const parts = ls.map(([n, v]) => [enc.encode(n), enc.encode(v)] as const);
  let size = 0;
  for (const [n, v] of parts) size += n.length + v.length + 2;
  const out = new Uint8Array(size);
  let p = 0;
  for (const [n, v] of parts) {
    out.set(n, p); p += n.length; out[p++] = LABEL_SEP;
    out.set(v, p); p += v.length; out[p++] = LABEL_SEP;
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

/**
 * withLabels returns `ls` with every label of `over` set (replacing a label of the same name),
 * sorted by name: how external labels and the tenant label are put on a series.
 */
export function withLabels(ls: Labels, over: Iterable<readonly [string, string]>): Labels {
  const m = new Map(ls);
  for (const [k, v] of over) m.set(k, v);
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** tenantExternalLabels returns a tenant's external labels: the node's plus the tenant label, sorted. */
export function tenantExternalLabels(external: readonly (readonly [string, string])[], tenantLabelName: string, tenant: string): Labels {
  return withLabels([], [...external, [tenantLabelName, tenant]]);
}

/** BlobLabels is a sorted label set as UTF-8 name/value byte pairs, to merge into blobs. */
export type BlobLabels = readonly (readonly [name: Uint8Array, value: Uint8Array])[];

/** toBlobLabels encodes a sorted label set for mergeLabelBlob. */
export function toBlobLabels(ls: Labels): BlobLabels {
  return ls.map(([n, v]) => [enc.encode(n), enc.encode(v)] as const);
}

/** blobLabelsBytes is the most bytes mergeLabelBlob adds for `over`. */
export function blobLabelsBytes(over: BlobLabels): number {
  let n = 0;
  for (const [k, v] of over) n += k.length + v.length + 2;
  return n;
}

/** compareRange orders a[ap, aEnd) against b as Go's bytes.Compare does (code point order for UTF-8). */
function compareRange(a: Uint8Array, ap: number, aEnd: number, b: Uint8Array): number {
  const n = Math.min(aEnd - ap, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[ap + i]! - b[i]!;
    if (d !== 0) return d;
  }
  return aEnd - ap - b.length;
}

/**
 * mergeLabelBlob writes into `dst` at `at` the label blob src[off, off+len) with every label of
 * `over` set (replacing a label of the same name) and the labels named in `drop` left out: the
 * byte-level form of `withLabels` then a filter, without decoding. `dst` must have room for
 * len + blobLabelsBytes(over) bytes. Returns the end offset.
 */
export function mergeLabelBlob(dst: Uint8Array, at: number, src: Uint8Array, off: number, len: number, over: BlobLabels, drop: BlobLabels): number {
  // No closures here: called once per series, a closure made per call is compiled again after
  // every full GC (src/query/promql/rangeEval.ts SeriesSink); the helpers are module functions.
  const end = off + len;
  let p = off;
  let j = 0;
  let w = at;
  // Labels kept as they are go out in runs: src[run, p) is pending.
  let run = p;
  while (p < end) {
    let q = p;
    while (src[q] !== LABEL_SEP) q++;
    let r = q + 1;
    while (src[r] !== LABEL_SEP) r++;
    let c = 1;
    if (j < over.length && (c = compareRange(src, p, q, over[j]![0])) >= 0) {
      w = copyRun(dst, w, src, run, p);
      while (j < over.length && (c = compareRange(src, p, q, over[j]![0])) > 0) {
        w = putLabel(dst, w, over[j]![0], over[j]![1], drop);
        j++;
      }
      run = p;
    }
    let dropped = c === 0;
    for (let d = 0; d < drop.length && !dropped; d++) if (compareRange(src, p, q, drop[d]![0]) === 0) dropped = true;
    if (dropped) {
      // Replaced by the label of `over` with the same name (put next), or dropped.
      w = copyRun(dst, w, src, run, p);
      if (c === 0) {
        w = putLabel(dst, w, over[j]![0], over[j]![1], drop);
        j++;
      }
      p = r + 1;
      run = p;
    } else {
      p = r + 1;
    }
  }
  w = copyRun(dst, w, src, run, p);
  for (; j < over.length; j++) w = putLabel(dst, w, over[j]![0], over[j]![1], drop);
  return w;
}

/** copyRun copies src[from, to) to dst at `w`; returns the new end. */
function copyRun(dst: Uint8Array, w: number, src: Uint8Array, from: number, to: number): number {
  if (to - from > 32) dst.set(src.subarray(from, to), w);
  else for (let k = from; k < to; k++) dst[w + k - from] = src[k]!;
  return w + (to - from);
}

/** putLabel writes the label name=value to dst at `w` unless `drop` names it; returns the new end. */
function putLabel(dst: Uint8Array, w: number, name: Uint8Array, value: Uint8Array, drop: BlobLabels): number {
  for (let d = 0; d < drop.length; d++) if (compareRange(name, 0, name.length, drop[d]![0]) === 0) return w;
  dst.set(name, w); w += name.length; dst[w++] = LABEL_SEP;
  dst.set(value, w); w += value.length; dst[w++] = LABEL_SEP;
  return w;
}
