/**
 * Fixtures of the block format tests: seeded random series encoded into real XOR chunks (with
 * src/chunkenc/xor.ts, cut at 120 samples or when 1024 bytes are full, as the head cuts them),
 * the expected samples per series, and helpers to decode chunks and compare.
 */
import { XOR_STATE_BYTES, XorIterator, xorAppend, xorByteLength, xorStateInit } from '../../../src/chunkenc/xor.js';
import type { Labels } from '../../../src/model/labels.js';
import { compareLabelsUtf8 } from '../../../src/blocks/index/order.js';
import type { BlockChunk, BlockSeries } from '../../../src/blocks/writer.js';
import { Rng } from '../../helpers/prng.js';

/** Sample is a timestamp and the value's two 32-bit words (bit-exact, NaN payloads included). */
export interface Sample {
  t: number;
  lo: number;
  hi: number;
}

/** FixtureSeries is a series with its chunks and the samples they hold. */
export interface FixtureSeries extends BlockSeries {
  chunks: BlockChunk[];
  samples: Sample[];
}

/** Fixture is a generated block's content. */
export interface Fixture {
  series: FixtureSeries[];
  symbols: Set<string>;
  numSamples: number;
  numChunks: number;
}

/** GenOptions shapes the generated data. */
export interface GenOptions {
  numSeries: number;
  mint: number;
  /** maxt is exclusive. */
  maxt: number;
  /** interval between samples (ms); jitter is added unless `exact`. */
  interval: number;
  /** exact keeps timestamps on mint + k × interval and values finite (for PromQL comparisons). */
  exact?: boolean;
  /** unicode puts arbitrary Unicode (astral characters too) into label values. */
  unicode?: boolean;
}

const STATE = new ArrayBuffer(XOR_STATE_BYTES);
const F64 = new Float64Array(STATE);
const I32 = new Int32Array(STATE);
const CHUNK_CAP = 1024;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** keyOf is a label set's identity. */
export function keyOf(ls: Labels): string {
  return JSON.stringify(ls);
}

/** encodeChunks cuts samples into XOR chunks: at 120 samples or when 1024 bytes are full. */
export function encodeChunks(samples: readonly Sample[]): BlockChunk[] {
  const out: BlockChunk[] = [];
  const buf = new Uint8Array(CHUNK_CAP);
  let n = 0;
  let first = 0;
  const cut = (last: number): void => {
    out.push({ minT: samples[first]!.t, maxT: samples[last]!.t, data: buf.slice(0, xorByteLength(I32, 0)) });
  };
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (n === 0) {
      xorStateInit(F64, I32, 0);
      first = i;
    }
    if (n === 120 || !xorAppend(F64, I32, 0, buf, 0, CHUNK_CAP, s.t, s.lo, s.hi)) {
      cut(i - 1);
      xorStateInit(F64, I32, 0);
      first = i;
      n = 0;
      if (!xorAppend(F64, I32, 0, buf, 0, CHUNK_CAP, s.t, s.lo, s.hi)) throw new Error('sample does not fit an empty chunk');
    }
    n++;
  }
  if (n > 0) cut(samples.length - 1);
  return out;
}

/** decodeChunk returns a chunk's samples. */
export function decodeChunk(data: Uint8Array): Sample[] {
  const it = new XorIterator();
  it.reset(data, 0, data.length);
  const out: Sample[] = [];
  while (it.next()) out.push({ t: it.t, lo: it.vLo >>> 0, hi: it.vHi >>> 0 });
  if (it.err) throw new Error('corrupt chunk');
  return out;
}

/** valueOf returns a sample's value as a number. */
export function valueOf(s: Sample): number {
  u32[0] = s.lo;
  u32[1] = s.hi;
  return f64[0]!;
}

function words(v: number): [number, number] {
  f64[0] = v;
  return [u32[0]!, u32[1]!];
}

const NAMES = ['http_requests_total', 'node_cpu_seconds_total', 'up', 'go_goroutines', 'process_resident_memory_bytes'];
const LABEL_NAMES = ['cluster', 'instance', 'job', 'le', 'method', 'mode', 'namespace', 'pod', 'zone'];

/** generate builds `numSeries` distinct series over [mint, maxt) from a seeded generator. */
export function generate(seed: number, o: GenOptions): Fixture {
  const rng = new Rng(seed);
  const byKey = new Map<string, FixtureSeries>();
  const value = (): string => {
    if (o.unicode && rng.chance(0.3)) {
      let s = rng.string(8);
      if (s.length === 0) s = 'x';
      return s;
    }
    return rng.pick(['a', 'b', 'c', 'prod', 'dev', 'eu-west-1', 'us-east-2']) + (rng.chance(0.5) ? String(rng.int(0, 50)) : '');
  };
  while (byKey.size < o.numSeries) {
    const ls: Labels = [['__name__', rng.pick(NAMES)]];
    for (const n of LABEL_NAMES) if (rng.chance(0.5)) ls.push([n, value()]);
    ls.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const k = keyOf(ls);
    if (byKey.has(k)) continue;
    const samples: Sample[] = [];
    const kind = rng.int(0, 3);
    let v = rng.int(0, 1000);
    let t = o.mint + (o.exact ? 0 : rng.int(0, o.interval - 1));
    while (t < o.maxt) {
      let w: [number, number];
      if (!o.exact && rng.chance(0.01)) w = [2, 0x7ff00000]; // stale marker
      else if (kind === 0) w = words((v += rng.int(0, 100)));
      else if (kind === 1) w = words(rng.next() * 1e6 - 5e5);
      else if (kind === 2) w = words(42);
      else w = words(Math.round(rng.next() * 1e4) / 100);
      samples.push({ t, lo: w[0], hi: w[1] });
      t += o.interval + (o.exact ? 0 : rng.int(-50, 50));
      if (!o.exact && rng.chance(0.005)) t += o.interval * rng.int(5, 40); // a gap
    }
    if (samples.length === 0) continue;
    byKey.set(k, { labels: ls, chunks: encodeChunks(samples), samples });
  }
  const series = [...byKey.values()].sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  const symbols = new Set<string>();
  let numSamples = 0;
  let numChunks = 0;
  for (const s of series) {
    for (const [n, v] of s.labels) {
      symbols.add(n);
      symbols.add(v);
    }
    numSamples += s.samples.length;
    numChunks += s.chunks.length;
  }
  return { series, symbols, numSamples, numChunks };
}
