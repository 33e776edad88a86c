/**
 * Tests of src/peer/encode.ts (WriteRequestEncoder): byte-for-byte agreement with protobufjs on
 * random requests, decoding by protobufjs and by the gateway's decoder (which keeps NaN payloads
 * such as the stale marker bit for bit), negative and large timestamps, buffer growth and reuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteRequestEncoder } from '../../src/peer/encode.js';
import { encodeLabelBlob, type Labels } from '../../src/model/labels.js';
import { encodeWriteRequest, loadRemoteWriteSchema, type TimeSeriesMsg } from '../../src/proto/schema.js';
import { WriteRequestDecoder } from '../../src/gateway/wire.js';
import { Rng } from '../helpers/prng.js';

interface Series { labels: Labels; ts: number[]; words: [number, number][] }

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const wordsOf = (v: number): [number, number] => { f64[0] = v; return [u32[0]!, u32[1]!]; };
const valueOf = (w: [number, number]): number => { u32[0] = w[0]; u32[1] = w[1]; return f64[0]!; };

/** encodeAll runs the encoder over `series` and returns a copy of the bytes. */
function encodeAll(enc: WriteRequestEncoder, series: Series[]): Uint8Array {
  enc.reset();
  for (const s of series) {
    const blob = encodeLabelBlob(s.labels);
    const ts = Float64Array.from(s.ts);
    const vw = new Uint32Array(s.words.flat());
    enc.addSeries(blob, 0, blob.length, ts, vw, 0, s.ts.length);
  }
  return enc.finish().slice();
}

/** toMsg turns test series into protobufjs' plain shape. */
function toMsg(series: Series[]): TimeSeriesMsg[] {
  return series.map((s) => ({
    labels: s.labels.map(([name, value]) => ({ name, value })),
    samples: s.ts.map((timestamp, k) => ({ timestamp, value: valueOf(s.words[k]!) })),
  }));
}

/** randomSeries makes series with non-zero, non-NaN values and positive timestamps. */
function randomSeries(rng: Rng, n: number): Series[] {
  const out: Series[] = [];
  for (let i = 0; i < n; i++) {
    const nl = rng.int(1, 6);
    const names = new Set<string>();
    while (names.size < nl) names.add(`l${rng.int(0, 99)}_${'x'.repeat(rng.int(0, 3))}`);
    const labels: Labels = [...names].sort().map((name) => [name, `v${rng.int(1, 1e6)}${'é'.repeat(rng.int(0, 2))}${'y'.repeat(rng.int(0, 200))}`]);
    const k = rng.int(0, 5);
    const ts: number[] = [];
    const words: [number, number][] = [];
    for (let j = 0; j < k; j++) {
      ts.push(1_700_000_000_000 + rng.int(1, 1e9));
      words.push(wordsOf((rng.next() - 0.5) * 10 ** rng.int(-5, 12) || 1));
    }
    out.push({ labels, ts, words });
  }
  return out;
}

test('encoded bytes equal protobufjs encoding of the same request', () => {
  const rng = new Rng(5);
  const enc = new WriteRequestEncoder(16); // tiny start: exercises growth
  for (let round = 0; round < 40; round++) {
    const series = randomSeries(rng, rng.int(0, 30));
    const ours = encodeAll(enc, series);
    const theirs = encodeWriteRequest({ timeseries: toMsg(series) });
    assert.deepEqual(Buffer.from(ours), Buffer.from(theirs), `round ${round}`);
    assert.equal(enc.seriesCount, series.length);
  }
});

