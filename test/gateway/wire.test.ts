/**
 * Tests of src/gateway/wire.ts (WriteRequestDecoder): property tests against protobufjs-encoded
 * requests, forward compatibility with unknown fields, decoder reuse, and malformed bodies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { WriteRequestDecoder } from '../../src/gateway/wire.js';
import { WireError } from '../../src/errors.js';
import { encodeWriteRequest, loadRemoteWriteSchema } from '../../src/proto/schema.js';
import type { WriteRequestMsg } from '../../src/proto/schema.js';
import { Rng, SEED } from '../helpers/prng.js';

// ---------------------------------------------------------------------------------------------
// Bits of doubles
// ---------------------------------------------------------------------------------------------

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** bitsOf returns [low word, high word] of a double as V8 stores it in a Float64Array. */
function bitsOf(x: number): [number, number] {
  f64[0] = x;
  return [u32[0]!, u32[1]!];
}

/** fromBits builds the double with the given words (NaN payloads may not survive as a number). */
function fromBits(lo: number, hi: number): number {
  u32[0] = lo;
  u32[1] = hi;
  return f64[0]!;
}

const STALE_LO = 0x00000002;
const STALE_HI = 0x7ff00000;

// Values whose exact bits must survive (signalling NaNs such as the stale marker) cannot travel
// through protobufjs as JS numbers: V8 may set the quiet bit. The generator encodes a sentinel
// double instead, whose low 16 bits index a table of wanted bit patterns, and patches the encoded
// bytes afterwards.
const SENTINEL_HI = 0x01234567;
const SENTINEL_LO_BASE = 0x89ab0000;

// ---------------------------------------------------------------------------------------------
// Expected shapes and the random generator
// ---------------------------------------------------------------------------------------------

interface ExpSample { ts: number; lo: number; hi: number }
interface ExpSeries { labels: [string, string][]; samples: ExpSample[]; exemplars: number; histograms: number }
interface ExpRequest { series: ExpSeries[]; metadata: number }

interface Limits { series: number; labels: number; samples: number; extras: boolean }
const FULL: Limits = { series: 50, labels: 20, samples: 10, extras: true };

/** Generated pairs a protobufjs object with what the decoder must report for its bytes. */
interface Generated {
  msg: Record<string, unknown>;
  expected: ExpRequest;
  /** raw[i] = [lo, hi] bits that replace sentinel i after encoding. */
  raw: [number, number][];
}

/** randomTimestamp covers zero, now-ish, negative, past 2^40, up to 2^53 and exact big values. */
function randomTimestamp(rng: Rng): number {
  switch (rng.int(0, 9)) {
    case 0: return 0;
    case 1: return rng.int(1, 1000);
    case 2: return -rng.int(1, 1000);
    case 3: return 1_700_000_000_000 + rng.int(0, 100_000_000);
    case 4: return -(rng.int(1, 2 ** 31) * 2 ** 12 + rng.int(0, 4095));
    case 5: return 2 ** 40 + rng.int(0, 2 ** 31) * 2 ** 9;
    case 6: return Math.floor(rng.next() * (2 ** 53 - 1)) * (rng.chance(0.5) ? 1 : -1) || 7;
    case 7: return rng.pick([2 ** 62, -(2 ** 62), -(2 ** 63), 3 * 2 ** 60, -(5 * 2 ** 58), 2 ** 53 + 2]);
    case 8: return rng.int(1, 2 ** 31) * 128 + rng.int(0, 127);
    default: return 1_500_000_000_000 + rng.int(0, 2 ** 31);
  }
}

/** randomNumber returns a double whose bits survive a trip through a JS number. */
function randomNumber(rng: Rng): number {
  switch (rng.int(0, 9)) {
    case 0: return 0;
    case 1: return -0;
    case 2: return rng.pick([Infinity, -Infinity]);
    case 3: return NaN;
    case 4: return rng.int(0, 1_000_000) / 8;
    case 5: return fromBits(rng.uint32(), rng.uint32() & 0x800fffff); // subnormals
    case 6: return rng.pick([Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, 1e-300]);
    default: {
      let hi = rng.uint32();
      if (((hi >>> 20) & 0x7ff) === 0x7ff) hi ^= 0x00100000; // no NaN/Inf here
      return fromBits(rng.uint32(), hi);
    }
  }
}

/** randomRawBits returns a NaN bit pattern that a JS number may not carry: stale marker and co. */
function randomRawBits(rng: Rng): [number, number] {
  switch (rng.int(0, 3)) {
    case 0: return [STALE_LO, STALE_HI];
    case 1: return [(rng.uint32() | 1) >>> 0, (0x7ff00000 | (rng.uint32() & 0x0007ffff)) >>> 0]; // signalling
    case 2: return [rng.uint32(), (0xfff00000 | (rng.uint32() & 0x000fffff) | 0x80000) >>> 0]; // -quiet
    default: return [1, 0xfff00000]; // negative signalling NaN
  }
}

function randomLabels(rng: Rng, max: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const n = rng.int(0, max);
  for (let i = 0; i < n; i++) {
    const l: Record<string, unknown> = {};
    if (!rng.chance(0.05)) l['name'] = rng.chance(0.5) ? rng.asciiString(20) : rng.string(12);
    if (!rng.chance(0.05)) l['value'] = rng.chance(0.03) ? rng.string(300) : rng.string(24); // some need 2-byte lengths
    out.push(l);
  }
  return out;
}

