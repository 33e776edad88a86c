/**
 * forward.bench.ts: compression of forwarded replica writes, native snappy (`snappy`, napi-rs, what
 * Sluice and Prometheus send) against lz4 (`lz4-wasm`, the codec the WAL uses for series records),
 * on the bodies a Sluice node really forwards.
 *
 * Fixture: the load generator's seeded series (loadtest/lib/series.ts, 8 labels, one sample each).
 * A 500-series client request is placed on a 3-endpoint ketama ring at RF=3 with the gateway's own
 * code (xxhash64 of tenant + label blob, KetamaRing, distribute) and every (endpoint, replica)
 * group is encoded by the forwarder's WriteRequestEncoder: those are the peer bodies (about 167
 * series each at RF=3 on 3 nodes). The whole 500-series request encoded the same way is measured
 * too. For each codec and body: compressed size, compress MB/s and decompress MB/s (of
 * uncompressed bytes, single thread, round trip checked byte for byte).
 *
 *   node dist/loadtest/micro/forward.bench.js [seconds-per-case]
 *
 * Touches nothing outside the process (no files, no network).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { snappyCompress, snappyNativeAvailable, snappyUncompressWith } from '../../src/gateway/snappy.js';
import { xxh64, xxh64Result } from '../../src/hash/xxhash64.js';
import { encodeLabelBlob } from '../../src/model/labels.js';
import { WriteRequestEncoder } from '../../src/peer/encode.js';
import { KetamaRing } from '../../src/peer/ketama.js';
import { distribute } from '../../src/peer/replicate.js';
import { lz4 } from '../../src/wal/lz4.js';
import { makeSeries, valueAt } from '../lib/series.js';

/** ForwardBody is one fixture: a name and its uncompressed WriteRequest bytes. */
export interface ForwardBody { name: string; series: number; raw: Uint8Array }

/** CodecResult is one codec measured on one body. */
export interface CodecResult {
  body: string;
  codec: 'snappy' | 'lz4';
  rawBytes: number;
  compressedBytes: number;
  /** ratio is raw / compressed. */
  ratio: number;
  compressMBps: number;
  decompressMBps: number;
}

/** ForwardBenchOptions tune the run. */
export interface ForwardBenchOptions { seconds?: number; warmupSeconds?: number; seed?: number; quiet?: boolean }

const TENANT = 'default-tenant';
const SERIES = 500;
const START_MS = 1_700_000_000_000;

/**
 * forwardBodies builds the fixture: the peer bodies of one 500-series request (RF=3, 3 endpoints,
 * ketama) and the whole request, as the forwarder encodes them.
 */
export function forwardBodies(seed = 1, firstSeries = 0): ForwardBody[] {
  const enc = new TextEncoder();
  const blobs: Uint8Array[] = [];
  const lo = new Uint32Array(SERIES);
  const hi = new Uint32Array(SERIES);
  const ts = new Float64Array(SERIES);
  const vw = new Uint32Array(2 * SERIES);
  const f64 = new Float64Array(1);
  const w32 = new Uint32Array(f64.buffer);
  const prefix = enc.encode(TENANT);
  for (let s = 0; s < SERIES; s++) {
    const id = firstSeries + s;
    const def = makeSeries(seed, id, 8);
    const blob = encodeLabelBlob(def.labels);
    blobs.push(blob);
    const input = new Uint8Array(prefix.length + 1 + blob.length);
    input.set(prefix, 0);
    input[prefix.length] = 0xff;
    input.set(blob, prefix.length + 1);
    lo[s] = xxh64(input, 0, input.length);
    hi[s] = xxh64Result[1]! >>> 0;
    ts[s] = START_MS;
    f64[0] = valueAt(def.kind, def.base, def.rate, id, 0);
    vw[2 * s] = w32[0]!;
    vw[2 * s + 1] = w32[1]!;
  }
  const addrs = ['127.0.0.1:19291', '127.0.0.1:19292', '127.0.0.1:19293'];
  const ring = new KetamaRing(addrs.map((address) => ({ address, az: '' })), 3);
  const writes = distribute(ring, lo, hi, SERIES, [0, 1, 2]);
  const encoder = new WriteRequestEncoder();
  const encode = (series: ArrayLike<number>): Uint8Array => {
    encoder.reset();
    for (let j = 0; j < series.length; j++) {
      const k = series[j]!;
      const b = blobs[k]!;
      encoder.addSeries(b, 0, b.length, ts, vw, k, k + 1);
    }
    return new Uint8Array(encoder.finish());
  };
  // The peer bodies node 0 would send: every group whose endpoint is not node 0.
  const out: ForwardBody[] = [];
  for (const w of writes) {
    if (w.endpoint === 0) continue;
    out.push({ name: `peer body (replica ${w.replica}, endpoint ${w.endpoint})`, series: w.series.length, raw: encode(w.series) });
  }
  out.push({ name: 'whole request', series: SERIES, raw: encode(Array.from({ length: SERIES }, (_, i) => i)) });
  return out;
}

let sink = 0;

