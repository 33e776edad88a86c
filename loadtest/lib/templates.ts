/**
 * templates.ts prepares the request bodies of a load run and patches them round by round.
 *
 * How bodies are made without the generator becoming the bottleneck:
 * a request body differs from one round to the next only in the 8 value bytes and the 6 timestamp
 * bytes of each sample. Before timing starts, every batch is encoded once (round 0) and compressed
 * with the native snappy encoder. The compressed block is then rewritten so that each sample's
 * value+timestamp bytes sit inside a snappy *literal* (and no copy reads from them): the result is
 * a "patchable" compressed template. Building the body of round r is then a memcpy of the template
 * plus 15 byte writes per series, with no protobuf encoding and no compression in the timed loop.
 * Memory stays bounded at about 60 B per series (template, offsets, ids, value state): 6 MB for
 * 100k series, whatever the number of rounds or the duration. Every template is checked at
 * preparation: round 0 must decode to the encoded request, round 1 patched into it must decode to
 * round 1 encoded from scratch, and the first batch is compared with protobufjs' encoding.
 */
import { performance } from 'node:perf_hooks';
import { uncompressSync } from 'snappy';
import { encodeWriteRequest, loadRemoteWriteSchema, type TimeSeriesMsg } from '../../src/proto/schema.js';
import { encodeLabels, encodeRound0, ts6, type EncodedSeries } from './encode.js';
import { ROUND_INTERVAL_MS, type LoadOptions } from './options.js';
import { makeSeries, valueAt } from './series.js';
import { patchableSnappy } from './snappyPatch.js';

/** Batch is one request template: a tenant and up to B series. */
export interface Batch {
  tenant: number;
  ids: Uint32Array;
  block: Buffer;
  offsets: Uint32Array;
}

/** PreparedLoad holds everything built before timing; reusable across runs with the same shape. */
export interface PreparedLoad {
  key: string;
  batches: Batch[];
  kind: Uint8Array;
  base: Float64Array;
  rate: Float64Array;
  startMs: number;
  rawBytes: number;
  compressedBytes: number;
  prepareSeconds: number;
}

/** shapeKey names the shape of a load: runs with the same key can share one PreparedLoad. */
export function shapeKey(o: LoadOptions): string {
  return [o.series, o.batch, o.tenants, o.labels, o.seed, o.startMs].join('/');
}

/** prepareLoad builds the per-batch compressed templates (the expensive part, done once). */
export function prepareLoad(opts: LoadOptions): PreparedLoad {
  const t0 = performance.now();
  const N = opts.series;
  const T = opts.tenants;
  const kind = new Uint8Array(N);
  const base = new Float64Array(N);
  const rate = new Float64Array(N);
  const batches: Batch[] = [];
  let rawBytes = 0;
  let compressedBytes = 0;
  const ts0 = opts.startMs;
  // Batches per tenant; requests of a round go out interleaved across tenants.
  const perTenant: Batch[][] = [];
  let checkedWithProtobufjs = false;
  for (let t = 0; t < T; t++) {
    const list: Batch[] = [];
    const count = Math.floor((N - 1 - t) / T) + 1; // series t, t+T, t+2T, ... < N
    for (let first = 0; first < count; first += opts.batch) {
      const n = Math.min(opts.batch, count - first);
      const ids = new Uint32Array(n);
      const enc: EncodedSeries[] = [];
      const values: number[] = [];
      const msgs: TimeSeriesMsg[] = [];
      for (let j = 0; j < n; j++) {
        const id = t + T * (first + j);
        ids[j] = id;
        const s = makeSeries(opts.seed, id, opts.labels);
        kind[id] = s.kind;
        base[id] = s.base;
        rate[id] = s.rate;
        enc.push({ labelBytes: encodeLabels(s.labels) });
        const v = valueAt(s.kind, s.base, s.rate, id, 0);
        values.push(v);
        if (!checkedWithProtobufjs) {
          msgs.push({ labels: s.labels.map(([name, value]) => ({ name, value })), samples: [{ value: v, timestamp: ts0 }] });
        }
      }
      const { raw, patch } = encodeRound0(enc, values, ts0);
      if (!checkedWithProtobufjs) {
        // The hand-written layout must match what the schema encodes.
        const ref = encodeWriteRequest({ timeseries: msgs });
        if (!Buffer.from(ref).equals(raw)) throw new Error('internal: generator encoding differs from protobufjs encoding');
        checkedWithProtobufjs = true;
      }
      const { block, offsets } = patchableSnappy(raw, patch);
      const batch: Batch = { tenant: t, ids, block, offsets };
      // Check the patching too: round 1 patched into the template must decode to round 1 encoded
      // from scratch. (Copies never read patched bytes, so this holds for every later round.)
      const values1 = Array.from(ids, (id) => valueAt(kind[id] as number, base[id] as number, rate[id] as number, id, 1));
      const raw1 = encodeRound0(enc, values1, ts0 + ROUND_INTERVAL_MS).raw;
      const body1 = uncompressSync(buildBody({ kind, base, rate, startMs: ts0 }, batch, 1), { asBuffer: true }) as Buffer;
      if (!body1.equals(raw1)) throw new Error('internal: patched template does not decode to the next round');
      rawBytes += raw.length;
      compressedBytes += block.length;
      list.push(batch);
    }
    perTenant.push(list);
  }
  const maxLen = Math.max(...perTenant.map((l) => l.length));
  for (let k = 0; k < maxLen; k++) {
    for (const list of perTenant) {
      const b = list[k];
      if (b) batches.push(b);
    }
  }
  return {
    key: shapeKey(opts), batches, kind, base, rate, startMs: ts0, rawBytes, compressedBytes,
    prepareSeconds: (performance.now() - t0) / 1000,
  };
}

