import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../helpers/prng.js';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import {
  XOR_STATE_BYTES,
  XorIterator,
  xorAppend,
  xorAppendFloat,
  xorByteLength,
  xorChunkInit,
  xorNumSamples,
  xorStateFromChunk,
  xorStateInit,
} from '../../src/chunkenc/xor.js';

// ---------------------------------------------------------------------------------------------
// Helpers


/** Sample: timestamp (ms, safe integer) and value as its 64 bits. */
interface Sample {
  t: number;
  v: bigint;
}

const f64b = new Float64Array(1);
const u64b = new BigUint64Array(f64b.buffer);
function bitsOf(x: number): bigint {
  f64b[0] = x;
  return u64b[0]!;
}
function lo32(v: bigint): number {
  return Number(v & 0xffffffffn);
}
function hi32(v: bigint): number {
  return Number(v >> 32n);
}

const STALE = 0x7ff0000000000002n;
const NAN = 0x7ff8000000000000n;
const PINF = 0x7ff0000000000000n;
const NINF = 0xfff0000000000000n;
const NEG_ZERO = 0x8000000000000000n;

// ---------------------------------------------------------------------------------------------
// Reference encoder: a direct transcription of the format with BigInt and an array of bits.
// Deliberately simple and independent of src/chunkenc (no shared code).