function randomHistogram(rng: Rng): Record<string, unknown> {
  const h: Record<string, unknown> = {};
  const spans = (): Record<string, unknown>[] =>
    Array.from({ length: rng.int(0, 3) }, () => ({ offset: rng.int(-5, 5), length: rng.int(0, 4) }));
  const ints = (): number[] => Array.from({ length: rng.int(0, 5) }, () => rng.int(-1000, 1000));
  const floats = (): number[] => Array.from({ length: rng.int(0, 5) }, () => randomNumber(rng));
  if (rng.chance(0.5)) h['countInt'] = rng.int(0, 1_000_000);
  else h['countFloat'] = randomNumber(rng);
  h['sum'] = randomNumber(rng);
  h['schema'] = rng.int(-4, 8);
  if (rng.chance(0.5)) h['zeroThreshold'] = 1e-128;
  if (rng.chance(0.5)) h['zeroCountInt'] = rng.int(0, 100);
  else h['zeroCountFloat'] = rng.next();
  h['negativeSpans'] = spans();
  h['negativeDeltas'] = ints();
  h['negativeCounts'] = floats();
  h['positiveSpans'] = spans();
  h['positiveDeltas'] = ints();
  h['positiveCounts'] = floats();
  h['resetHint'] = rng.int(0, 3);
  h['timestamp'] = randomTimestamp(rng);
  if (rng.chance(0.3)) h['customValues'] = floats();
  return h;
}

/** randomRequest builds a random WriteRequest object and the decoder's expected view of it. */
function randomRequest(rng: Rng, lim: Limits): Generated {
  const raw: [number, number][] = [];
  const series: ExpSeries[] = [];
  const timeseries: Record<string, unknown>[] = [];
  const nSeries = rng.int(0, lim.series);
  for (let i = 0; i < nSeries; i++) {
    const labels = randomLabels(rng, lim.labels);
    const samples: Record<string, unknown>[] = [];
    const expSamples: ExpSample[] = [];
    const nSamples = rng.int(0, lim.samples);
    for (let k = 0; k < nSamples; k++) {
      const s: Record<string, unknown> = {};
      let lo = 0;
      let hi = 0;
      let ts = 0;
      if (!rng.chance(0.08)) {
        if (rng.chance(0.15) && raw.length < 65536) {
          [lo, hi] = randomRawBits(rng);
          s['value'] = fromBits(SENTINEL_LO_BASE + raw.length, SENTINEL_HI);
          raw.push([lo, hi]);
        } else {
          const v = randomNumber(rng);
          s['value'] = v;
          [lo, hi] = bitsOf(v);
        }
      }
      if (!rng.chance(0.08)) {
        ts = randomTimestamp(rng);
        s['timestamp'] = ts;
      }
      samples.push(s);
      expSamples.push({ ts, lo, hi });
    }
    const ts: Record<string, unknown> = { labels, samples };
    let exemplars = 0;
    let histograms = 0;
    if (lim.extras && rng.chance(0.3)) {
      exemplars = rng.int(1, 3);
      ts['exemplars'] = Array.from({ length: exemplars }, () => ({
        labels: randomLabels(rng, 3),
        value: randomNumber(rng),
        timestamp: randomTimestamp(rng),
      }));
    }
    if (lim.extras && rng.chance(0.2)) {
      histograms = rng.int(1, 2);
      ts['histograms'] = Array.from({ length: histograms }, () => randomHistogram(rng));
    }
    timeseries.push(ts);
    series.push({
      labels: labels.map((l) => [(l['name'] as string | undefined) ?? '', (l['value'] as string | undefined) ?? '']),
      samples: expSamples,
      exemplars,
      histograms,
    });
  }
  const msg: Record<string, unknown> = { timeseries };
  let metadata = 0;
  if (lim.extras && rng.chance(0.3)) {
    metadata = rng.int(1, 5);
    msg['metadata'] = Array.from({ length: metadata }, () => ({
      type: rng.int(0, 7),
      metricFamilyName: rng.asciiString(30),
      help: rng.string(40),
      unit: rng.chance(0.5) ? '' : rng.asciiString(8),
    }));
  }
  return { msg, expected: { series, metadata }, raw };
}

/** patchSentinels replaces every sentinel sample value in `bytes` by its wanted bit pattern. */
function patchSentinels(bytes: Uint8Array, raw: [number, number][]): void {
  if (raw.length === 0) return;
  let patched = 0;
  for (let p = 0; p + 9 <= bytes.length; p++) {
    if (bytes[p] !== 0x09 || bytes[p + 3] !== 0xab || bytes[p + 4] !== 0x89) continue;
    const hi = (bytes[p + 5]! | (bytes[p + 6]! << 8) | (bytes[p + 7]! << 16) | (bytes[p + 8]! << 24)) >>> 0;
    if (hi !== SENTINEL_HI) continue;
    const idx = bytes[p + 1]! | (bytes[p + 2]! << 8);
    const [lo, rhi] = raw[idx]!;
    for (let b = 0; b < 4; b++) {
      bytes[p + 1 + b] = (lo >>> (8 * b)) & 0xff;
      bytes[p + 5 + b] = (rhi >>> (8 * b)) & 0xff;
    }
    patched++;
  }
  assert.equal(patched, raw.length, 'every sentinel found exactly once');
}

