/**
 * The WebAssembly points writer (src/query/render/pointsWasm.ts) must print exactly what the
 * JavaScript renderer prints for every double: `[` + String(t/1000) + `,"` + formatFloat(v) + `"]`
 * per point. Checked on edge values (zeros, infinities, subnormals, the ends of the fixed and
 * exponent notations and their neighbours, every power of two and of ten), 300k doubles from
 * random bit patterns, 100k decimal-looking values and random timestamps; that timestamps it
 * cannot print make it decline; and that the embedded module is points.wat compiled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { PointsWriter } from '../../../src/query/render/pointsWasm.js';
import { POINTS_WASM_BASE64 } from '../../../src/query/render/pointsWasm.bytes.js';
import { formatFloat } from '../../../src/query/promql/value.js';
import { Rng } from '../../helpers/prng.js';

const bits = new DataView(new ArrayBuffer(8));

/** fromBits is the double with the given high and low 32 bits. */
function fromBits(hi: number, lo: number): number {
  bits.setUint32(0, hi >>> 0);
  bits.setUint32(4, lo >>> 0);
  return bits.getFloat64(0);
}

/** nextUp is the next double towards +Infinity (for finite x). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  bits.setFloat64(0, x);
  const b = bits.getBigUint64(0);
  bits.setBigUint64(0, x > 0 ? b + 1n : b - 1n);
  return bits.getFloat64(0);
}

/** nextDown is the next double towards -Infinity (for finite x). */
function nextDown(x: number): number {
  return -nextUp(-x);
}

/** expected is what matrixSeriesJson writes for these points. */
function expected(t: ArrayLike<number>, v: ArrayLike<number>, from: number, to: number): string[] {
  const out: string[] = [];
  for (let k = from; k < to; k++) out.push('[' + String(t[k]! / 1000) + ',"' + formatFloat(v[k]!) + '"]');
  return out;
}

const CHUNK = 5000;

/** check renders the points in chunks and compares them with the JavaScript text. */
function check(w: PointsWriter, t: ArrayLike<number>, v: ArrayLike<number>, what: string): void {
  for (let from = 0; from < t.length; from += CHUNK) {
    const to = Math.min(t.length, from + CHUNK);
    const n = to - from;
    w.ensure(n);
    for (let k = 0; k < n; k++) {
      w.times[k] = t[from + k]!;
      w.values[k] = v[from + k]!;
    }
    const got = w.render(n);
    assert.ok(got !== undefined, `${what}: declined`);
    const want = expected(t, v, from, to);
    const text = Buffer.from(got.buffer, got.byteOffset, got.length).toString('latin1');
    if (text === want.join(',')) continue;
    const parts = text.split('],[');
    for (let k = 0; k < n; k++) {
      const mine = (k === 0 ? '' : '[') + parts[k] + (k === n - 1 ? '' : ']');
      assert.equal(mine, want[k], `${what}: point ${from + k} (t=${t[from + k]}, v=${v[from + k]})`);
    }
    assert.fail(`${what}: output differs`);
  }
}

/** stamps are n range-query timestamps (ms) from 2026, 30 s apart. */
function stamps(n: number): number[] {
  return Array.from({ length: n }, (_, k) => 1_795_232_100_000 + k * 30_000);
}

test('edge values print as formatFloat prints them', () => {
  const edge: number[] = [
    0, -0, Infinity, -Infinity, NaN, 5e-324, Number.MIN_VALUE, 2 * Number.MIN_VALUE, 3 * Number.MIN_VALUE,
    2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, 0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 2 / 3,
    2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 9007199254740993, 123456789012345680, 1.0000000000000002,
    0.30000000000000004, 1.7976931348623157e308, 4.9406564584124654e-324, 9.109383701528e-31,
    6.02214076e23, 1.5, 0.5, 100, 1e-5, 1e-6, 1e-7, 1e20, 1e21, 1e22, 1e23, 9.999999999999999e22,
    5e-7, 1.2345e-6, 999999999999999999999, 123456789.12345679, 2 ** -1022, 2 ** -1023,
  ];
  for (let e = 15; e <= 23; e++) edge.push(Number(`1e${e}`));
  for (let e = -1074; e <= 1023; e++) edge.push(2 ** e);
  for (let e = -323; e <= 308; e++) edge.push(Number(`1e${e}`), Number(`9e${e}`), Number(`5e${e}`));
  // Both neighbours of each (a power of two's lower neighbour is closer than its upper one).
  const around = edge.filter((x) => Number.isFinite(x) && x !== 0).flatMap((x) => [x, nextUp(x), nextDown(x)]);
  const all = [...around, ...around.map((x) => -x), 0, -0, Infinity, -Infinity, NaN];
  assert.ok(all.length > 15_000);
  check(new PointsWriter(), stamps(all.length), all, 'edge values');
  // A few written out, so that a change in formatFloat itself shows here too.
  const w = new PointsWriter();
  const text = (v: number[]): string => Buffer.from(w.write(stamps(v.length), v, v.length)!).toString('latin1');
  assert.equal(text([1e-7, 1.5e21, 5e-324, -0, NaN, -Infinity]),
    '[1795232100,"1e-07"],[1795232130,"1.5e+21"],[1795232160,"5e-324"],[1795232190,"-0"],[1795232220,"NaN"],[1795232250,"-Inf"]');
});

