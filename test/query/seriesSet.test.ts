/**
 * A series found in several sources (a block and the head, replicas on peers) is decoded into one
 * sorted run with each timestamp once, whether its chunks are in order, overlapping, or given
 * without time ranges; the first source's sample wins a shared timestamp when runs overlap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../helpers/prng.js';
import { XOR_STATE_BYTES, xorAppend, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import { SeriesSetBuilder, decodeSeriesSet } from '../../src/query/seriesSet.js';

function chunk(samples: [number, number][]): Uint8Array {
  const st = new ArrayBuffer(XOR_STATE_BYTES);
  const f64 = new Float64Array(st);
  const i32 = new Int32Array(st);
  xorStateInit(f64, i32, 0);
  const data = new Uint8Array(64 + samples.length * 20);
  const f = new Float64Array(1);
  const w = new Uint32Array(f.buffer);
  for (const [t, v] of samples) { f[0] = v; assert.ok(xorAppend(f64, i32, 0, data, 0, data.length, t, w[0]!, w[1]!)); }
  return data.slice(0, xorByteLength(i32, 0));
}

test('merged series: runs in order, overlapping or unordered become one sorted run, each timestamp once', () => {
  const rnd = mulberry32(3);
  for (let iter = 0; iter < 300; iter++) {
    const b = new SeriesSetBuilder({ external: [['tenant_id', 't']] });
    const want = new Map<number, number>();
    const sources = 2 + Math.floor(rnd() * 3);
    const withTimes = rnd() < 0.7;
    for (let src = 0; src < sources; src++) {
      const e = b.add([['__name__', 'm'], ['i', String(iter % 3)]]);
      const chunks = 1 + Math.floor(rnd() * 3);
      for (let c = 0; c < chunks; c++) {
        const from = Math.floor(rnd() * 100);
        const samples: [number, number][] = [];
        for (let t = from; t < from + 1 + Math.floor(rnd() * 40); t++) if (rnd() < 0.7) samples.push([t * 1000, src * 1000 + t]);
        if (samples.length === 0) continue;
        for (const [t, v] of samples) if (!want.has(t)) want.set(t, v);
        const data = chunk(samples);
        if (withTimes) b.chunk(e, data, 0, data.length, samples[0]![0], samples.at(-1)![0]);
        else b.chunk(e, data, 0, data.length);
      }
    }
    const got = decodeSeriesSet(b.build(), -Infinity, Infinity);
    const ts = [...want.keys()].sort((x, y) => x - y);
    if (ts.length === 0) { assert.equal(got.length, 0); continue; }
    assert.equal(got.length, 1, `iteration ${iter}`);
    assert.deepEqual(Array.from(got[0]!.t), ts, `iteration ${iter}: timestamps`);
    // Sources add chunks in order, so the first source holding a timestamp is the one whose value stays,
    // except when chunk time ranges reorder them: then only the timestamps are compared.
    if (!withTimes) assert.deepEqual(Array.from(got[0]!.v), ts.map((t) => want.get(t)), `iteration ${iter}: values`);
    else for (let k = 0; k < ts.length; k++) assert.equal(got[0]!.v[k]! % 1000, (ts[k]! / 1000) % 1000, `iteration ${iter}: value at ${ts[k]}`);
  }
});