/** encodeBase encodes with the real schema and patches sentinels. */
function encodeBase(g: Generated): Uint8Array {
  const bytes = encodeWriteRequest(g.msg as unknown as WriteRequestMsg);
  patchSentinels(bytes, g.raw);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// A superset schema: the real one plus fields of every wire type the decoder does not know
// ---------------------------------------------------------------------------------------------

let extendedType: protobuf.Type | undefined;

/** extendedWriteRequest returns a WriteRequest type with unknown fields added at every level. */
function extendedWriteRequest(): protobuf.Type {
  if (extendedType) return extendedType;
  const root = protobuf.Root.fromJSON(loadRemoteWriteSchema().WriteRequest.root.toJSON());
  const ns = root.lookup('prometheus') as protobuf.Namespace;
  const extra = new protobuf.Type('Extra');
  extra.add(new protobuf.Field('s', 1, 'string'));
  extra.add(new protobuf.Field('d', 2, 'double'));
  extra.add(new protobuf.Field('n', 3, 'sint64', 'repeated'));
  ns.add(extra);
  // Field 2 of WriteRequest is reserved in remote.proto; the superset sends it anyway.
  root.lookupType('prometheus.WriteRequest').reserved = [];
  const add = (typeName: string, fields: [string, number, string, string?][]): void => {
    const t = root.lookupType(`prometheus.${typeName}`);
    for (const [name, id, type, rule] of fields) {
      t.add(rule === undefined ? new protobuf.Field(name, id, type) : new protobuf.Field(name, id, type, rule));
    }
  };
  add('WriteRequest', [
    ['xReserved2', 2, 'string'], ['xU64', 7, 'uint64'], ['xF64', 8, 'fixed64'], ['xF32', 9, 'fixed32'],
    ['xBytes', 10, 'bytes'], ['xPacked', 11, 'sint64', 'repeated'], ['xStrings', 12, 'string', 'repeated'],
    ['xMax', 536870911, 'Extra'],
  ]);
  add('TimeSeries', [
    ['xI64', 5, 'int64'], ['xF32', 6, 'fixed32'], ['xBytes', 7, 'bytes'], ['xDouble', 8, 'double'],
    ['xExtra', 20000, 'Extra'], ['xExtras', 9, 'Extra', 'repeated'],
  ]);
  add('Label', [['xU32', 3, 'uint32'], ['xF64', 4, 'fixed64'], ['xBytes', 5, 'bytes'], ['xFloat', 6, 'float']]);
  add('Sample', [
    ['xI32', 3, 'int32'], ['xStr', 4, 'string'], ['xF32', 5, 'fixed32'], ['xSF64', 6, 'sfixed64'], ['xExtra', 100, 'Extra'],
  ]);
  add('Exemplar', [['xU64', 4, 'uint64']]);
  add('Histogram', [['xBytes', 17, 'bytes'], ['xDoubles', 20, 'double', 'repeated']]);
  add('BucketSpan', [['xF32', 3, 'fixed32']]);
  add('MetricMetadata', [['xStr', 3, 'string'], ['xU64', 6, 'uint64']]);
  root.resolveAll();
  extendedType = root.lookupType('prometheus.WriteRequest');
  return extendedType;
}

function randomExtra(rng: Rng): Record<string, unknown> {
  return { s: rng.string(10), d: randomNumber(rng), n: [rng.int(-5, 5), -rng.int(1, 2 ** 31)] };
}

/** decorate sets random unknown fields (per the extended schema) on a generated request. */
function decorate(rng: Rng, msg: Record<string, unknown>): void {
  const maybe = (o: Record<string, unknown>, key: string, make: () => unknown): void => {
    if (rng.chance(0.3)) o[key] = make();
  };
  const randomBytes = (): Uint8Array => Uint8Array.from({ length: rng.int(0, 40) }, () => rng.int(0, 255));
  maybe(msg, 'xReserved2', () => rng.string(10));
  maybe(msg, 'xU64', () => rng.int(0, 2 ** 31) * 2 ** 20);
  maybe(msg, 'xF64', () => rng.uint32());
  maybe(msg, 'xF32', () => rng.uint32());
  maybe(msg, 'xBytes', randomBytes);
  maybe(msg, 'xPacked', () => [rng.int(-100, 100), -(2 ** 40)]);
  maybe(msg, 'xStrings', () => [rng.string(5), '']);
  maybe(msg, 'xMax', () => randomExtra(rng));
  for (const ts of msg['timeseries'] as Record<string, unknown>[]) {
    maybe(ts, 'xI64', () => -rng.int(1, 1000));
    maybe(ts, 'xF32', () => rng.uint32());
    maybe(ts, 'xBytes', randomBytes);
    maybe(ts, 'xDouble', () => randomNumber(rng));
    maybe(ts, 'xExtra', () => randomExtra(rng));
    maybe(ts, 'xExtras', () => [randomExtra(rng), randomExtra(rng)]);
    for (const l of ts['labels'] as Record<string, unknown>[]) {
      maybe(l, 'xU32', () => rng.uint32());
      maybe(l, 'xF64', () => rng.uint32());
      maybe(l, 'xBytes', randomBytes);
      maybe(l, 'xFloat', () => 1.5);
    }
    for (const s of ts['samples'] as Record<string, unknown>[]) {
      maybe(s, 'xI32', () => -rng.int(1, 1000));
      maybe(s, 'xStr', () => rng.string(6));
      maybe(s, 'xF32', () => rng.uint32());
      maybe(s, 'xSF64', () => -rng.int(1, 1000));
      maybe(s, 'xExtra', () => randomExtra(rng));
    }
    for (const e of (ts['exemplars'] ?? []) as Record<string, unknown>[]) maybe(e, 'xU64', () => rng.uint32());
    for (const h of (ts['histograms'] ?? []) as Record<string, unknown>[]) {
      maybe(h, 'xBytes', randomBytes);
      maybe(h, 'xDoubles', () => [1, 2, 3]);
      for (const sp of h['positiveSpans'] as Record<string, unknown>[]) maybe(sp, 'xF32', () => rng.uint32());
    }
  }
  for (const m of (msg['metadata'] ?? []) as Record<string, unknown>[]) {
    maybe(m, 'xStr', () => rng.string(6));
    maybe(m, 'xU64', () => rng.uint32());
  }
}

/** encodeExtended encodes with the superset schema and patches sentinels. */
function encodeExtended(g: Generated): Uint8Array {
  const t = extendedWriteRequest();
  const bytes = t.encode(t.fromObject(g.msg)).finish();
  patchSentinels(bytes, g.raw);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Reading the decoder back
// ---------------------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** view turns the decoder's arrays into the ExpRequest shape, checking its invariants. */
function view(dec: WriteRequestDecoder, buf: Uint8Array): ExpRequest {
  assert.equal(dec.labelStart[0], 0);
  assert.equal(dec.sampleStart[0], 0);
  assert.equal(dec.labelStart[dec.seriesCount], dec.labelCount);
  assert.equal(dec.sampleStart[dec.seriesCount], dec.sampleCount);
  const series: ExpSeries[] = [];
  let exemplars = 0;
  let histograms = 0;
  for (let i = 0; i < dec.seriesCount; i++) {
    const labels: [string, string][] = [];
    for (let j = dec.labelStart[i]!; j < dec.labelStart[i + 1]!; j++) {
      const name = utf8.decode(buf.subarray(dec.nameOff[j]!, dec.nameOff[j]! + dec.nameLen[j]!));
      const value = utf8.decode(buf.subarray(dec.valueOff[j]!, dec.valueOff[j]! + dec.valueLen[j]!));
      labels.push([name, value]);
    }
    const samples: ExpSample[] = [];
    for (let k = dec.sampleStart[i]!; k < dec.sampleStart[i + 1]!; k++) {
      const lo = dec.valueWords[2 * k]!;
      const hi = dec.valueWords[2 * k + 1]!;
      const v = dec.values[k]!;
      if (Number.isNaN(v)) assert.ok(((hi >>> 20) & 0x7ff) === 0x7ff && ((hi & 0xfffff) !== 0 || lo !== 0));
      else assert.deepEqual(bitsOf(v), [lo, hi], 'values aliases valueWords');
      samples.push({ ts: dec.timestamps[k]!, lo, hi });
    }
    exemplars += dec.exemplarCount[i]!;
    histograms += dec.histogramCount[i]!;
    series.push({ labels, samples, exemplars: dec.exemplarCount[i]!, histograms: dec.histogramCount[i]! });
  }
  assert.equal(dec.exemplarTotal, exemplars);
  assert.equal(dec.histogramTotal, histograms);
  return { series, metadata: dec.metadataCount };
}

/** checkBounds asserts the structural invariants of a decode of `len` bytes, strings unread. */
function checkBounds(dec: WriteRequestDecoder, len: number): void {
  assert.equal(dec.labelStart[0], 0);
  assert.equal(dec.sampleStart[0], 0);
  for (let i = 0; i < dec.seriesCount; i++) {
    assert.ok(dec.labelStart[i]! <= dec.labelStart[i + 1]!);
    assert.ok(dec.sampleStart[i]! <= dec.sampleStart[i + 1]!);
  }
  assert.equal(dec.labelStart[dec.seriesCount], dec.labelCount);
  assert.equal(dec.sampleStart[dec.seriesCount], dec.sampleCount);
  for (let j = 0; j < dec.labelCount; j++) {
    assert.ok(dec.nameOff[j]! >= 0 && dec.nameLen[j]! >= 0 && dec.nameOff[j]! + dec.nameLen[j]! <= len);
    assert.ok(dec.valueOff[j]! >= 0 && dec.valueLen[j]! >= 0 && dec.valueOff[j]! + dec.valueLen[j]! <= len);
  }
  for (let k = 0; k < dec.sampleCount; k++) assert.ok(Number.isInteger(dec.timestamps[k]));
}

/** decodeView decodes `bytes` with `dec` and returns its view. */
function decodeView(dec: WriteRequestDecoder, bytes: Uint8Array, len = bytes.length): ExpRequest {
  dec.decode(bytes, len);
  return view(dec, bytes);
}

/** expectWireError asserts that decoding `bytes` throws a WireError and returns it. */
function expectWireError(dec: WriteRequestDecoder, bytes: Uint8Array, len = bytes.length): WireError {
  try {
    dec.decode(bytes, len);
  } catch (e) {
    assert.ok(e instanceof WireError, `expected WireError, got ${String(e)}`);
    assert.equal(e.code, 'E_BAD_REQUEST');
    assert.ok(e.offset >= 0 && e.offset <= len, `offset ${e.offset} within [0, ${len}]`);
    assert.equal(dec.seriesCount, 0, 'counts reset after an error');
    assert.equal(dec.labelCount + dec.sampleCount + dec.metadataCount, 0);
    return e;
  }
  assert.fail(`expected WireError for ${hex(bytes.subarray(0, len))}`);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Hand-built protobuf bytes
// ---------------------------------------------------------------------------------------------

/** varint encodes a non-negative integer or an int64 bigint (two's complement) as a varint. */
function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const tag = (field: number, wt: number): number[] => varint(field * 8 + wt);
const lenField = (field: number, body: number[]): number[] => [...tag(field, 2), ...varint(body.length), ...body];
const str = (s: string): number[] => [...new TextEncoder().encode(s)];
const fixed64 = (lo: number, hi: number): number[] => [
  lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff, (hi >>> 16) & 0xff, hi >>> 24,
];
const bytes = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());
const pbLabel = (name: string, value: string): number[] => lenField(1, [...lenField(1, str(name)), ...lenField(2, str(value))]);
const pbSample = (lo: number, hi: number, ts: number | bigint): number[] =>
  lenField(2, [...tag(1, 1), ...fixed64(lo, hi), ...tag(2, 0), ...varint(ts)]);
const pbSeries = (...parts: number[][]): number[] => lenField(1, parts.flat());

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

test('property: 2000 random WriteRequests decode exactly as protobufjs encoded them', { timeout: 120_000 }, () => {
  const rng = new Rng(SEED);
  const dec = new WriteRequestDecoder(1, 1, 1); // tiny start: growth happens mid-request
  let samples = 0;
  let labels = 0;
  let stale = 0;
  for (let n = 0; n < 2000; n++) {
    const g = randomRequest(rng, FULL);
    const bytes = encodeBase(g);
    const got = decodeView(dec, bytes);
    assert.deepStrictEqual(got, g.expected, `request #${n}`);
    samples += dec.sampleCount;
    labels += dec.labelCount;
    stale += g.raw.filter(([lo, hi]) => lo === STALE_LO && hi === STALE_HI).length;
  }
  assert.ok(samples > 50_000 && labels > 100_000 && stale > 100, `coverage: ${samples} samples, ${labels} labels, ${stale} stale`);
});

test('property: unknown fields of every wire type at every level are skipped', { timeout: 120_000 }, () => {
  const rng = new Rng(SEED + 1);
  const dec = new WriteRequestDecoder();
  for (let n = 0; n < 600; n++) {
    const g = randomRequest(rng, FULL);
    decorate(rng, g.msg);
    const bytes = encodeExtended(g);
    assert.deepStrictEqual(decodeView(dec, bytes), g.expected, `request #${n}`);
  }
});

test('one decoder reused across requests of very different sizes leaks nothing', () => {
  const rng = new Rng(SEED + 2);
  const dec = new WriteRequestDecoder(1, 1, 1);
  const sizes: Limits[] = [
    { series: 50, labels: 20, samples: 10, extras: true },
    { series: 0, labels: 0, samples: 0, extras: false },
    { series: 3, labels: 2, samples: 1, extras: true },
    { series: 200, labels: 30, samples: 30, extras: true },
    { series: 1, labels: 0, samples: 0, extras: false },
    { series: 1, labels: 1, samples: 1, extras: false },
  ];
  for (let n = 0; n < 300; n++) {
    const g = randomRequest(rng, sizes[n % sizes.length]!);
    const bytes = encodeBase(g);
    assert.deepStrictEqual(decodeView(dec, bytes), g.expected, `request #${n}`);
    if (n % 7 === 3 && bytes.length > 0) expectWireError(dec, bytes, bytes.length - 1); // errors in between
    if (g.expected.series.length === 0) {
      assert.equal(dec.seriesCount, 0);
      assert.equal(dec.labelCount, 0);
      assert.equal(dec.sampleCount, 0);
    }
  }
  // An empty body after a big one.
  dec.decode(new Uint8Array(0), 0);
  assert.deepStrictEqual(view(dec, new Uint8Array(0)), { series: [], metadata: 0 });
  assert.equal(dec.exemplarTotal + dec.histogramTotal, 0);
});

test('truncation at every byte offset: WireError unless the cut is at a top-level field boundary', { timeout: 120_000 }, () => {
  const rng = new Rng(SEED + 3);
  const dec = new WriteRequestDecoder();
  const lim: Limits = { series: 5, labels: 4, samples: 3, extras: true };
  for (let n = 0; n < 40; n++) {
    const g = randomRequest(rng, lim);
    const bytes = encodeBase(g);
    // Top-level boundaries, computed by protobufjs: after each series, then after each metadata.
    const ts = (g.msg['timeseries'] as unknown[]) ?? [];
    const md = (g.msg['metadata'] as unknown[] | undefined) ?? [];
    const cuts = new Map<number, ExpRequest>();
    for (let i = 0; i <= ts.length; i++) {
      const len = encodeWriteRequest({ timeseries: ts.slice(0, i) } as unknown as WriteRequestMsg).length;
      cuts.set(len, { series: g.expected.series.slice(0, i), metadata: 0 });
    }
    for (let m = 1; m <= md.length; m++) {
      const len = encodeWriteRequest({ timeseries: ts, metadata: md.slice(0, m) } as unknown as WriteRequestMsg).length;
      cuts.set(len, { series: g.expected.series, metadata: m });
    }
    assert.ok(cuts.has(bytes.length));
    for (let len = 0; len <= bytes.length; len++) {
      const want = cuts.get(len);
      if (want) assert.deepStrictEqual(decodeView(dec, bytes, len), want, `request #${n} cut at ${len}`);
      else expectWireError(dec, bytes, len);
      // The same cut as its own buffer (nothing readable past the end).
      const copy = bytes.slice(0, len);
      if (want) assert.deepStrictEqual(decodeView(dec, copy), want);
      else expectWireError(dec, copy);
    }
  }
});

test('random corruption and garbage: only WireError or success, never a hang', { timeout: 120_000 }, () => {
  const rng = new Rng(SEED + 4);
  const dec = new WriteRequestDecoder();
  let errors = 0;
  let ok = 0;
  const attempt = (b: Uint8Array): void => {
    try {
      dec.decode(b, b.length);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      errors++;
      return;
    }
    ok++;
    checkBounds(dec, b.length);
  };
  for (let n = 0; n < 400; n++) {
    const g = randomRequest(rng, { series: 6, labels: 5, samples: 4, extras: true });
    const base = encodeBase(g);
    for (let m = 0; m < 10; m++) {
      const b = Array.from(base);
      for (let e = rng.int(1, 4); e > 0 && b.length > 0; e--) {
        const at = rng.int(0, b.length - 1);
        const op = rng.int(0, 2);
        if (op === 0) b[at] = rng.int(0, 255);
        else if (op === 1) b.splice(at, 1);
        else b.splice(at, 0, rng.pick([0x80, 0xff, 0x00, 0x0a, 0x12, 0x09, 0x10, rng.int(0, 255)]));
      }
      attempt(Uint8Array.from(b));
    }
  }
  for (let n = 0; n < 3000; n++) attempt(Uint8Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255)));
  assert.ok(errors > 1000 && ok > 100, `${errors} errors, ${ok} successes`);
});

