/**
 * Micro benchmark: XOR chunk append and iterate throughput, in samples per second.
 *
 * Shape of the work: 2000 series whose appender states and 120-sample chunks live in shared
 * arenas, fed round-robin (one sample per series in turn, as a remote-write batch does), with
 * realistic values: 15 s scrapes with occasional jitter, a mix of counters, gauges and constants.
 * About 1.5 s.
 */
import { pathToFileURL } from 'node:url';
import { XOR_STATE_BYTES, XorIterator, xorAppend, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import { decodeXorInto, newSampleColumns } from '../../src/chunkenc/xorBulk.js';

/** XorBenchResult is what main() measured. */
export interface XorBenchResult {
  appendPerSec: number;
  iteratePerSec: number;
  /** decodeXorInto (the read path's bulk decoder) into sample columns. */
  bulkPerSec: number;
  bytesPerSample: number;
}

const SERIES = 2000;
const SAMPLES = 120;
const CHUNK_CAP = 1536;

/** main runs the benchmark and prints one line per measurement. */
export async function main(): Promise<XorBenchResult> {
  // Pre-generate the inputs so that only the codec is timed.
  const ts = new Float64Array(SERIES * SAMPLES);
  const lo = new Int32Array(SERIES * SAMPLES);
  const hi = new Int32Array(SERIES * SAMPLES);
  const f = new Float64Array(1);
  const w = new Int32Array(f.buffer);
  let seed = 42;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  for (let s = 0; s < SERIES; s++) {
    let t = 1_700_000_000_000 + Math.floor(rnd() * 15_000);
    let v = Math.floor(rnd() * 1e6);
    const kind = s % 3; // 0 counter, 1 gauge, 2 constant
    for (let i = 0; i < SAMPLES; i++) {
      const k = s * SAMPLES + i;
      ts[k] = t;
      f[0] = v;
      lo[k] = w[0]!;
      hi[k] = w[1]!;
      t += 15_000 + (rnd() < 0.1 ? Math.floor(rnd() * 40) - 20 : 0);
      if (kind === 0) v += Math.floor(rnd() * 100);
      else if (kind === 1) v = Math.round((v + (rnd() - 0.5) * 10) * 100) / 100;
    }
  }

  const stateSab = new SharedArrayBuffer(SERIES * XOR_STATE_BYTES);
  const f64 = new Float64Array(stateSab);
  const i32 = new Int32Array(stateSab);
  const data = new Uint8Array(new SharedArrayBuffer(SERIES * CHUNK_CAP));

  const appendAll = (): void => {
    for (let s = 0; s < SERIES; s++) xorStateInit(f64, i32, s * XOR_STATE_BYTES);
    for (let i = 0; i < SAMPLES; i++) {
      for (let s = 0; s < SERIES; s++) {
        const k = s * SAMPLES + i;
        if (!xorAppend(f64, i32, s * XOR_STATE_BYTES, data, s * CHUNK_CAP, CHUNK_CAP, ts[k]!, lo[k]!, hi[k]!)) {
          throw new Error('chunk region too small');
        }
      }
    }
  };

  const it = new XorIterator();
  let sink = 0;
  const iterateAll = (): void => {
    for (let s = 0; s < SERIES; s++) {
      it.reset(data, s * CHUNK_CAP, xorByteLength(i32, s * XOR_STATE_BYTES));
      while (it.next()) sink += it.t + it.vLo;
    }
  };

  // The bulk decoder reads plain (copied) bytes, as query threads do.
  const copy = data.slice();
  const cols = newSampleColumns(SERIES * SAMPLES);
  const bulkAll = (): void => {
    cols.n = 0;
    for (let s = 0; s < SERIES; s++) decodeXorInto(copy, s * CHUNK_CAP, xorByteLength(i32, s * XOR_STATE_BYTES), -Infinity, Infinity, cols);
    sink += cols.n;
  };

  const measure = (ms: number, fn: () => void): number => {
    let rounds = 0;
    let best = Infinity;
    const stop = performance.now() + ms;
    while (performance.now() < stop || rounds < 3) {
      const t0 = performance.now();
      fn();
      best = Math.min(best, performance.now() - t0);
      rounds++;
    }
    return (SERIES * SAMPLES) / (best / 1000);
  };

  measure(150, appendAll); // warm-up
  const appendPerSec = measure(600, appendAll);
  measure(100, iterateAll);
  const iteratePerSec = measure(600, iterateAll);
  measure(100, bulkAll);
  const bulkPerSec = measure(600, bulkAll);
  let bytes = 0;
  for (let s = 0; s < SERIES; s++) bytes += xorByteLength(i32, s * XOR_STATE_BYTES);
  const bytesPerSample = bytes / (SERIES * SAMPLES);
  if (sink === 0.5) console.log('');
  const fmt = (n: number): string => `${(n / 1e6).toFixed(1)} M samples/s`;
  console.log(`xor append   ${fmt(appendPerSec)} (${SERIES} series x ${SAMPLES} samples, round-robin)`);
  console.log(`xor iterate  ${fmt(iteratePerSec)}`);
  console.log(`xor bulk     ${fmt(bulkPerSec)} (decodeXorInto: ${(bulkPerSec / iteratePerSec).toFixed(2)}× the iterator)`);
  console.log(`xor size     ${bytesPerSample.toFixed(2)} bytes/sample`);
  return { appendPerSec, iteratePerSec, bulkPerSec, bytesPerSample };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