test('300k doubles from random bit patterns', () => {
  const rng = new Rng(11);
  const v: number[] = [];
  while (v.length < 300_000) {
    const x = fromBits(rng.uint32(), rng.uint32());
    if (x === x) v.push(x); // NaN payloads print alike; one NaN is enough (edge values)
  }
  check(new PointsWriter(), stamps(v.length), v, 'random bits');
});

test('100k decimal-looking values (k / 10^j, k · 10^j)', () => {
  const rng = new Rng(12);
  const v: number[] = [];
  for (let i = 0; i < 100_000; i++) {
    const k = rng.chance(0.5) ? rng.int(0, 9999) : rng.int(0, 2 ** 31) * 1000 + rng.int(0, 999);
    const j = rng.int(0, 24);
    const x = rng.chance(0.8) ? k / 10 ** j : k * 10 ** j;
    v.push(rng.chance(0.2) ? -x : x);
  }
  check(new PointsWriter(), stamps(v.length), v, 'decimal-looking');
});

test('timestamps: negative, fractional seconds, near the 2^43 s limit, and reused between calls', () => {
  const rng = new Rng(13);
  const t: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const r = rng.next();
    if (r < 0.3) t.push(rng.int(-2e9, 2e9)); // around the epoch, both signs
    else if (r < 0.6) t.push(rng.int(0, 2 ** 31) * 1000 + rng.int(0, 999)); // any millisecond
    else if (r < 0.8) t.push((rng.int(0, 2 ** 21) * 2 ** 22 + rng.int(0, 2 ** 22)) * (rng.chance(0.5) ? 1 : -1));
    else t.push(rng.chance(0.5) ? 8796093022208000 - rng.int(1, 1e6) : -8796093022208000 + rng.int(1, 1e6));
  }
  t.push(0, -0, 1, -1, 10, 100, 999, -999, 1000, -1000, 1001, 1010, 1100);
  const w = new PointsWriter();
  const v = t.map((_, k) => k / 7);
  check(w, t, v, 'timestamps');
  // The timestamp cache is keyed by value: the same indexes with other timestamps (and again).
  const shifted = t.map((x) => x + (x < 0 ? 1 : -1));
  check(w, shifted, v, 'changed timestamps');
  check(w, t, v.map((x) => -x), 'timestamps again');
});

test('declines timestamps it cannot print, and carries on after', () => {
  const w = new PointsWriter();
  for (const bad of [1.5, -0.25, NaN, Infinity, -Infinity, 8796093022208000, -8796093022208000, 2 ** 53, 1e300]) {
    assert.equal(w.write([1000, bad, 3000], [1, 2, 3], 3), undefined, String(bad));
  }
  const got = w.write([1000, 2000, 3000], [1, 2, 3], 3);
  assert.equal(Buffer.from(got!).toString(), '[1,"1"],[2,"2"],[3,"3"]');
  assert.equal(Buffer.from(w.write([], [], 0)!).toString(), '');
});

test('longer inputs than n, and growing past the first capacity', () => {
  const w = new PointsWriter();
  const t = stamps(10);
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(Buffer.from(w.write(t, v, 2)!).toString(), '[1795232100,"1"],[1795232130,"2"]');
  const n = 20_000;
  const big = Array.from({ length: n }, (_, k) => Math.sin(k) * 10 ** (k % 30 - 15));
  const bt = stamps(n);
  const out = w.write(bt, big, n);
  assert.equal(Buffer.from(out!).toString(), expected(bt, big, 0, n).join(','));
  assert.equal(Buffer.from(w.write(new Float64Array(t), new Float64Array(v), 10)!).toString(), expected(t, v, 0, 10).join(','));
});

test('the embedded module is points.wat compiled', async () => {
  const wat = fileURLToPath(new URL('../../../../src/query/render/points.wat', import.meta.url));
  const script = new URL('../../../../scripts/build-wasm.mjs', import.meta.url).href;
  const { compilePoints } = await import(script) as { compilePoints(p: string): Promise<Buffer> };
  const bytes = await compilePoints(wat);
  // Compared as bytes: a 16 kB module's base64 would drown the report.
  assert.ok(bytes.equals(Buffer.from(POINTS_WASM_BASE64, 'base64')), 'stale pointsWasm.bytes.ts: run node scripts/build-wasm.mjs');
});
