/**
 * Split evaluation of a series-local range query (src/query/promql/seriesLocal.ts) over several
 * query threads. A 200-series dashboard panel spends most of its time per series (decoding chunks,
 * evaluating each step, printing ~100k values as JSON), and one thread does that alone while the
 * other cores idle. When the query's one selection is large enough, the main thread cuts it into
 * parts (partitionSet), each part is evaluated by its own thread as if it were the whole
 * selection, and the parts' rendered series are merged back into one answer in label order
 * (mergeParts), which is the order Prometheus gives a range query's series.
 *
 * Parts are chosen by a hash of each series' labels without the `__`-prefixed ones (`__name__`
 * and the metadata labels): two series that differ only there become equal once the metric name
 * is dropped, which is an error Prometheus reports, and both must land in the same part to be
 * seen. Each part is held to its share of --query.max-samples; a part that runs out of samples
 * makes the caller evaluate the whole query again in one thread (the budget then is Prometheus'),
 * so splitting never changes an answer. Pure: touches only the arrays it is given.
 */
import { LABEL_SEP, compareLabels, type Labels } from '../model/labels.js';
import { answerEnvelope } from './answerJson.js';
import { seriesCount, type RawSeriesSet } from './seriesSet.js';
import type { Gathered } from './headSelect.js';

/** MIN_PART_SERIES is the fewest series worth a part of their own. */
export const MIN_PART_SERIES = 32;
/** MIN_PART_BYTES is the fewest chunk bytes worth a part of their own (~40k samples). */
export const MIN_PART_BYTES = 64 * 1024;

/** PartInfo tells a query thread which part of a split query it evaluates. */
export interface PartInfo {
  index: number;
  count: number;
  /** maxSamples is this part's share of --query.max-samples. */
  maxSamples: number;
}

/**
 * PartAnswer is one part's result: its series rendered as JSON in label order, series i being
 * bytes[offs[i], offs[i+1]) (UTF-8), with their labels.
 */
export interface PartAnswer {
  labels: Labels[];
  bytes: Uint8Array;
  offs: Uint32Array;
  warnings: string[];
  infos: string[];
}

/**
 * partAnswer packs a part's series, rendered as strings (answerJson's matrixSeriesJson), into one
 * UTF-8 buffer. The query threads render bytes directly (src/query/render/matrixBytes.ts); this is
 * the string path their tests and loadtest/micro/points.bench.ts compare with.
 */
export function partAnswer(labels: Labels[], series: readonly string[], warnings: string[], infos: string[]): PartAnswer {
  const offs = new Uint32Array(series.length + 1);
  for (let i = 0; i < series.length; i++) offs[i + 1] = offs[i]! + Buffer.byteLength(series[i]!, 'utf8');
  const bytes = Buffer.allocUnsafeSlow(offs[series.length]!);
  for (let i = 0; i < series.length; i++) bytes.write(series[i]!, offs[i]!, 'utf8');
  return { labels, bytes, offs, warnings, infos };
}

/**
 * splitWays returns into how many parts to cut a gathered selection with `threads` query threads
 * free (1: do not split): at most one part per free thread, each with at least MIN_PART_SERIES
 * series and MIN_PART_BYTES of chunks. Head series are still refs (their chunk bytes are read by
 * the query threads): they count by number alone, each taken as worth a full part's share of
 * bytes (a head series of a range query holds up to 2-3 h of samples).
 */
export function splitWays(g: Gathered, threads: number): number {
  const series = gatheredCount(g);
  const heads = series - seriesCount(g.rest);
  const bytes = g.rest.bytes.length + heads * (MIN_PART_BYTES / MIN_PART_SERIES);
  return Math.max(1, Math.min(threads, Math.floor(series / MIN_PART_SERIES), Math.floor(bytes / MIN_PART_BYTES)));
}

/**
 * partitionGathered cuts a gathered selection into `ways` by the same hash as partitionSet: the
 * head refs by their label blobs (read through `blobOf`, which hands shard `shard`'s blob of
 * `ref` to the callback), the rest (blocks, peers) by partitionSet.
 */