/** buildBody makes the compressed body of one batch in one round. */
export function buildBody(prep: Pick<PreparedLoad, 'kind' | 'base' | 'rate' | 'startMs'>, b: Batch, round: number): Buffer {
  const body = Buffer.allocUnsafe(b.block.length);
  b.block.copy(body);
  const t = ts6(prep.startMs + round * ROUND_INTERVAL_MS);
  const t0 = t[0] as number, t1 = t[1] as number, t2 = t[2] as number;
  const t3 = t[3] as number, t4 = t[4] as number, t5 = t[5] as number;
  const { kind, base, rate } = prep;
  const ids = b.ids;
  const offs = b.offsets;
  for (let j = 0; j < ids.length; j++) {
    const id = ids[j] as number;
    const off = offs[j] as number;
    body.writeDoubleLE(valueAt(kind[id] as number, base[id] as number, rate[id] as number, id, round), off);
    // body[off + 8] is the timestamp tag (0x10), unchanged.
    body[off + 9] = t0; body[off + 10] = t1; body[off + 11] = t2;
    body[off + 12] = t3; body[off + 13] = t4; body[off + 14] = t5;
  }
  return body;
}

/** verifyPrepared decodes a patched body of round `round` with protobufjs and checks it. */
export function verifyPrepared(prep: PreparedLoad, opts: LoadOptions, round: number): void {
  const b = prep.batches[0];
  if (!b) return;
  const raw = uncompressSync(buildBody(prep, b, round), { asBuffer: true }) as Buffer;
  const { WriteRequest } = loadRemoteWriteSchema();
  const msg = WriteRequest.toObject(WriteRequest.decode(raw), { longs: Number }) as { timeseries: TimeSeriesMsg[] };
  if (msg.timeseries.length !== b.ids.length) throw new Error('verify: wrong series count');
  for (let j = 0; j < b.ids.length; j++) {
    const id = b.ids[j] as number;
    const s = makeSeries(opts.seed, id, opts.labels);
    const got = msg.timeseries[j] as TimeSeriesMsg;
    const sample = got.samples[0];
    const want = valueAt(s.kind, s.base, s.rate, id, round);
    if (!sample || sample.timestamp !== prep.startMs + round * ROUND_INTERVAL_MS || (sample.value ?? 0) !== want) {
      throw new Error(`verify: series ${id} round ${round}: bad sample ${JSON.stringify(sample)}`);
    }
    if (got.labels.length !== s.labels.length || got.labels.some((l, k) => l.name !== s.labels[k]?.[0] || l.value !== s.labels[k]?.[1])) {
      throw new Error(`verify: series ${id}: labels differ`);
    }
  }
}
