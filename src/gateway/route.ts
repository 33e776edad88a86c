/**
 * Router turns a decoded WriteRequest into one batch record per shard (framing in
 * src/sharedmem/layout.ts). For every series it validates the label set, hashes tenant and labels
 * with xxhash64 (wasm, src/hash/xxhash64.wat) the way Thanos does (tenant ‖ 0xFF ‖ name ‖ 0xFF ‖ value ‖ 0xFF …, labels in the
 * order received), picks the shard from the hash and copies labels and samples into that shard's
 * batch buffer.
 *
 * With a hashring (src/gateway/replication.ts) the same pass instead records each valid series'
 * hash, label blob and sample range in a PlacedSeries (the series are placed on peers before any
 * of them is written), and routeSubset() later fills the batches with the series this node holds.
 *
 * Hot path: buffers are per router and reused; nothing is allocated per series or per sample.
 */
import { BatchKind, BATCH_HEADER_BYTES, SAMPLE_BYTES, SERIES_HEADER_BYTES } from '../sharedmem/layout.js';
import { WasmXxh64 } from '../hash/xxhash64Wasm.js';
import { ErrorCode } from '../errors.js';
import { Limit, LimitError, refusal } from './limits.js';
import type { WriteRequestDecoder } from './wire.js';

/** RouteLimits bounds what one series may carry (per tenant: see src/gateway/limits.ts). */
export interface RouteLimits {
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  maxLabelNamesPerSeries: number;
  /** The names refusals give these bounds: a limits-config key, or the built-in's name. */
  labelNameLengthKey: string;
  labelValueLengthKey: string;
  labelCountKey: string;
}

/** DEFAULT_ROUTE_LIMITS are the built-in bounds (the head stores labels in arena segments). */
export const DEFAULT_ROUTE_LIMITS: RouteLimits = {
  maxLabelNameLength: 1024,
  maxLabelValueLength: 64 * 1024,
  maxLabelNamesPerSeries: 256,
  labelNameLengthKey: 'max_label_name_length',
  labelValueLengthKey: 'max_label_value_length',
  labelCountKey: 'max_label_names_per_series',
};

/** Invalid names why a label set is refused (a conflict, as in Thanos). */
const Invalid = { NONE: 0, EMPTY_SET: 1, EMPTY_NAME_OR_VALUE: 2, DUPLICATE_NAME: 3, UNSORTED: 4, NOT_UTF8: 5 } as const;
const INVALID_MESSAGES = [
  '',
  'label set is empty',
  'label set contains a label with empty name or value',
  'label set contains duplicate label names',
  'label set is not sorted by name',
  'label set contains invalid UTF-8 (byte 0xFF)',
];

/** BatchBuffer is one shard's batch under construction. */
export class BatchBuffer {
  bytes = new Uint8Array(64 * 1024);
  u32 = new Uint32Array(this.bytes.buffer);
  f64 = new Float64Array(this.bytes.buffer);
  len = 0;
  series = 0;

  /** ensure grows the buffer to hold `extra` more bytes (doubling; views rebuilt once). */
  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.bytes.length) return;
    let cap = this.bytes.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.len));
    this.bytes = next;
    this.u32 = new Uint32Array(next.buffer);
    this.f64 = new Float64Array(next.buffer);
  }

  /** begin starts a batch for `tenant` (UTF-8 bytes). */
  begin(tenant: Uint8Array): void {
    this.len = 0;
    this.series = 0;
    this.ensure(BATCH_HEADER_BYTES + tenant.length + 8);
    this.u32[0] = BatchKind.APPEND;
    this.u32[4] = tenant.length;
    this.bytes.set(tenant, BATCH_HEADER_BYTES);
    this.len = (BATCH_HEADER_BYTES + tenant.length + 7) & ~7;
  }

  /** finish writes the header's length and series count; seq is set by Shard.submit. */
  finish(): void {
    this.u32[1] = this.len;
    this.u32[3] = this.series;
  }
}

/**
 * PlacedSeries holds, for the valid series of one request (dense index k, in request order), what
 * placement and forwarding need: the series hash (`lo`, `hi`), its label blob (in `blobs`), and
 * its sample range in the decoder's arrays (`s0`, `s1`). Arrays grow geometrically and are reused
 * between requests; valid until the next route() into it.
 */