export function partitionGathered(
  g: Gathered, ways: number,
  blobOf: (shard: number, ref: number, f: (buf: Uint8Array, off: number, len: number) => number) => number,
): Gathered[] {
  const skip = skipNames(g.external, g.drop);
  const rests = partitionSet(g.rest, ways, skip);
  const out: Gathered[] = rests.map((rest) => ({ heads: [], rest, external: g.external, drop: g.drop }));
  const part = (buf: Uint8Array, off: number, len: number): number => partOfBlob(buf, off, off + len, ways, skip);
  for (const h of g.heads) {
    const lists = Array.from({ length: ways }, () => new Int32Array(h.refs.length));
    const counts = new Uint32Array(ways);
    for (const ref of h.refs) {
      const w = blobOf(h.shard, ref, part);
      lists[w]![counts[w]!++] = ref;
    }
    for (let w = 0; w < ways; w++) {
      if (counts[w]! > 0) out[w]!.heads.push({ shard: h.shard, generation: h.generation, refs: lists[w]!.slice(0, counts[w]!) });
    }
  }
  return out;
}

/** gatheredCount is the number of series in a gathered selection (a series in a head and a block counts twice). */
export function gatheredCount(g: Gathered): number {
  let n = seriesCount(g.rest);
  for (const h of g.heads) n += h.refs.length;
  return n;
}

/**
 * partOfBlob returns the part (of `ways`) of the series whose label blob is buf[from, to): a hash
 * of its labels but those whose name starts with `__` or is one of `skip` (names as bytes).
 */
export function partOfBlob(buf: Uint8Array, from: number, to: number, ways: number, skip: readonly Uint8Array[] = []): number {
  let p = from;
  let h = 0x811c9dc5;
  while (p < to) {
    let q = p;
    while (buf[q] !== LABEL_SEP) q++;
    let r = q + 1;
    while (buf[r] !== LABEL_SEP) r++;
    // A name starting with "__" (0x5f 0x5f) is left out of the hash, as are the skipped names.
    if (!(q - p >= 2 && buf[p] === 0x5f && buf[p + 1] === 0x5f) && !isSkipped(buf, p, q, skip)) {
      for (let k = p; k <= r; k++) h = Math.imul(h ^ buf[k]!, 0x01000193);
    }
    p = r + 1;
  }
  return (h >>> 0) % ways;
}

function isSkipped(buf: Uint8Array, from: number, to: number, skip: readonly Uint8Array[]): boolean {
  outer: for (const n of skip) {
    if (n.length !== to - from) continue;
    for (let k = 0; k < n.length; k++) if (n[k] !== buf[from + k]) continue outer;
    return true;
  }
  return false;
}

/**
 * skipNames encodes the label names a part hash leaves out besides `__` ones: the external labels
 * (the same on every series of a tenant, but not yet in a head's blob) and the replica labels
 * (dropped from the set's series, still in the head's blob). A series read from a head and from
 * a block then lands in the same part.
 */
export function skipNames(external: Labels, drop: readonly string[]): Uint8Array[] {
  const enc = new TextEncoder();
  return [...external.map(([n]) => n), ...drop].map((n) => enc.encode(n));
}

