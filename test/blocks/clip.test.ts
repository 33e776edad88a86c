/**
 * clipChunk keeps a chunk that lies in a block's range as it is, and re-encodes the in-range
 * samples of one that crosses it, bit for bit (a stale marker's NaN payload included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XOR_STATE_BYTES, XorIterator, xorAppend, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import { clipChunk } from '../../src/blocks/clip.js';

const STALE_HI = 0x7ff00000;
const STALE_LO = 2;

function chunk(n: number): { minT: number; maxT: number; data: Uint8Array } {
  const st = new ArrayBuffer(XOR_STATE_BYTES);
  const f64 = new Float64Array(st);
  const i32 = new Int32Array(st);
  xorStateInit(f64, i32, 0);
  const data = new Uint8Array(4096);
  const w = new Float64Array(1);
  const u = new Uint32Array(w.buffer);
  for (let i = 0; i < n; i++) {
    w[0] = i * 1.5;
    const [lo, hi] = i === 5 ? [STALE_LO, STALE_HI] : [u[0]!, u[1]!];
    assert.ok(xorAppend(f64, i32, 0, data, 0, data.length, 1000 + i * 1000, lo, hi));
  }
  return { minT: 1000, maxT: n * 1000, data: data.slice(0, xorByteLength(i32, 0)) };
}

function samples(c: { data: Uint8Array }): [number, number, number][] {
  const it = new XorIterator();
  it.reset(c.data, 0, c.data.length);
  const out: [number, number, number][] = [];
  while (it.next()) out.push([it.t, it.vLo, it.vHi]);
  return out;
}

test('a chunk inside the range is returned as it is', () => {
  const c = chunk(10);
  assert.equal(clipChunk(c, 1000, 11_000), c);
});

test('a crossing chunk keeps exactly its in-range samples, bits included', () => {
  const c = chunk(10);
  const all = samples(c);
  const k = clipChunk(c, 3000, 8000)!;
  assert.deepEqual(samples(k), all.filter(([t]) => t >= 3000 && t < 8000));
  assert.equal(k.minT, 3000);
  assert.equal(k.maxT, 7000);
  assert.deepEqual(samples(k).find(([t]) => t === 6000)!.slice(1), [STALE_LO, STALE_HI]);
  // The end is exclusive, the start inclusive; nothing in range gives nothing.
  assert.deepEqual(samples(clipChunk(c, 1000, 5000)!).map(([t]) => t), [1000, 2000, 3000, 4000]);
  assert.equal(clipChunk(c, 20_000, 30_000), undefined);
});