export class PlacedSeries {
  count = 0;
  lo = new Uint32Array(1024);
  hi = new Uint32Array(1024);
  blobOff = new Int32Array(1024);
  blobLen = new Int32Array(1024);
  s0 = new Int32Array(1024);
  s1 = new Int32Array(1024);
  blobs = new Uint8Array(64 * 1024);
  private blobEnd = 0;

  /** begin resets for a request of at most `series` series and `bytes` label bytes. */
  begin(series: number, bytes: number): void {
    this.count = 0;
    this.blobEnd = 0;
    if (this.lo.length < series) {
      const n = Math.max(series, this.lo.length * 2);
      this.lo = new Uint32Array(n); this.hi = new Uint32Array(n);
      this.blobOff = new Int32Array(n); this.blobLen = new Int32Array(n);
      this.s0 = new Int32Array(n); this.s1 = new Int32Array(n);
    }
    if (this.blobs.length < bytes) this.blobs = new Uint8Array(Math.max(bytes, this.blobs.length * 2));
  }

  /** add records one valid series; its blob is `src[from, to)`. */
  add(lo: number, hi: number, src: Uint8Array, from: number, to: number, s0: number, s1: number): void {
    const k = this.count++;
    const at = this.blobEnd;
    const len = to - from;
    this.lo[k] = lo; this.hi[k] = hi;
    this.blobOff[k] = at; this.blobLen[k] = len;
    this.s0[k] = s0; this.s1[k] = s1;
    if (len <= 64) { const b = this.blobs; for (let i = 0; i < len; i++) b[at + i] = src[from + i]!; }
    else this.blobs.set(src.subarray(from, to), at);
    this.blobEnd = at + len;
  }
}

/** RouteStats counts, per request, what the router kept and dropped. */
export interface RouteStats {
  series: number;
  samples: number;
  invalidSeries: number;
  invalidSamples: number;
  firstInvalid: string;
  exemplarsDropped: number;
  histogramsDropped: number;
  metadataDropped: number;
}

/** Router routes decoded requests to `shards` batch buffers. One per gateway thread. */
export class Router {
  readonly batches: BatchBuffer[];
  readonly shards: number;
  readonly limits: RouteLimits;
  /** xxhash64 in wasm; the hash input is written straight into its memory. */
  private readonly hasher = new WasmXxh64();
  readonly stats: RouteStats = {
    series: 0, samples: 0, invalidSeries: 0, invalidSamples: 0, firstInvalid: '',
    exemplarsDropped: 0, histogramsDropped: 0, metadataDropped: 0,
  };

  constructor(shards: number, limits: RouteLimits = DEFAULT_ROUTE_LIMITS) {
    this.shards = shards;
    this.limits = limits;
    this.batches = Array.from({ length: shards }, () => new BatchBuffer());
  }