test('edge values decode the same with protobufjs and the gateway decoder, bit for bit', () => {
  const STALE: [number, number] = [0x00000002, 0x7ff00000];
  const series: Series[] = [
    {
      labels: [['__name__', 'up'], ['job', 'a']],
      ts: [0, -1, -1_000_000_000_000, 2 ** 53 - 1, 1_700_000_000_123],
      words: [wordsOf(0), wordsOf(-0), STALE, wordsOf(Infinity), wordsOf(-1.5e-300)],
    },
    { labels: [['__name__', 'no_samples']], ts: [], words: [] },
    { labels: [['k', 'ü'.repeat(40)]], ts: [127, 128, 16383, 16384], words: [wordsOf(1), wordsOf(2), wordsOf(3), wordsOf(4)] },
    { labels: [['big', 'v'.repeat(70_000)], ['z', 'x']], ts: [2 ** 31, 2 ** 32 + 5], words: [wordsOf(5), wordsOf(6)] },
  ];
  const bytes = encodeAll(new WriteRequestEncoder(), series);

  const { WriteRequest } = loadRemoteWriteSchema();
  const decoded = WriteRequest.toObject(WriteRequest.decode(bytes), { longs: Number, defaults: true }) as { timeseries: TimeSeriesMsg[] };
  assert.equal(decoded.timeseries.length, 4);
  assert.equal(decoded.timeseries[3]!.labels[0]!.value.length, 70_000);
  assert.deepEqual(decoded.timeseries[3]!.samples.map((s) => s.timestamp), [2 ** 31, 2 ** 32 + 5]);
  assert.deepEqual(decoded.timeseries[0]!.labels, [{ name: '__name__', value: 'up' }, { name: 'job', value: 'a' }]);
  assert.deepEqual(decoded.timeseries[0]!.samples.map((s) => s.timestamp), series[0]!.ts);
  assert.deepEqual(decoded.timeseries[2]!.samples.map((s) => s.timestamp), [127, 128, 16383, 16384]);
  assert.equal(decoded.timeseries[2]!.labels[0]!.value, 'ü'.repeat(40));
  assert.deepEqual(decoded.timeseries[1]!.samples, []);

  const d = new WriteRequestDecoder();
  d.decode(bytes, bytes.length);
  assert.equal(d.seriesCount, 4);
  assert.equal(d.sampleCount, 11);
  const words: number[] = [];
  for (let k = 0; k < d.sampleCount; k++) words.push(d.valueWords[2 * k]!, d.valueWords[2 * k + 1]!);
  const want = series.flatMap((s) => s.words.flat());
  assert.deepEqual(words, want, 'value bits, stale marker and -0 included');
  assert.deepEqual(Array.from(d.timestamps.subarray(0, 5)), series[0]!.ts);
});

test('many labels (label scratch growth) match protobufjs', () => {
  const labels: Labels = Array.from({ length: 300 }, (_, i) => [`l${String(i).padStart(3, '0')}`, `v${i}`]);
  const bytes = encodeAll(new WriteRequestEncoder(), [{ labels, ts: [1], words: [wordsOf(1)] }]);
  assert.deepEqual(Buffer.from(bytes), Buffer.from(encodeWriteRequest({ timeseries: toMsg([{ labels, ts: [1], words: [wordsOf(1)] }]) })));
});

test('a subset of samples and a blob inside a larger buffer', () => {
  const blob = encodeLabelBlob([['a', '1'], ['b', '2']]);
  const big = new Uint8Array(blob.length + 10);
  big.set(blob, 7);
  const ts = Float64Array.from([10, 20, 30, 40]);
  const vw = new Uint32Array([...wordsOf(1), ...wordsOf(2), ...wordsOf(3), ...wordsOf(4)]);
  const enc = new WriteRequestEncoder();
  enc.addSeries(big, 7, blob.length, ts, vw, 1, 3);
  const ours = enc.finish().slice();
  const theirs = encodeWriteRequest({ timeseries: [{ labels: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }], samples: [{ value: 2, timestamp: 20 }, { value: 3, timestamp: 30 }] }] });
  assert.deepEqual(Buffer.from(ours), Buffer.from(theirs));
  enc.reset();
  assert.equal(enc.finish().length, 0, 'reset empties the request');
});
