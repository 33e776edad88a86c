import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RecordEncoder, RecordType, SampleBatch, WalCorruptionError, decodeSamples, decodeSeries, recordType,
} from '../../src/wal/records.js';
import { Rng } from '../helpers/prng.js';

interface S { ref: number; t: number; lo: number; hi: number }

function roundTripSamples(enc: RecordEncoder, samples: readonly S[], batch = new SampleBatch(4)): void {
  enc.beginSamples();
  for (const s of samples) enc.sample(s.ref, s.t, s.lo, s.hi);
  const rec = enc.finish();
  assert.equal(recordType(rec), RecordType.Samples);
  assert.equal(decodeSamples(rec, batch), samples.length);
  assert.equal(batch.length, samples.length);
  samples.forEach((s, i) => {
    assert.equal(batch.refs[i], s.ref, `ref ${i}`);
    assert.equal(batch.ts[i], s.t, `t ${i}`);
    assert.equal(batch.lo[i], s.lo >>> 0, `lo ${i}`);
    assert.equal(batch.hi[i], s.hi >>> 0, `hi ${i}`);
  });
}

function bits(v: number): { lo: number; hi: number } {
  const f = new Float64Array([v]);
  const u = new Uint32Array(f.buffer);
  return { lo: u[0]!, hi: u[1]! };
}

test('samples round trip on seeded random data', () => {
  const rng = new Rng(11);
  const enc = new RecordEncoder(16); // tiny start: exercises buffer growth
  const batch = new SampleBatch(2);
  for (let round = 0; round < 200; round++) {
    const n = rng.int(1, 300);
    const baseRef = rng.int(0, 2 ** 31);
    const baseT = rng.int(1.6e12, 1.8e12);
    const samples: S[] = [];
    for (let i = 0; i < n; i++) {
      samples.push({
        ref: baseRef + rng.int(-baseRef, 100000),
        t: baseT + rng.int(-1e9, 1e9),
        lo: rng.uint32(),
        hi: rng.uint32(),
      });
    }
    roundTripSamples(enc, samples, batch);
  }
});

test('NaN payloads keep their bits (stale marker), and ±0, ±Inf', () => {
  const enc = new RecordEncoder();
  const stale = { lo: 0x00000002, hi: 0x7ff00000 };
  const nan = bits(NaN);
  const samples: S[] = [
    { ref: 1, t: 1000, ...stale },
    { ref: 2, t: 1001, ...nan },
    { ref: 3, t: 1002, lo: 0xdeadbeef, hi: 0xfff7ffff }, // a signalling NaN with a payload
    { ref: 4, t: 1003, ...bits(-0) },
    { ref: 5, t: 1004, ...bits(Infinity) },
    { ref: 6, t: 1005, ...bits(-Infinity) },
    { ref: 7, t: 1006, ...bits(Math.PI) },
  ];
  roundTripSamples(enc, samples);
});

test('negative timestamps and deltas', () => {
  const enc = new RecordEncoder();
  roundTripSamples(enc, [
    { ref: 5, t: -1, lo: 1, hi: 2 },
    { ref: 4, t: -86400000, lo: 3, hi: 4 },
    { ref: 6, t: 12345, lo: 5, hi: 6 },
    { ref: 0, t: -(2 ** 40), lo: 7, hi: 8 },
  ]);
  roundTripSamples(enc, [{ ref: 0, t: -(2 ** 50), lo: 0, hi: 0 }, { ref: 1, t: 2 ** 50, lo: 0, hi: 0 }]);
});

test('large refs up to 2^53 - 1', () => {
  const enc = new RecordEncoder();
  const max = Number.MAX_SAFE_INTEGER;
  roundTripSamples(enc, [
    { ref: max, t: 0, lo: 0, hi: 0 },
    { ref: max - 2 ** 40, t: 1, lo: 0, hi: 0 },
    { ref: max - 2 ** 51, t: 2, lo: 0, hi: 0 },
  ]);
  roundTripSamples(enc, [
    { ref: 2 ** 32, t: 2, lo: 0, hi: 0 },
    { ref: 2 ** 32 - 1, t: 3, lo: 0, hi: 0 },
    { ref: 2 ** 33 + 5, t: 3, lo: 0, hi: 0 },
  ]);
  // A delta of 2^52 or more cannot be zigzag-encoded exactly: refused, not corrupted.
  enc.beginSamples();
  enc.sample(max, 0, 0, 0);
  assert.throws(() => enc.sample(0, 0, 0, 0));
  enc.beginSeries();
  enc.series(max, ['a', 'b']);
  enc.series(2 ** 32 + 7, []);
  const got: number[] = [];
  decodeSeries(enc.finish(), (ref) => got.push(ref));
  assert.deepEqual(got, [max, 2 ** 32 + 7]);
  assert.throws(() => enc.series(-1, []));
  assert.throws(() => enc.series(2 ** 53, []));
});