test('stale markers and other NaN payloads keep their exact bits', () => {
  const dec = new WriteRequestDecoder();
  const patterns: [number, number][] = [
    [STALE_LO, STALE_HI], [1, 0x7ff00000], [0, 0x7ff80000], [0xffffffff, 0xffffffff], [0, 0xfff00000 | 1],
    [0xdeadbeef, 0x7ff7ffff], [0, 0x80000000], [0, 0x7ff00000], [0, 0xfff00000],
  ];
  const b = bytes(pbSeries(pbLabel('__name__', 'up'), ...patterns.map(([lo, hi], i) => pbSample(lo, hi, 1000 + i))));
  const got = decodeView(dec, b);
  assert.deepStrictEqual(
    got.series[0]!.samples,
    patterns.map(([lo, hi], i) => ({ ts: 1000 + i, lo: lo >>> 0, hi: hi >>> 0 })),
  );
});

test('int64 timestamps: negatives, 10-byte and over-long encodings, extremes', () => {
  const dec = new WriteRequestDecoder();
  const cases: [number[], number][] = [
    [varint(0), 0],
    [varint(-1n), -1],
    [varint(-1_700_000_000_000n), -1_700_000_000_000],
    [varint(2n ** 40n + 3n), 2 ** 40 + 3],
    [varint(2n ** 53n - 1n), 2 ** 53 - 1],
    [varint(-(2n ** 53n) + 1n), -(2 ** 53) + 1],
    [varint(2n ** 63n - 1n), 2 ** 63], // rounds to the nearest double
    [varint(-(2n ** 63n)), -(2 ** 63)],
    [varint(2n ** 49n - 1n), 2 ** 49 - 1], // 7-byte fast path limit
    [varint(2n ** 49n), 2 ** 49], // first 8-byte value
    [[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 1], // over-long 1
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], -1],
    [[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], -(2 ** 63)],
  ];
  for (const [enc, want] of cases) {
    const b = bytes(pbSeries(lenField(2, [...tag(2, 0), ...enc])));
    dec.decode(b, b.length);
    assert.equal(dec.sampleCount, 1);
    assert.ok(Object.is(dec.timestamps[0], want), `${hex(Uint8Array.from(enc))} -> ${dec.timestamps[0]}, want ${want}`);
    assert.equal(dec.valueWords[0], 0);
    assert.equal(dec.valueWords[1], 0);
  }
});