  /**
   * route fills the batch buffers from a decoded request. Series with invalid label sets are
   * skipped and counted (conflict, 409 later); label counts and sizes over `lim` (the tenant's
   * bounds; the router's own by default) fail the whole request with 400 before anything is
   * written. With `place`, valid series are recorded there (for placement on a hashring) and no
   * batch is filled.
   */
  route(d: WriteRequestDecoder, buf: Uint8Array, tenant: Uint8Array, lim: RouteLimits = this.limits, place: PlacedSeries | null = null): void {
    const st = this.stats;
    st.series = 0; st.samples = 0; st.invalidSeries = 0; st.invalidSamples = 0; st.firstInvalid = '';
    st.exemplarsDropped = d.exemplarTotal; st.histogramsDropped = d.histogramTotal; st.metadataDropped = d.metadataCount;
    if (place === null) for (const b of this.batches) b.begin(tenant);
    // Label blobs never exceed the decoded body (see the hasher sizing below).
    else place.begin(d.seriesCount, buf.length);
    const n = this.shards;
    // Hot path: the tenant's bounds are read once per request, not per label.
    const maxName = lim.maxLabelNameLength;
    const maxValue = lim.maxLabelValueLength;
    const maxLabels = lim.maxLabelNamesPerSeries;
    const tlen = tenant.length;
    // A series' hash input never exceeds the tenant prefix plus the decoded body (every label
    // costs at least its bytes + 2 in protobuf): size the hasher once per request, and write the
    // tenant prefix once.
    this.hasher.ensure(tlen + 1 + buf.length);
    const hb = this.hasher.input;
    for (let i = 0; i < tlen; i++) hb[i] = tenant[i]!;
    hb[tlen] = 0xff;
    for (let s = 0; s < d.seriesCount; s++) {
      const l0 = d.labelStart[s]!;
      const l1 = d.labelStart[s + 1]!;
      const s0 = d.sampleStart[s]!;
      const s1 = d.sampleStart[s + 1]!;
      // Limits fail the whole request (400); nothing reaches a ring before route() returns.
      if (l1 - l0 > maxLabels) this.tooMany(l1 - l0, lim, tenant);
      // One pass over the label bytes checks them and writes the hash input
      //   tenant ‖ 0xFF ‖ (name ‖ 0xFF ‖ value ‖ 0xFF)…
      // straight into the wasm hasher's memory; its tail after the tenant prefix is the label blob
      // (src/model/labels.ts), copied into the batch afterwards in one piece. Short strings are
      // copied by hand (hot path: subarray() would allocate a view per label).
      let h = tlen + 1;
      let why: number = l1 === l0 ? Invalid.EMPTY_SET : Invalid.NONE;
      let sep = 0;
      let prev = -1;
      let prevLen = 0;
      for (let l = l0; l < l1; l++) {
        const no = d.nameOff[l]!, nl = d.nameLen[l]!, vo = d.valueOff[l]!, vl = d.valueLen[l]!;
        if (nl > maxName || vl > maxValue) this.tooLong(d, buf, l, lim, tenant);
        if ((nl === 0 || vl === 0) && why === Invalid.NONE) why = Invalid.EMPTY_NAME_OR_VALUE;
        const at = h;
        for (let i = 0; i < nl; i++) { const c = buf[no + i]!; sep |= c + 1; hb[h++] = c; }
        if (prev >= 0 && why === Invalid.NONE) {
          // Names must be strictly increasing (byte order): equal is a duplicate.
          const m = prevLen < nl ? prevLen : nl;
          let i = 0;
          while (i < m && hb[prev + i] === hb[at + i]) i++;
          const c = i < m ? hb[prev + i]! - hb[at + i]! : prevLen - nl;
          if (c === 0) why = Invalid.DUPLICATE_NAME;
          else if (c > 0) why = Invalid.UNSORTED;
        }
        prev = at;
        prevLen = nl;
        hb[h++] = 0xff;
        if (vl <= 64) {
          for (let i = 0; i < vl; i++) { const c = buf[vo + i]!; sep |= c + 1; hb[h++] = c; }
        } else {
          const v = buf.subarray(vo, vo + vl);
          if (v.includes(0xff)) sep = 0x100;
          hb.set(v, h); h += vl;
        }
        hb[h++] = 0xff;
      }
      if (s1 === s0) continue; // only histograms/exemplars: counted as dropped above
      // c + 1 has bit 8 set only for c = 0xFF: a byte that is never valid UTF-8 would make the
      // blob ambiguous, so the series is refused like any other invalid label set.
      if (why === Invalid.NONE && (sep & 0x100) !== 0) why = Invalid.NOT_UTF8;
      if (why !== Invalid.NONE) {
        st.invalidSeries++;
        st.invalidSamples += s1 - s0;
        if (st.firstInvalid === '') st.firstInvalid = INVALID_MESSAGES[why]!;
        continue;
      }
      const lo = this.hasher.hash(h);
      const hi = this.hasher.hi;
      if (place !== null) {
        place.add(lo, hi, hb, tlen + 1, h, s0, s1);
        st.series++;
        st.samples += s1 - s0;
        continue;
      }
      // Shard choice mixes the high word so it stays independent of ring placement (hash mod N).
      const shard = (Math.imul(hi ^ (hi >>> 16), 0x45d9f3b) >>> 0) % n;
      const b = this.batches[shard]!;
      const nSamples = s1 - s0;
      const blobLen = h - tlen - 1;
      const recLen = (SERIES_HEADER_BYTES + blobLen + 7) & ~7;
      b.ensure(recLen + nSamples * SAMPLE_BYTES);
      const bp = b.len;
      const u32 = b.u32;
      u32[bp >>> 2] = lo;
      u32[(bp >>> 2) + 1] = hi;
      u32[(bp >>> 2) + 2] = blobLen;
      u32[(bp >>> 2) + 3] = nSamples;
      b.bytes.set(hb.subarray(tlen + 1, h), bp + SERIES_HEADER_BYTES);
      let q = bp + recLen;
      const f64 = b.f64;
      const vw = d.valueWords;
      const ts = d.timestamps;
      for (let k = s0; k < s1; k++) {
        f64[q >>> 3] = ts[k]!;
        u32[(q >>> 2) + 2] = vw[2 * k]!;
        u32[(q >>> 2) + 3] = vw[2 * k + 1]!;
        q += SAMPLE_BYTES;
      }
      b.len = q;
      b.series++;
      st.series++;
      st.samples += nSamples;
    }
    if (place === null) for (const b of this.batches) b.finish();
  }