function refEncode(samples: Sample[]): Uint8Array {
  const bits: number[] = [];
  const put = (v: bigint, n: number): void => {
    for (let i = n - 1; i >= 0; i--) bits.push(Number((v >> BigInt(i)) & 1n));
  };
  const putUvarint = (u: bigint): void => {
    while (u >= 0x80n) {
      put((u & 0x7fn) | 0x80n, 8);
      u >>= 7n;
    }
    put(u, 8);
  };
  const clz64 = (x: bigint): number => {
    let n = 0;
    for (let i = 63; i >= 0 && ((x >> BigInt(i)) & 1n) === 0n; i--) n++;
    return n;
  };
  const ctz64 = (x: bigint): number => {
    let n = 0;
    for (let i = 0; i < 64 && ((x >> BigInt(i)) & 1n) === 0n; i++) n++;
    return n;
  };
  const inRange = (x: bigint, n: number): boolean => {
    const h = 1n << BigInt(n - 1);
    return -(h - 1n) <= x && x <= h;
  };
  let prevT = 0n;
  let prevV = 0n;
  let prevDelta = 0n; // uint64
  let lead = 0xff;
  let trail = 0;
  const putValue = (v: bigint): void => {
    const x = v ^ prevV;
    if (x === 0n) {
      put(0n, 1);
      return;
    }
    put(1n, 1);
    let l = clz64(x);
    const tr = ctz64(x);
    if (l >= 32) l = 31;
    if (lead !== 0xff && l >= lead && tr >= trail) {
      put(0n, 1);
      put(x >> BigInt(trail), 64 - lead - trail);
    } else {
      lead = l;
      trail = tr;
      put(1n, 1);
      put(BigInt(l), 5);
      const sig = 64 - l - tr;
      put(BigInt(sig), 6); // 64 keeps its low 6 bits: 0
      put(x >> BigInt(tr), sig);
    }
  };
  samples.forEach((s, i) => {
    const t = BigInt(s.t);
    if (i === 0) {
      putUvarint(BigInt.asUintN(64, (t << 1n) ^ (t >> 63n)));
      put(s.v, 64);
    } else if (i === 1) {
      const d = BigInt.asUintN(64, t - prevT);
      putUvarint(d);
      putValue(s.v);
      prevDelta = d;
    } else {
      const d = BigInt.asUintN(64, t - prevT);
      const dod = BigInt.asIntN(64, d - prevDelta);
      if (dod === 0n) put(0n, 1);
      else if (inRange(dod, 14)) {
        put(0b10n, 2);
        put(BigInt.asUintN(14, dod), 14);
      } else if (inRange(dod, 17)) {
        put(0b110n, 3);
        put(BigInt.asUintN(17, dod), 17);
      } else if (inRange(dod, 20)) {
        put(0b1110n, 4);
        put(BigInt.asUintN(20, dod), 20);
      } else {
        put(0b1111n, 4);
        put(BigInt.asUintN(64, dod), 64);
      }
      putValue(s.v);
      prevDelta = d;
    }
    prevT = t;
    prevV = s.v;
  });
  const out = new Uint8Array(2 + Math.ceil(bits.length / 8));
  out[0] = samples.length >> 8;
  out[1] = samples.length & 0xff;
  bits.forEach((b, i) => {
    if (b) out[2 + (i >> 3)] = out[2 + (i >> 3)]! | (0x80 >> (i & 7));
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding through the real API over a shared state arena and a garbage-filled data region.

interface Encoded {
  bytes: Uint8Array;
  appended: number;
}

function encode(samples: Sample[], opts: { cap?: number; stateOff?: number; dataOff?: number } = {}): Encoded {
  const stateOff = opts.stateOff ?? 24;
  const dataOff = opts.dataOff ?? 5;
  const cap = opts.cap ?? 2 + 20 + samples.length * 40;
  const sab = new SharedArrayBuffer(stateOff + XOR_STATE_BYTES + 16);
  const f64 = new Float64Array(sab);
  const i32 = new Int32Array(sab);
  new Uint8Array(sab).fill(0x5a); // state starts as garbage; init must set everything
  xorStateInit(f64, i32, stateOff);
  const data = new Uint8Array(dataOff + cap + 8).fill(0xa5); // garbage: writes must not rely on zeroes
  if (samples.length === 0) xorChunkInit(data, dataOff);
  let appended = 0;
  for (const s of samples) {
    if (!xorAppend(f64, i32, stateOff, data, dataOff, cap, s.t, lo32(s.v), hi32(s.v))) break;
    appended++;
  }
  assert.equal(xorNumSamples(i32, stateOff), appended);
  const len = xorByteLength(i32, stateOff);
  return { bytes: data.slice(dataOff, dataOff + len), appended };
}

function decode(bytes: Uint8Array, off = 0, len = bytes.length): Sample[] {
  const it = new XorIterator();
  it.reset(bytes, off, len);
  const out: Sample[] = [];
  while (it.next()) {
    out.push({ t: it.t, v: (BigInt(it.vHi) << 32n) | BigInt(it.vLo) });
  }
  assert.equal(it.err, false, 'iterator reported a corrupt chunk');
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function checkSeries(name: string, samples: Sample[]): void {
  const enc = encode(samples);
  assert.equal(enc.appended, samples.length, `${name}: all samples appended`);
  const ref = refEncode(samples);
  assert.equal(hex(enc.bytes), hex(ref), `${name}: bytes equal the reference encoder`);
  const back = decode(enc.bytes);
  assert.equal(back.length, samples.length, `${name}: sample count`);
  for (let i = 0; i < samples.length; i++) {
    assert.equal(back[i]!.t, samples[i]!.t, `${name}: t[${i}]`);
    assert.equal(back[i]!.v, samples[i]!.v, `${name}: v[${i}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// Series generators

type Gen = (rnd: () => number, n: number) => Sample[];

const gens: Record<string, Gen> = {
  scrape15sJitter(rnd, n) {
    let t = 1_700_000_000_000 + Math.floor(rnd() * 1e9);
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: bitsOf(Math.round(rnd() * 1000) / 10) });
      t += 15_000 + (rnd() < 0.3 ? Math.floor(rnd() * 200) - 100 : 0);
    }
    return out;
  },
  counter(rnd, n) {
    let t = 1_700_000_000_000 + Math.floor(rnd() * 1e6);
    let c = Math.floor(rnd() * 1e6);
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: bitsOf(c) });
      t += 15_000 + Math.floor(rnd() * 3) - 1;
      c += rnd() < 0.2 ? 0 : Math.floor(rnd() * 500);
      if (rnd() < 0.02) c = 0; // reset
    }
    return out;
  },
  gauge(rnd, n) {
    let t = 1_600_000_000_000;
    let g = rnd() * 100;
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: bitsOf(g) });
      t += 10_000 + Math.floor(rnd() * 20);
      g += (rnd() - 0.5) * 3;
    }
    return out;
  },
  constant(rnd, n) {
    let t = 1_700_000_000_000;
    const v = bitsOf(rnd() < 0.5 ? 1 : rnd() * 1e9);
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v });
      t += 30_000;
    }
    return out;
  },
  specials(rnd, n) {
    const pool = [STALE, NAN, PINF, NINF, NEG_ZERO, 0n, bitsOf(1), bitsOf(-1), 0x7ff4000000000001n, 0xfff8000000000000n];
    let t = 1_700_000_000_000;
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: pool[Math.floor(rnd() * pool.length)]! });
      t += 15_000;
    }
    return out;
  },
  staleRuns(rnd, n) {
    let t = 1_700_000_000_000;
    let v = rnd() * 10;
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: rnd() < 0.15 ? STALE : bitsOf(v) });
      if (rnd() < 0.3) v += 1;
      t += 15_000;
    }
    return out;
  },
  randomWords(rnd, n) {
    let t = Math.floor(rnd() * 1e13) - 5e12;
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      const w = (BigInt(Math.floor(rnd() * 4294967296)) << 32n) | BigInt(Math.floor(rnd() * 4294967296));
      out.push({ t, v: w });
      t += Math.floor(rnd() * 100_000);
    }
    return out;
  },
  smallXors(rnd, n) {
    // Flip a few nearby bits: exercises window reuse, narrowing, and leading >= 32 clamping.
    let t = 1_000;
    let v = bitsOf(rnd() * 1e6);
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v });
      const at = Math.floor(rnd() * 60);
      const width = 1 + Math.floor(rnd() * 4);
      v ^= BigInt(Math.floor(rnd() * (1 << width)) | 1) << BigInt(at);
      v = BigInt.asUintN(64, v);
      t += 1;
    }
    return out;
  },
  hugeDods(rnd, n) {
    let t = Math.floor((rnd() - 0.5) * 2 ** 50);
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: bitsOf(i) });
      const r = rnd();
      t += r < 0.3 ? Math.floor(rnd() * 2 ** 40) : r < 0.6 ? Math.floor(rnd() * 2 ** 22) : r < 0.8 ? Math.floor(rnd() * 2 ** 18) : 1;
    }
    return out;
  },
  negativeTimestamps(rnd, n) {
    let t = -1_000_000_000_000 - Math.floor(rnd() * 1e9);
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      out.push({ t, v: bitsOf(-i * 0.5) });
      t += 15_000 + Math.floor(rnd() * 10) - 5;
    }
    return out;
  },
  extremeTimestamps(rnd, n) {
    // |t| up to 2^51, so deltas stay within 2^52 and delta-of-deltas within 2^53.
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) out.push({ t: Math.floor((rnd() * 2 - 1) * 2 ** 51), v: bitsOf(rnd()) });
    out.sort((a, b) => a.t - b.t);
    return out;
  },
};

// ---------------------------------------------------------------------------------------------

if (!isMainThread) {
  // Writer side of the concurrent-reader test (see below).
  await concurrentWriter();
} else {
  test('golden: Prometheus bytes for one sample (t=7200000, v=12000)', () => {
    // Produced by Prometheus' Go encoder (v3 bstream, no spare trailing byte); quoted as a test
    // vector by the SINTEF/rusty-chunkenc project.
    const want = '000180f4ee0640c7700000000000';
    const got = encode([{ t: 7_200_000, v: bitsOf(12000) }]);
    assert.equal(hex(got.bytes), want);
  });

  test('golden: Prometheus bytes for 10 samples (t=1234123324+i, v=123535.123+i)', () => {
    // Generated with Prometheus' chunkenc Go code by the SINTEF/rusty-chunkenc project
    // (golang-tests/test.json, base64 "AAr46PmYCUD+KPH3ztkXAe4v0FDQUdBQ0FPA").
    const samples: Sample[] = [];
    for (let i = 0; i < 10; i++) samples.push({ t: 1234123324 + i, v: bitsOf(123535.123 + i) });
    const want = Buffer.from('AAr46PmYCUD+KPH3ztkXAe4v0FDQUdBQ0FPA', 'base64');
    assert.equal(hex(encode(samples).bytes), hex(want));
    assert.equal(hex(refEncode(samples)), hex(want));
    assert.deepEqual(decode(want), samples);
  });

  test('hand-checked small cases', () => {
    // Empty chunk: header only.
    assert.equal(hex(encode([]).bytes), '0000');
    // t=0, v=0: zigzag varint 00, 64 zero bits.
    assert.equal(hex(encode([{ t: 0, v: 0n }]).bytes), '0001' + '00' + '0000000000000000');
    // t=-1 zigzags to 1.
    assert.equal(hex(encode([{ t: -1, v: 0n }]).bytes), '0001' + '01' + '0000000000000000');
    // Second sample: delta uvarint 0x0f then '0' (same value) -> 0x00 byte holds the single bit.
    assert.equal(hex(encode([{ t: 0, v: 0n }, { t: 15, v: 0n }]).bytes), '0002' + '00' + '0000000000000000' + '0f' + '00');
    // The worked example of docs/format/chunks-xor.md.
    assert.equal(
      hex(
        encode([
          { t: 1000, v: bitsOf(1) },
          { t: 16000, v: bitsOf(1) },
          { t: 31000, v: bitsOf(2) },
          { t: 46005, v: bitsOf(3) },
        ]).bytes,
      ),
      '0004' + 'd00f' + '3ff0000000000000' + '9875' + '3097ffe0017603',
    );
    // Third sample with dod 0 and same value: bits '0' '0'.
    assert.equal(
      hex(encode([{ t: 0, v: 0n }, { t: 15, v: 0n }, { t: 30, v: 0n }]).bytes),
      '0003' + '00' + '0000000000000000' + '0f' + '00',
    );
  });

  test('delta-of-delta range boundaries', () => {
    const dods = [0, 1, -1, 8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288, 2 ** 33, -(2 ** 33)];
    for (const dod of dods) {
      const base = 1_000_000_000_000;
      const d1 = 10_000_000;
      const samples: Sample[] = [
        { t: base, v: 0n },
        { t: base + d1, v: 0n },
        { t: base + 2 * d1 + dod, v: 0n },
        { t: base + 3 * d1 + dod, v: bitsOf(1) },
      ];
      checkSeries(`dod=${dod}`, samples);
    }
  });

  test('decreasing timestamps still round-trip (10-byte uvarint, negative deltas)', () => {
    checkSeries('decreasing', [
      { t: 1000, v: 0n },
      { t: 500, v: 1n },
      { t: 400, v: 2n },
      { t: 400 - 2 ** 40, v: 3n },
    ]);
  });

  test('random series round-trip and match the reference encoder byte for byte', () => {
    let series = 0;
    for (const [name, gen] of Object.entries(gens)) {
      for (let s = 0; s < 40; s++) {
        const rnd = mulberry32(1000 * s + name.length);
        const n = 1 + Math.floor(rnd() * 250);
        checkSeries(`${name}#${s}`, gen(rnd, n));
        series++;
      }
    }
    assert.equal(series, Object.keys(gens).length * 40);
  });

  test('append refuses exactly when the chunk would not fit, changing nothing, and resumes after a move', () => {
    const rnd = mulberry32(99);
    for (const [name, gen] of Object.entries(gens)) {
      const samples = gen(rnd, 150);
      const ref = refEncode(samples);
      // Sizes of every prefix, from the reference encoder.
      const prefixLen = samples.map((_, i) => refEncode(samples.slice(0, i + 1)).length);

      const stateSab = new SharedArrayBuffer(64);
      const f64 = new Float64Array(stateSab);
      const i32 = new Int32Array(stateSab);
      const so = 16;
      xorStateInit(f64, i32, so);
      let cap = 2 + 1 + Math.floor(rnd() * 12);
      let off = 3;
      let data = new Uint8Array(off + cap + 16).fill(0xee);
      let refusals = 0;
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i]!;
        const stateBefore = new Uint8Array(stateSab).slice();
        const dataBefore = data.slice();
        const ok = xorAppend(f64, i32, so, data, off, cap, s.t, lo32(s.v), hi32(s.v));
        assert.equal(ok, prefixLen[i]! <= cap, `${name}: sample ${i} fits iff ${prefixLen[i]} <= ${cap}`);
        if (!ok) {
          refusals++;
          assert.deepEqual(new Uint8Array(stateSab), stateBefore, `${name}: state unchanged on refusal`);
          assert.deepEqual(data, dataBefore, `${name}: bytes unchanged on refusal`);
          // Move to a bigger region at another offset, copying the used bytes, and retry.
          const used = xorByteLength(i32, so);
          const newOff = 1 + Math.floor(rnd() * 7);
          const newCap = cap + 1 + Math.floor(rnd() * 16);
          const next = new Uint8Array(newOff + newCap + 16).fill(0x33);
          next.set(data.subarray(off, off + used), newOff);
          data = next;
          off = newOff;
          cap = newCap;
          i--;
          continue;
        }
        assert.equal(xorByteLength(i32, so), prefixLen[i]);
      }
      assert.ok(refusals > 0, `${name}: the test exercised refusals`);
      assert.equal(hex(data.slice(off, off + xorByteLength(i32, so))), hex(ref), `${name}: final bytes`);
    }
  });

  test('in-progress chunk: iterating after each append sees exactly the samples so far', () => {
    const rnd = mulberry32(5);
    const samples = gens.gauge!(rnd, 120);
    const sab = new SharedArrayBuffer(XOR_STATE_BYTES);
    const f64 = new Float64Array(sab);
    const i32 = new Int32Array(sab);
    xorStateInit(f64, i32, 0);
    const data = new Uint8Array(new SharedArrayBuffer(4096));
    const it = new XorIterator();
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      assert.ok(xorAppend(f64, i32, 0, data, 0, data.length, s.t, lo32(s.v), hi32(s.v)));
      // The reader does not know the used length: it passes the whole region.
      it.reset(data, 0, data.length);
      let k = 0;
      while (it.next()) {
        assert.equal(it.t, samples[k]!.t);
        assert.equal((BigInt(it.vHi) << 32n) | BigInt(it.vLo), samples[k]!.v);
        k++;
      }
      assert.equal(k, i + 1);
      assert.equal(it.err, false);
    }
  });

  test('xorStateFromChunk resumes appending with identical bytes', () => {
    const rnd = mulberry32(17);
    for (const [name, gen] of Object.entries(gens)) {
      const samples = gen(rnd, 60);
      const ref = refEncode(samples);
      for (const cut of [0, 1, 2, 3, 17, 59]) {
        const first = encode(samples.slice(0, cut));
        const sab = new SharedArrayBuffer(XOR_STATE_BYTES);
        const f64 = new Float64Array(sab);
        const i32 = new Int32Array(sab);
        const data = new Uint8Array(4096);
        data.set(first.bytes, 0);
        assert.ok(xorStateFromChunk(f64, i32, 0, data, 0, first.bytes.length), `${name}@${cut}: load`);
        assert.equal(xorNumSamples(i32, 0), cut);
        assert.equal(xorByteLength(i32, 0), first.bytes.length);
        for (const s of samples.slice(cut)) assert.ok(xorAppend(f64, i32, 0, data, 0, data.length, s.t, lo32(s.v), hi32(s.v)));
        assert.equal(hex(data.slice(0, xorByteLength(i32, 0))), hex(ref), `${name}@${cut}: bytes`);
      }
    }
  });

  test('corrupt or truncated chunks stop with err instead of inventing samples', () => {
    const rnd = mulberry32(3);
    const bytes = encode(gens.randomWords!(rnd, 50)).bytes;
    const it = new XorIterator();
    it.reset(bytes, 0, bytes.length - 10);
    let n = 0;
    while (it.next()) n++;
    assert.ok(n < 50);
    assert.equal(it.err, true);
    it.reset(bytes, 0, 1);
    assert.equal(it.next(), false);
    assert.equal(it.err, false);
  });

  test('xorAppendFloat and the v getter', () => {
    const sab = new SharedArrayBuffer(XOR_STATE_BYTES);
    const f64 = new Float64Array(sab);
    const i32 = new Int32Array(sab);
    xorStateInit(f64, i32, 0);
    const data = new Uint8Array(256);
    const vals = [1.5, -0, Infinity, -Infinity, 3.25, 1e-300, Number.MAX_VALUE];
    vals.forEach((v, i) => assert.ok(xorAppendFloat(f64, i32, 0, data, 0, data.length, 1000 * i, v)));
    const it = new XorIterator();
    it.reset(data, 0, xorByteLength(i32, 0));
    const got: number[] = [];
    while (it.next()) got.push(it.v);
    assert.equal(got.length, vals.length);
    got.forEach((g, i) => assert.ok(Object.is(g, vals[i])));
  });

  test('a reader thread iterating while a writer thread appends never sees a torn chunk', async () => {
    const N = 3000; // more than 255 samples, so the count's high byte changes too
    const stateSab = new SharedArrayBuffer(XOR_STATE_BYTES);
    const dataSab = new SharedArrayBuffer(2 + N * 20);
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const samples = concurrentSamples(N);
    const worker = new Worker(new URL(import.meta.url), { workerData: { stateSab, dataSab, progressSab: progress.buffer, n: N } });
    const done = new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
    });
    const data = new Uint8Array(dataSab);
    const it = new XorIterator();
    let passes = 0;
    let maxSeen = 0;
    for (;;) {
      const finished = Atomics.load(progress, 0) === 1;
      it.reset(data, 0, data.length);
      let k = 0;
      while (it.next()) {
        if (it.t !== samples[k]!.t || ((BigInt(it.vHi) << 32n) | BigInt(it.vLo)) !== samples[k]!.v) {
          assert.fail(`sample ${k} decoded wrongly during concurrent append`);
        }
        k++;
      }
      assert.equal(it.err, false);
      maxSeen = Math.max(maxSeen, k);
      passes++;
      if (finished) break;
      await new Promise((r) => setImmediate(r));
    }
    await done;
    assert.equal(maxSeen, N);
    assert.ok(passes > 1);
  });
}