test('empty samples record', () => {
  const enc = new RecordEncoder();
  enc.beginSamples();
  const rec = enc.finish();
  assert.deepEqual([...rec], [RecordType.Samples]);
  assert.equal(decodeSamples(rec, new SampleBatch()), 0);
});

test('append mode accumulates samples of several records', () => {
  const enc = new RecordEncoder();
  const batch = new SampleBatch(1);
  enc.beginSamples();
  enc.sample(1, 10, 1, 1);
  decodeSamples(enc.finish(), batch);
  enc.beginSamples();
  enc.sample(2, 20, 2, 2);
  enc.sample(3, 30, 3, 3);
  assert.equal(decodeSamples(enc.finish(), batch, true), 2);
  assert.deepEqual([...batch.refs.subarray(0, batch.length)], [1, 2, 3]);
  assert.deepEqual([...batch.ts.subarray(0, batch.length)], [10, 20, 30]);
});

test('series round trip on seeded random data, including UTF-8 and long strings', () => {
  const rng = new Rng(23);
  const enc = new RecordEncoder(32);
  const alphabet = Array.from('abcdefghijklmnopqrstuvwxyz_0123456789ÄéΩ中🙂');
  const str = (max: number): string => {
    const n = rng.int(0, max);
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)] ?? 'x';
    return s;
  };
  for (let round = 0; round < 50; round++) {
    const want: { ref: number; labels: string[] }[] = [];
    enc.beginSeries();
    const n = rng.int(0, 60);
    for (let i = 0; i < n; i++) {
      const labels: string[] = [];
      const k = rng.int(0, 10);
      for (let j = 0; j < k; j++) labels.push(str(12), str(j === 0 ? 300 : 40));
      const ref = rng.int(0, 2 ** 32) * 1024 + rng.int(0, 1023);
      enc.series(ref, labels);
      want.push({ ref, labels });
    }
    const got: { ref: number; labels: string[] }[] = [];
    decodeSeries(enc.finish(), (ref, labels) => got.push({ ref, labels }));
    assert.deepEqual(got, want);
  }
});

test('malformed records throw WalCorruptionError', () => {
  const enc = new RecordEncoder();
  enc.beginSamples();
  enc.sample(1, 2, 3, 4);
  enc.sample(2, 3, 3, 4);
  const rec = enc.finish().slice();
  assert.throws(() => decodeSamples(rec.subarray(0, rec.length - 1), new SampleBatch()), WalCorruptionError);
  assert.throws(() => decodeSamples(rec.subarray(0, 10), new SampleBatch()), WalCorruptionError);
  assert.throws(() => decodeSeries(rec, () => {}), WalCorruptionError);
  enc.beginSeries();
  enc.series(1, ['name', 'value']);
  const s = enc.finish().slice();
  assert.throws(() => decodeSeries(s.subarray(0, s.length - 2), () => {}), WalCorruptionError);
  assert.throws(() => decodeSamples(s, new SampleBatch()), WalCorruptionError);
});

test('encoding layout matches the documented bytes', () => {
  const enc = new RecordEncoder();
  enc.beginSeries();
  enc.series(0x0102030405, ['a', 'bc']);
  assert.deepEqual([...enc.finish()], [1, 0, 0, 0, 1, 2, 3, 4, 5, 1, 1, 0x61, 2, 0x62, 0x63]);
  enc.beginSamples();
  enc.sample(10, -2, 0x11223344, 0x55667788);
  enc.sample(9, 62, 0, 0);
  assert.deepEqual([...enc.finish()], [
    2, 0, 0, 0, 0, 0, 0, 0, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0, 0, 0x55, 0x66, 0x77, 0x88, 0x11, 0x22, 0x33, 0x44,
    1, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
  ]);
});