/** timeOps runs `op` for `seconds` and returns operations per second. */
function timeOps(op: () => number, seconds: number): number {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let ops = 0;
  let now = start;
  do {
    for (let i = 0; i < 8; i++) sink += op();
    ops += 8;
    now = performance.now();
  } while (now < deadline);
  return (ops * 1000) / (now - start);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** measureCodecs measures both codecs on each body (peer bodies together, the whole request alone). */
export function measureCodecs(bodies: ForwardBody[], opts: Required<Pick<ForwardBenchOptions, 'seconds' | 'warmupSeconds'>>): CodecResult[] {
  if (!snappyNativeAvailable) throw new Error('the native snappy binding did not load');
  const l = lz4();
  const groups: Array<{ name: string; list: ForwardBody[] }> = [
    { name: `peer bodies (${bodies.filter((b) => b.name !== 'whole request').map((b) => b.series).join('+')} series)`, list: bodies.filter((b) => b.name !== 'whole request') },
    { name: 'whole request (500 series)', list: bodies.filter((b) => b.name === 'whole request') },
  ];
  const results: CodecResult[] = [];
  for (const g of groups) {
    const raw = g.list.map((b) => b.raw);
    const rawBytes = raw.reduce((a, b) => a + b.length, 0);
    // lz4's compress() answers a view of its scratch Buffer (whose slice() would not copy): copy it,
    // as a forwarder that keeps the body until it is sent must; snappy answers a fresh buffer.
    const codecs = [
      { codec: 'snappy' as const, c: (x: Uint8Array) => snappyCompress(x), d: (x: Uint8Array) => snappyUncompressWith('native', x) },
      { codec: 'lz4' as const, c: (x: Uint8Array) => new Uint8Array(l.compress(x)), d: (x: Uint8Array) => l.decompress(x) },
    ];
    for (const k of codecs) {
      const packed = raw.map((r) => k.c(r));
      raw.forEach((r, i) => { if (!sameBytes(k.d(packed[i]!), r)) throw new Error(`${k.codec}: round trip differs`); });
      const compressedBytes = packed.reduce((a, b) => a + b.length, 0);
      const cOp = (): number => { let n = 0; for (const r of raw) n += k.c(r).length; return n; };
      const dOp = (): number => { let n = 0; for (const p of packed) n += k.d(p).length; return n; };
      timeOps(cOp, opts.warmupSeconds);
      const cps = timeOps(cOp, opts.seconds);
      timeOps(dOp, opts.warmupSeconds);
      const dps = timeOps(dOp, opts.seconds);
      results.push({
        body: g.name, codec: k.codec, rawBytes, compressedBytes, ratio: rawBytes / compressedBytes,
        compressMBps: (cps * rawBytes) / 1e6, decompressMBps: (dps * rawBytes) / 1e6,
      });
    }
  }
  return results;
}

/** renderCodecs renders the results as a markdown table plus a verdict line per body. */
export function renderCodecs(results: CodecResult[]): string {
  const out = ['| body | codec | raw B | compressed B | ratio | compress MB/s | decompress MB/s | µs per round trip |', '|---|---|--:|--:|--:|--:|--:|--:|'];
  for (const r of results) {
    const us = (r.rawBytes / (r.compressMBps * 1e6) + r.rawBytes / (r.decompressMBps * 1e6)) * 1e6;
    out.push(`| ${r.body} | ${r.codec} | ${r.rawBytes.toLocaleString('en-US')} | ${r.compressedBytes.toLocaleString('en-US')} | ${r.ratio.toFixed(2)} | ` +
      `${r.compressMBps.toFixed(0)} | ${r.decompressMBps.toFixed(0)} | ${us.toFixed(0)} |`);
  }
  for (const body of [...new Set(results.map((r) => r.body))]) {
    const s = results.find((r) => r.body === body && r.codec === 'snappy');
    const z = results.find((r) => r.body === body && r.codec === 'lz4');
    if (!s || !z) continue;
    out.push('');
    out.push(`${body}: lz4/snappy compress ${(z.compressMBps / s.compressMBps).toFixed(2)}×, decompress ${(z.decompressMBps / s.decompressMBps).toFixed(2)}×, ` +
      `compressed size ${(s.ratio / z.ratio).toFixed(2)}× snappy's`);
  }
  return out.join('\n');
}

/** main builds the fixture, measures and prints; returns the results. */
export function main(options: ForwardBenchOptions = {}): CodecResult[] {
  const opts = { seconds: options.seconds ?? 1, warmupSeconds: options.warmupSeconds ?? 0.3 };
  const bodies = forwardBodies(options.seed ?? 1);
  const results = measureCodecs(bodies, opts);
  if (!options.quiet) {
    console.log(`forwarded bodies: one 500-series request (seed ${options.seed ?? 1}, 8 labels, 1 sample each) placed on 3 endpoints, RF=3, ketama`);
    console.log(renderCodecs(results));
  }
  if (sink === -1) console.log(sink);
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  main(seconds === undefined || !(seconds > 0) ? {} : { seconds });
}
