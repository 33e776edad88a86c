/**
 * Micro benchmark of the WAL (src/wal): CRC32C speed, record encoding, lz4 against no
 * compression (size and encode+compress+write throughput), the cost of each fsync mode, and
 * replay speed (samples decoded per second from disk). Writes to a temporary directory and
 * removes it. About 10-20 s; set WAL_BENCH_SAMPLES to change the replay WAL's size (10M).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32c, crc32cBytewise } from '../../src/wal/crc32c.js';
import { lz4 } from '../../src/wal/lz4.js';
import { RecordEncoder, RecordType, SampleBatch, decodeSamples, decodeSeries } from '../../src/wal/records.js';
import { WalReader, WalWriter, type Compression, type FsyncMode } from '../../src/wal/segment.js';

/** WalBenchResult is what main() measured. */
export interface WalBenchResult {
  crcMBps: number;
  crcBytewiseMBps: number;
  /** Per record kind and compression: bytes per record and encode+compress+write MB/s (raw). */
  write: { kind: string; compression: Compression; bytes: number; rawMBps: number; recsPerSec: number }[];
  fsync: { mode: FsyncMode; logsPerSec: number }[];
  replay: { compression: Compression; samples: number; samplesPerSec: number; walMB: number }[];
}

/** lcg is a small seeded generator so runs are repeatable. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296);
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** samplesRecord encodes 1000 samples of 1000 series scraped at `t`: 70% counters, 30% gauges. */
function samplesRecord(enc: RecordEncoder, rnd: () => number, base: number, t: number): Uint8Array {
  enc.beginSamples();
  for (let i = 0; i < 1000; i++) {
    f64[0] = i % 10 < 7 ? Math.floor(t / 1000) + i * 17 : Math.round(rnd() * 1e5) / 100;
    enc.sample(base + i, t + Math.floor(rnd() * 50), u32[0]!, u32[1]!);
  }
  return enc.finish();
}

/** seriesRecord encodes 500 series with 8 labels each, shaped like node-exporter series. */
function seriesRecord(enc: RecordEncoder, base: number): Uint8Array {
  enc.beginSeries();
  for (let i = 0; i < 500; i++) {
    const n = base + i;
    enc.series(n, [
      '__name__', `node_cpu_seconds_total_${n % 40}`, 'cpu', String(n % 64), 'instance', `10.0.${(n >> 8) & 255}.${n & 255}:9100`,
      'job', 'node', 'mode', ['idle', 'user', 'system', 'iowait'][n % 4]!, 'namespace', 'monitoring',
      'pod', `node-exporter-${(n * 2654435761) >>> 20}`, 'region', 'eu-west-1',
    ]);
  }
  return enc.finish();
}

function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** writeRun logs `count` records built by `make` (one per log call) and times it all. */
async function writeRun(dir: string, compression: Compression, fsync: FsyncMode, count: number, make: (i: number) => Uint8Array): Promise<{ ms: number; raw: number }> {
  const w = WalWriter.open(dir, { compression, fsync });
  let raw = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const rec = make(i);
    raw += rec.length;
    await w.log([rec]);
  }
  await w.close();
  return { ms: performance.now() - t0, raw };
}