test('proto3 defaults, field order, repeats and over-long tags and lengths', () => {
  const dec = new WriteRequestDecoder();
  // Samples before labels, labels interleaved, an empty label and an empty sample.
  const b1 = bytes(pbSeries(
    pbSample(1, 2, 5), pbLabel('a', 'b'), lenField(1, []), lenField(2, []), pbLabel('', 'x'), pbSample(3, 4, -5),
  ));
  assert.deepStrictEqual(decodeView(dec, b1).series, [{
    labels: [['a', 'b'], ['', ''], ['', 'x']],
    samples: [{ ts: 5, lo: 1, hi: 2 }, { ts: 0, lo: 0, hi: 0 }, { ts: -5, lo: 3, hi: 4 }],
    exemplars: 0, histograms: 0,
  }]);
  assert.equal(dec.nameOff[1], 0);
  assert.equal(dec.nameLen[1], 0);
  // A repeated field: the last occurrence wins.
  const b2 = bytes(pbSeries(
    lenField(1, [...lenField(1, str('first')), ...lenField(2, str('v')), ...lenField(1, str('second'))]),
    lenField(2, [...tag(1, 1), ...fixed64(7, 7), ...tag(2, 0), 9, ...tag(1, 1), ...fixed64(8, 8)]),
  ));
  assert.deepStrictEqual(decodeView(dec, b2).series[0], {
    labels: [['second', 'v']], samples: [{ ts: 9, lo: 8, hi: 8 }], exemplars: 0, histograms: 0,
  });
  // A sample without timestamp directly followed by a 0x10 byte outside it (here the reserved
  // top-level field 2, skipped as unknown): the byte must not be taken for the sample's timestamp.
  const b4 = bytes(pbSeries(lenField(2, [...tag(1, 1), ...fixed64(1, 2)])), [0x10, 0x05]);
  assert.deepStrictEqual(decodeView(dec, b4).series[0]!.samples, [{ ts: 0, lo: 1, hi: 2 }]);
  // Over-long tag (0x8a 0x00 = field 1, len) and over-long length (0x83 0x80 0x00 = 3).
  const inner = [0x8a, 0x00, 0x83, 0x80, 0x00, ...str('abc'), 0x92, 0x80, 0x00, 0x01, ...str('d')];
  const b3 = bytes([0x8a, 0x80, 0x00, ...varint(inner.length + 3), 0x8a, 0x00, inner.length, ...inner]);
  assert.deepStrictEqual(decodeView(dec, b3).series[0]!.labels, [['abc', 'd']]);
  // Offsets are relative to buf[0] even when buf is a view into a larger ArrayBuffer.
  const backing = new Uint8Array(100);
  backing.set(b1, 37);
  const sub = backing.subarray(37, 37 + b1.length);
  assert.deepStrictEqual(decodeView(dec, sub).series[0]!.labels[0], ['a', 'b']);
  // `len` bounds decoding: whatever follows it is never read.
  const padded = new Uint8Array(b1.length + 3);
  padded.set(b1);
  padded.set([0xff, 0xff, 0xff], b1.length);
  assert.equal(decodeView(dec, padded, b1.length).series.length, 1);
  assert.throws(() => dec.decode(padded, padded.length + 1), RangeError);
  assert.throws(() => dec.decode(padded, -1), RangeError);
  assert.throws(() => dec.decode(padded, 1.5), RangeError);
});