/** concurrentSamples is the series both threads of the concurrency test derive from one seed. */
function concurrentSamples(n: number): Sample[] {
  const rnd = mulberry32(4242);
  const out = gens.staleRuns!(rnd, n);
  // Mix in irregular timestamps so all delta-of-delta sizes appear.
  const extra = mulberry32(7);
  let t = out[0]!.t;
  for (const s of out) {
    s.t = t;
    t += 15_000 + (extra() < 0.1 ? Math.floor(extra() * 2 ** 22) : 0);
  }
  return out;
}

async function concurrentWriter(): Promise<void> {
  const { stateSab, dataSab, progressSab, n } = workerData as {
    stateSab: SharedArrayBuffer;
    dataSab: SharedArrayBuffer;
    progressSab: SharedArrayBuffer;
    n: number;
  };
  const f64 = new Float64Array(stateSab);
  const i32 = new Int32Array(stateSab);
  const data = new Uint8Array(dataSab);
  const progress = new Int32Array(progressSab);
  xorStateInit(f64, i32, 0);
  const samples = concurrentSamples(n);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (!xorAppend(f64, i32, 0, data, 0, data.length, s.t, lo32(s.v), hi32(s.v))) throw new Error('region too small');
    // Give the reader chances to run mid-stream.
    if ((i & 63) === 0) await new Promise((r) => setTimeout(r, 0));
  }
  Atomics.store(progress, 0, 1);
}