/** main runs the benchmark and prints a table per part. */
export async function main(): Promise<WalBenchResult> {
  const root = mkdtempSync(join(tmpdir(), 'sluice-wal-bench-'));
  let dirs = 0;
  const fresh = (): string => join(root, `d${dirs++}`);
  const result: WalBenchResult = { crcMBps: 0, crcBytewiseMBps: 0, write: [], fsync: [], replay: [] };
  try {
    // CRC32C over 1 MiB, best of several passes.
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 131) & 255);
    const best = (fn: () => void, reps: number): number => {
      let b = Infinity;
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        fn();
        b = Math.min(b, performance.now() - t0);
      }
      return b;
    };
    result.crcMBps = mbps(big.length, best(() => crc32c(big, 0, big.length), 40));
    result.crcBytewiseMBps = mbps(big.length, best(() => crc32cBytewise(big, 0, big.length), 15));
    console.log(`crc32c slicing-by-8   ${result.crcMBps.toFixed(0)} MB/s`);
    console.log(`crc32c bytewise       ${result.crcBytewiseMBps.toFixed(0)} MB/s\n`);

    // Record kinds, lz4 against none: size and encode+compress+write throughput (fsync off).
    const enc = new RecordEncoder();
    const rnd = lcg(1);
    const kinds = {
      samples: { count: 3000, make: (i: number): Uint8Array => samplesRecord(enc, rnd, (i % 50) * 1000, 1.7e12 + i * 15000) },
      series: { count: 600, make: (i: number): Uint8Array => seriesRecord(enc, i * 500) },
    };
    const codec = lz4();
    console.log('record kind   compression   bytes/record   raw MB/s   records/s');
    for (const [kind, k] of Object.entries(kinds)) {
      const sample = k.make(0).slice();
      for (const compression of ['none', 'lz4'] as Compression[]) {
        await writeRun(fresh(), compression, 'off', Math.floor(k.count / 5), k.make); // warm-up
        let bestMs = Infinity;
        let raw = 0;
        for (let rep = 0; rep < 3; rep++) {
          const r = await writeRun(fresh(), compression, 'off', k.count, k.make);
          if (r.ms < bestMs) ((bestMs = r.ms), (raw = r.raw));
        }
        const bytes = compression === 'lz4' ? Math.min(codec.compress(sample).length, sample.length) : sample.length;
        const row = { kind, compression, bytes, rawMBps: mbps(raw, bestMs), recsPerSec: k.count / (bestMs / 1000) };
        result.write.push(row);
        console.log(`${kind.padEnd(13)} ${compression.padEnd(13)} ${String(bytes).padStart(12)}   ${row.rawMBps.toFixed(0).padStart(8)}   ${row.recsPerSec.toFixed(0).padStart(9)}`);
      }
    }
    // Keep the decoders honest: one decode of each kind.
    let decoded = 0;
    decodeSeries(seriesRecord(enc, 0), () => decoded++);
    decoded += decodeSamples(samplesRecord(enc, rnd, 0, 0), new SampleBatch());
    if (decoded !== 1500) throw new Error('decode check failed');

    // fsync modes: one Samples record per log call; 'batch' with 16 concurrent callers.
    console.log('\nfsync mode   log calls/s (1 samples record each)');
    const rec = samplesRecord(enc, rnd, 0, 1.7e12).slice();
    for (const mode of ['off', 'batch', 'always'] as FsyncMode[]) {
      const w = WalWriter.open(fresh(), { fsync: mode });
      const calls = mode === 'off' ? 3000 : 300;
      const t0 = performance.now();
      if (mode === 'batch') {
        for (let i = 0; i < calls; i += 16) await Promise.all(Array.from({ length: 16 }, () => w.log([rec])));
      } else {
        for (let i = 0; i < calls; i++) await w.log([rec]);
      }
      await w.close();
      const row = { mode, logsPerSec: calls / ((performance.now() - t0) / 1000) };
      result.fsync.push(row);
      console.log(`${mode.padEnd(12)} ${row.logsPerSec.toFixed(0)}`);
    }

    // Replay: write a WAL of N samples, then read and decode it all.
    const total = Number(process.env['WAL_BENCH_SAMPLES'] ?? 10_000_000);
    console.log(`\nreplay of ${(total / 1e6).toFixed(1)}M samples (1000 per record)`);
    for (const compression of ['none', 'lz4'] as Compression[]) {
      const dir = fresh();
      const w = WalWriter.open(dir, { compression, fsync: 'off' });
      const batch: Uint8Array[] = [];
      for (let i = 0; i < total / 1000; i++) {
        batch.push(samplesRecord(enc, rnd, (i % 50) * 1000, 1.7e12 + i * 15000).slice());
        if (batch.length === 64) await w.log(batch.splice(0));
      }
      await w.log(batch);
      const walMB = (w.segment * 128 * 1024 * 1024 + w.offset) / 1e6;
      await w.close();
      const out = new SampleBatch(1024);
      let samples = 0;
      const t0 = performance.now();
      for (const r of new WalReader(dir).records()) {
        if (r[0] === RecordType.Samples) samples += decodeSamples(r, out);
      }
      const ms = performance.now() - t0;
      const row = { compression, samples, samplesPerSec: samples / (ms / 1000), walMB };
      result.replay.push(row);
      console.log(`${compression.padEnd(6)} WAL ${walMB.toFixed(0)} MB   ${(row.samplesPerSec / 1e6).toFixed(2)} M samples/s   (${ms.toFixed(0)} ms)`);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