test('exemplars, histograms (packed and unpacked) and metadata are validated and counted', () => {
  const dec = new WriteRequestDecoder();
  const exemplar = lenField(3, [...pbLabel('trace_id', 'abc'), ...tag(2, 1), ...fixed64(0, 0x3ff00000), ...tag(3, 0), ...varint(-7n)]);
  const span = (off: number, len: number): number[] => [...tag(1, 0), ...varint(off), ...tag(2, 0), ...varint(len)];
  const packedHist = lenField(4, [
    ...tag(1, 0), 5, ...tag(3, 1), ...fixed64(0, 0), ...tag(4, 0), ...varint(-1n),
    ...lenField(8, span(1, 2)), ...lenField(9, [...varint(3), ...varint(-2n)]), ...lenField(10, fixed64(1, 2)),
    ...tag(15, 0), ...varint(1_700_000_000_000), ...lenField(16, [...fixed64(0, 0), ...fixed64(1, 1)]),
  ]);
  const unpackedHist = lenField(4, [
    ...tag(2, 1), ...fixed64(0, 0), ...tag(12, 0), 3, ...tag(12, 0), 4, ...tag(13, 1), ...fixed64(0, 0),
    ...tag(16, 1), ...fixed64(9, 9), ...lenField(11, []), ...tag(14, 0), 2,
  ]);
  const meta = lenField(3, [...tag(1, 0), 2, ...lenField(2, str('up')), ...lenField(4, str('help')), ...lenField(5, str('s'))]);
  const b = bytes(
    pbSeries(pbLabel('a', '1'), exemplar, packedHist, unpackedHist, exemplar, pbSample(0, 0, 1)),
    meta,
    pbSeries(pbLabel('b', '2')),
    meta,
    lenField(3, []),
  );
  const got = decodeView(dec, b);
  assert.deepStrictEqual(got.series.map((s) => [s.exemplars, s.histograms]), [[2, 2], [0, 0]]);
  assert.equal(got.metadata, 3);
  assert.equal(dec.exemplarTotal, 2);
  assert.equal(dec.histogramTotal, 2);
});