/** partitionSet cuts `set` into `ways` sets (see the header); each has its own buffers. */
export function partitionSet(set: RawSeriesSet, ways: number, skip: readonly Uint8Array[] = []): RawSeriesSet[] {
  const n = seriesCount(set);
  const part = new Uint8Array(n);
  const series = new Uint32Array(ways);
  const chunks = new Uint32Array(ways);
  const chunkBytes = new Uint32Array(ways);
  const labelBytes = new Uint32Array(ways);
  for (let i = 0; i < n; i++) {
    const w = partOfBlob(set.labelBytes, set.labelOffs[i]!, set.labelOffs[i + 1]!, ways, skip);
    part[i] = w;
    series[w]!++;
    const c0 = set.seriesChunks[i]!;
    const c1 = set.seriesChunks[i + 1]!;
    chunks[w]! += c1 - c0;
    chunkBytes[w]! += set.chunkOffs[c1]! - set.chunkOffs[c0]!;
    labelBytes[w]! += set.labelOffs[i + 1]! - set.labelOffs[i]!;
  }
  const times = set.chunkMinT !== undefined;
  const out: RawSeriesSet[] = [];
  for (let w = 0; w < ways; w++) {
    const o: RawSeriesSet = {
      labelBytes: new Uint8Array(labelBytes[w]!), labelOffs: new Uint32Array(series[w]! + 1),
      seriesChunks: new Uint32Array(series[w]! + 1), chunkOffs: new Uint32Array(chunks[w]! + 1),
      bytes: new Uint8Array(chunkBytes[w]!), merged: new Uint8Array(series[w]!),
    };
    if (times) {
      o.chunkMinT = new Float64Array(chunks[w]!);
      o.chunkMaxT = new Float64Array(chunks[w]!);
    }
    if (set.warnings) o.warnings = [...set.warnings];
    out.push(o);
  }
  const si = new Uint32Array(ways);
  const ci = new Uint32Array(ways);
  for (let i = 0; i < n; i++) {
    const w = part[i]!;
    const o = out[w]!;
    const k = si[w]!++;
    const l0 = set.labelOffs[i]!;
    const l1 = set.labelOffs[i + 1]!;
    o.labelBytes.set(set.labelBytes.subarray(l0, l1), o.labelOffs[k]!);
    o.labelOffs[k + 1] = o.labelOffs[k]! + (l1 - l0);
    o.merged[k] = set.merged[i]!;
    const c0 = set.seriesChunks[i]!;
    const c1 = set.seriesChunks[i + 1]!;
    for (let c = c0; c < c1; c++) {
      const j = ci[w]!++;
      const b0 = set.chunkOffs[c]!;
      const b1 = set.chunkOffs[c + 1]!;
      o.bytes.set(set.bytes.subarray(b0, b1), o.chunkOffs[j]!);
      o.chunkOffs[j + 1] = o.chunkOffs[j]! + (b1 - b0);
      if (times) {
        o.chunkMinT![j] = set.chunkMinT![c]!;
        o.chunkMaxT![j] = set.chunkMaxT![c]!;
      }
    }
    o.seriesChunks[k + 1] = ci[w]!;
  }
  return out;
}

/** partBudget is part w's share of `maxSamples`: in proportion to its series, rounded up. */
export function partBudget(maxSamples: number, partSeries: number, allSeries: number): number {
  return allSeries === 0 ? maxSamples : Math.ceil((maxSamples * partSeries) / allSeries);
}

/**
 * mergeParts builds the response body of a split range query from its parts' answers: the series
 * merged in label order, the annotations of every part once each (in part order).
 */
export function mergeParts(parts: readonly PartAnswer[]): Uint8Array {
  const warnings = [...new Set(parts.flatMap((p) => p.warnings))];
  const infos = [...new Set(parts.flatMap((p) => p.infos))];
  const [head, tail] = answerEnvelope('matrix', '\u0000', warnings, infos).split('\u0000') as [string, string];
  let size = Buffer.byteLength(head, 'utf8') + Buffer.byteLength(tail, 'utf8') + 2;
  let count = 0;
  for (const p of parts) {
    size += p.bytes.length;
    count += p.labels.length;
  }
  size += Math.max(0, count - 1);
  const out = Buffer.allocUnsafeSlow(size);
  let w = out.write(head + '[', 0, 'utf8');
  const at = new Uint32Array(parts.length);
  for (let k = 0; k < count; k++) {
    let best = -1;
    for (let p = 0; p < parts.length; p++) {
      if (at[p]! >= parts[p]!.labels.length) continue;
      if (best < 0 || compareLabels(parts[p]!.labels[at[p]!]!, parts[best]!.labels[at[best]!]!) < 0) best = p;
    }
    const b = parts[best]!;
    const i = at[best]!++;
    if (k > 0) out[w++] = 0x2c;
    out.set(b.bytes.subarray(b.offs[i]!, b.offs[i + 1]!), w);
    w += b.offs[i + 1]! - b.offs[i]!;
  }
  w += out.write(']', w, 'latin1');
  out.write(tail, w, 'utf8');
  return out;
}
