/**
 * decodeXorInto must read exactly what XorIterator reads: the same timestamps and the same 64
 * value bits, for every kind of sample the encoder writes (each delta-of-delta width, value
 * windows old and new, 64 significant bits, stale-marker NaNs), within any [mint, maxt], and on
 * chunks cut short (both stop at the same sample).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../helpers/prng.js';
import { XOR_STATE_BYTES, XorIterator, xorAppend, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import { decodeXorInto, ensureRoom, newSampleColumns, xorSampleCount } from '../../src/chunkenc/xorBulk.js';

/** encode appends (t, lo, hi) samples to a fresh chunk and returns its bytes. */
function encode(samples: [number, number, number][]): Uint8Array {
  const state = new ArrayBuffer(XOR_STATE_BYTES);
  const f64 = new Float64Array(state);
  const i32 = new Int32Array(state);
  xorStateInit(f64, i32, 0);
  const data = new Uint8Array(64 + samples.length * 20);
  for (const [t, lo, hi] of samples) assert.ok(xorAppend(f64, i32, 0, data, 0, data.length, t, lo, hi));
  return data.slice(0, xorByteLength(i32, 0));
}

/** series makes n samples of one of several shapes. */
function series(rnd: () => number, n: number, shape: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  let t = Math.floor(rnd() * 2e12) - 1e12;
  const f = new Float64Array(1);
  const w = new Uint32Array(f.buffer);
  let v = rnd() * 1000;
  for (let i = 0; i < n; i++) {
    const jump = rnd();
    // Timestamps: steady, jittered, every dod width, and jumps needing the 64-bit field.
    t += shape === 0 ? 15_000 : jump < 0.5 ? 15_000 + Math.floor((rnd() - 0.5) * 100) : jump < 0.7 ? Math.floor(rnd() * 60_000) : jump < 0.85 ? Math.floor(rnd() * 1_000_000) : jump < 0.97 ? Math.floor(rnd() * 2e9) : Math.floor(rnd() * 2 ** 40);
    const r = rnd();
    if (shape === 1 && r < 0.1) {
      w[0] = 2; w[1] = 0x7ff00000; // stale marker
    } else if (shape === 2) {
      w[0] = Math.floor(rnd() * 2 ** 32); w[1] = Math.floor(rnd() * 2 ** 32); // 64 significant bits
    } else {
      if (r < 0.4) v += 1; else if (r < 0.6) v = v; else if (r < 0.9) v += rnd() * 10; else v = -v * rnd() * 1e10;
      f[0] = v;
    }
    out.push([t, w[0]!, w[1]!]);
  }
  return out;
}

/** iterate decodes with XorIterator, keeping samples in [mint, maxt] and stopping after maxt. */
function iterate(d: Uint8Array, mint: number, maxt: number): { t: number[]; lo: number[]; hi: number[] } {
  const it = new XorIterator();
  it.reset(d, 0, d.length);
  const out = { t: [] as number[], lo: [] as number[], hi: [] as number[] };
  while (it.next()) {
    if (it.t < mint) continue;
    if (it.t > maxt) break;
    out.t.push(it.t); out.lo.push(it.vLo); out.hi.push(it.vHi);
  }
  return out;
}

test('decodeXorInto reads what XorIterator reads, in any window and on chunks cut short', () => {
  const rnd = mulberry32(11);
  const cols = newSampleColumns(4);
  let checked = 0;
  for (let iter = 0; iter < 400; iter++) {
    const n = 1 + Math.floor(rnd() * 300);
    const samples = series(rnd, n, iter % 4);
    let d = encode(samples);
    if (iter % 5 === 4) d = d.slice(0, Math.max(2, Math.floor(rnd() * d.length))); // cut short: corrupt
    const lo = samples[0]![0], hi = samples[samples.length - 1]![0];
    const windows: [number, number][] = [[-Infinity, Infinity], [lo + (hi - lo) * rnd(), Infinity], [-Infinity, lo + (hi - lo) * rnd()]];
    for (const [mint, maxt] of windows) {
      const want = iterate(d, mint, maxt);
      cols.n = 3; // appends after what is there
      ensureRoom(cols, xorSampleCount(d, 0, d.length));
      decodeXorInto(d, 0, d.length, mint, maxt, cols);
      assert.equal(cols.n - 3, want.t.length, `iteration ${iter}: sample count in [${mint}, ${maxt}]`);
      for (let k = 0; k < want.t.length; k++) {
        assert.equal(cols.t[3 + k], want.t[k], `iteration ${iter}: t[${k}]`);
        assert.equal(cols.w[2 * (3 + k)], want.lo[k], `iteration ${iter}: value low word [${k}]`);
        assert.equal(cols.w[2 * (3 + k) + 1], want.hi[k], `iteration ${iter}: value high word [${k}]`);
      }
      checked += want.t.length;
    }
  }
  assert.ok(checked > 50_000, `checked ${checked} samples`);
});

test('decodeXorInto: delta-of-delta at the edges of every field width', () => {
  const dods = [8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288, 0, 1, -1, 2 ** 33, -(2 ** 33)];
  const samples: [number, number, number][] = [];
  let t = 1_700_000_000_000;
  let delta = 10_000_000;
  samples.push([t, 0, 0x40000000], [(t += delta), 1, 0x40000000]);
  for (const dod of dods) {
    delta += dod;
    samples.push([(t += delta), samples.length, 0x40000000]);
  }
  const d = encode(samples);
  const cols = newSampleColumns(samples.length);
  decodeXorInto(d, 0, d.length, -Infinity, Infinity, cols);
  assert.deepEqual(Array.from(cols.t.subarray(0, cols.n)), samples.map((s) => s[0]));
  assert.deepEqual(iterate(d, -Infinity, Infinity).t, samples.map((s) => s[0]));
});