  /**
   * routeSubset fills the batch buffers with the placed series `series` (dense indices into
   * `place`, filled by route() from the same decoder `d`). The record layout is route()'s; it is
   * written inline there because that loop is the single-node hot path.
   */
  routeSubset(d: WriteRequestDecoder, tenant: Uint8Array, place: PlacedSeries, series: Int32Array): void {
    for (const b of this.batches) b.begin(tenant);
    const n = this.shards;
    const ts = d.timestamps;
    const vw = d.valueWords;
    const blobs = place.blobs;
    for (let j = 0; j < series.length; j++) {
      const k = series[j]!;
      const lo = place.lo[k]!, hi = place.hi[k]!, s0 = place.s0[k]!, s1 = place.s1[k]!;
      const blobOff = place.blobOff[k]!, blobLen = place.blobLen[k]!;
      const shard = (Math.imul(hi ^ (hi >>> 16), 0x45d9f3b) >>> 0) % n;
      const b = this.batches[shard]!;
      const nSamples = s1 - s0;
      const recLen = (SERIES_HEADER_BYTES + blobLen + 7) & ~7;
      b.ensure(recLen + nSamples * SAMPLE_BYTES);
      const bp = b.len;
      const u32 = b.u32;
      u32[bp >>> 2] = lo;
      u32[(bp >>> 2) + 1] = hi;
      u32[(bp >>> 2) + 2] = blobLen;
      u32[(bp >>> 2) + 3] = nSamples;
      const bb = b.bytes;
      const at = bp + SERIES_HEADER_BYTES;
      // Short blobs by hand: subarray() would allocate a view per series.
      if (blobLen <= 64) for (let i = 0; i < blobLen; i++) bb[at + i] = blobs[blobOff + i]!;
      else bb.set(blobs.subarray(blobOff, blobOff + blobLen), at);
      let q = bp + recLen;
      const f64 = b.f64;
      for (let k2 = s0; k2 < s1; k2++) {
        f64[q >>> 3] = ts[k2]!;
        u32[(q >>> 2) + 2] = vw[2 * k2]!;
        u32[(q >>> 2) + 3] = vw[2 * k2 + 1]!;
        q += SAMPLE_BYTES;
      }
      b.len = q;
      b.series++;
    }
    for (const b of this.batches) b.finish();
  }

  /** tooMany throws the 400 for a series with more labels than `lim` allows. */
  private tooMany(count: number, lim: RouteLimits, tenant: Uint8Array): never {
    const max = lim.maxLabelNamesPerSeries;
    throw new LimitError(ErrorCode.BadRequest, Limit.LABEL_COUNT, count - max,
      refusal('label', `series has ${count} labels`, lim.labelCountKey, max, new TextDecoder().decode(tenant)));
  }

  /** tooLong throws the 400 for label `l` over a length limit of `lim`. */
  private tooLong(d: WriteRequestDecoder, buf: Uint8Array, l: number, lim: RouteLimits, tenant: Uint8Array): never {
    const t = new TextDecoder().decode(tenant);
    const nl = d.nameLen[l]!;
    const show = (off: number, len: number): string => JSON.stringify(new TextDecoder().decode(buf.subarray(off, off + Math.min(len, 100))));
    if (nl > lim.maxLabelNameLength) {
      throw new LimitError(ErrorCode.BadRequest, Limit.LABEL_NAME_LENGTH, nl - lim.maxLabelNameLength,
        refusal('label name length', `label name ${show(d.nameOff[l]!, nl)}${nl > 100 ? '…' : ''} has ${nl} bytes`, lim.labelNameLengthKey, lim.maxLabelNameLength, t));
    }
    const vl = d.valueLen[l]!;
    throw new LimitError(ErrorCode.BadRequest, Limit.LABEL_VALUE_LENGTH, vl - lim.maxLabelValueLength,
      refusal('label value length', `value of label ${show(d.nameOff[l]!, nl)} has ${vl} bytes`, lim.labelValueLengthKey, lim.maxLabelValueLength, t));
  }
}