/** MALFORMED lists bodies that must be refused: [name, bytes, message pattern, offset?]. */
const MALFORMED: [string, Uint8Array, RegExp, number?][] = [
  ['tag without length', bytes([0x0a]), /truncated varint/, 1],
  ['truncated length varint', bytes([0x0a, 0x80]), /truncated varint/, 1],
  ['length past end', bytes([0x0a, 0x05, 0x00]), /length 5 runs past/, 1],
  ['length 2^32-1', bytes([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]), /runs past/, 1],
  ['length 2^31', bytes([0x0a, ...varint(2 ** 31), 0]), /runs past/, 1],
  ['length -1 as int64', bytes([0x0a, ...varint(-1n)]), /negative/, 1],
  ['length 2^40', bytes([0x0a, ...varint(2 ** 40)]), /runs past/, 1],
  ['11-byte varint', bytes([0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 10 bytes/, 1],
  ['varint overflowing 64 bits', bytes([0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), /does not fit in 64 bits/, 1],
  ['11-byte tag', bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 10 bytes/, 0],
  ['tag over 32 bits', bytes([0x80, 0x80, 0x80, 0x80, 0x10, 0x00]), /tag does not fit/, 0],
  ['truncated tag', bytes([0x80]), /truncated varint/, 0],
  ['field number 0 (varint)', bytes([0x00, 0x00]), /field number 0/, 0],
  ['field number 0 (len)', bytes([0x02, 0x00]), /field number 0/, 0],
  ['wire type 6', bytes([0x2e, 0x00]), /invalid wire type 6/, 0],
  ['wire type 7', bytes([0x2f, 0x00]), /invalid wire type 7/, 0],
  ['start group', bytes([0x2b, 0x2c]), /group wire type 3/, 0],
  ['end group', bytes([0x2c]), /group wire type 4/, 0],
  ['group inside a series', bytes(pbSeries([0x2b, 0x2c])), /group wire type 3/, 2],
  ['group inside a sample', bytes(pbSeries(lenField(2, [0x1b, 0x1c]))), /group wire type 3/, 4],
  ['wire type 7 inside a label', bytes(pbSeries(lenField(1, [0x1f]))), /invalid wire type 7/, 4],
  ['timeseries as varint', bytes([0x08, 0x01]), /WriteRequest field 1 \(timeseries\) has wire type 0/, 0],
  ['timeseries as start group', bytes([0x0b]), /WriteRequest field 1 .* wire type 3/, 0],
  ['timeseries with wire type 6', bytes([0x0e]), /WriteRequest field 1 .* wire type 6/, 0],
  ['metadata as i64', bytes([0x19, 0, 0, 0, 0, 0, 0, 0, 0]), /WriteRequest field 3 \(metadata\) has wire type 1/, 0],
  ['labels as varint', bytes(pbSeries([0x08, 0x01])), /TimeSeries field 1 \(labels\)/, 2],
  ['samples as i32', bytes(pbSeries([0x15, 0, 0, 0, 0])), /TimeSeries field 2 \(samples\)/, 2],
  ['exemplars as i64', bytes(pbSeries([0x19, 0, 0, 0, 0, 0, 0, 0, 0])), /TimeSeries field 3/, 2],
  ['histograms as varint', bytes(pbSeries([0x20, 0x00])), /TimeSeries field 4/, 2],
  ['label name as varint', bytes(pbSeries(lenField(1, [0x08, 0x01]))), /Label field 1 \(name\)/, 4],
  ['label value as i32', bytes(pbSeries(lenField(1, [0x15, 0, 0, 0, 0]))), /Label field 2 \(value\)/, 4],
  ['sample value as varint', bytes(pbSeries(lenField(2, [0x08, 0x01]))), /Sample field 1 \(value\)/, 4],
  ['sample timestamp as i64', bytes(pbSeries(lenField(2, [0x11, 0, 0, 0, 0, 0, 0, 0, 0]))), /Sample field 2 \(timestamp\)/, 4],
  ['sample value as len', bytes(pbSeries(lenField(2, [0x0a, 0x00]))), /Sample field 1/, 4],
  ['truncated double', bytes(pbSeries(lenField(2, [0x09, 0, 0, 0]))), /truncated 8-byte/, 5],
  ['timestamp varint running out of its sample', bytes([0x0a, 0x04, 0x12, 0x02, 0x10, 0x80, 0x28, 0x00]), /truncated varint/, 5],
  ['label overrunning its series', bytes([0x0a, 0x03, 0x0a, 0x05, 0x0a, 0, 0, 0, 0, 0, 0]), /length 5 runs past/, 3],
  // 0a 01 'a' 12 85 01 ...: a two-byte value length (133) must not be read as the one byte 0x85,
  // even though 0x85 = 133 would make the label end exactly where the enclosing length says.
  ['two-byte value length that the canonical fast path must not misread',
    bytes(pbSeries(lenField(1, [0x0a, 0x01, 0x61, 0x12, 0x85, 0x01, ...new Array<number>(132).fill(0x78)]))), /length 133 runs past/, 10],
  ['name overrunning its label', bytes(pbSeries(lenField(1, [0x0a, 0x03, 0x61])), [0x61, 0x61]), /length 3 runs past/, 5],
  ['unknown i64 truncated', bytes([0x29, 0, 0]), /truncated 8-byte/, 1],
  ['unknown i32 truncated', bytes([0x2d, 0]), /truncated 4-byte/, 1],
  ['unknown len past end', bytes([0x2a, 0x09, 0]), /runs past/, 1],
  ['exemplar labels as varint', bytes(pbSeries(lenField(3, [0x08, 0x01]))), /Exemplar field 1 \(labels\)/, 4],
  ['exemplar value as varint', bytes(pbSeries(lenField(3, [0x10, 0x01]))), /Exemplar field 2/, 4],
  ['exemplar label name as varint', bytes(pbSeries(lenField(3, lenField(1, [0x08, 0x01])))), /Label field 1/, 6],
  ['exemplar truncated value', bytes(pbSeries(lenField(3, [0x11, 0]))), /truncated 8-byte/, 5],
  ['histogram count_int as i64', bytes(pbSeries(lenField(4, [0x09, 0, 0, 0, 0, 0, 0, 0, 0]))), /Histogram field 1 \(count_int\)/, 4],
  ['histogram sum as varint', bytes(pbSeries(lenField(4, [0x18, 0x01]))), /Histogram field 3 \(sum\)/, 4],
  ['histogram spans as varint', bytes(pbSeries(lenField(4, [0x40, 0x01]))), /Histogram field 8/, 4],
  ['histogram deltas as i64', bytes(pbSeries(lenField(4, [0x49, 0, 0, 0, 0, 0, 0, 0, 0]))), /Histogram field 9 .* expected varint or len/, 4],
  ['histogram counts as varint', bytes(pbSeries(lenField(4, [0x50, 0x01]))), /Histogram field 10 .* expected i64 or len/, 4],
  ['histogram packed counts of 3 bytes', bytes(pbSeries(lenField(4, [0x6a, 0x03, 0, 0, 0]))), /not a multiple of 8/, 5],
  ['histogram packed deltas truncated', bytes(pbSeries(lenField(4, [0x4a, 0x01, 0x80]))), /truncated varint/, 6],
  ['histogram custom_values as varint', bytes(pbSeries(lenField(4, [0x80, 0x01, 0x00]))), /Histogram field 16/, 4],
  ['bucket span offset as i64', bytes(pbSeries(lenField(4, lenField(8, [0x09, 0, 0, 0, 0, 0, 0, 0, 0])))), /BucketSpan field 1/, 6],
  ['metadata type as len', bytes(lenField(3, [0x0a, 0x00])), /MetricMetadata field 1 \(type\)/, 2],
  ['metadata help as varint', bytes(lenField(3, [0x20, 0x01])), /MetricMetadata field 4 \(help\)/, 2],
  ['metadata 11-byte varint', bytes(lenField(3, [0x08, ...new Array<number>(10).fill(0xff), 0x01])), /longer than 10 bytes/, 3],
];

test('malformed bodies: WireError with a clear message and the failing offset', () => {
  const dec = new WriteRequestDecoder();
  for (const [name, body, pattern, offset] of MALFORMED) {
    const e = expectWireError(dec, body);
    assert.match(e.message, pattern, name);
    if (offset !== undefined) assert.equal(e.offset, offset, `${name}: ${e.message}`);
    assert.match(e.message, / at byte \d+$/, name);
    // Every proper prefix is malformed too, or empty, or ends on a top-level field boundary.
    for (let len = 0; len < body.length; len++) {
      try {
        dec.decode(body, len);
      } catch (err) {
        assert.ok(err instanceof WireError, `${name} cut at ${len}: ${String(err)}`);
      }
    }
  }
});
