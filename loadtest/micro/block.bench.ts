/**
 * Micro benchmark of the block writer (src/blocks/writer.ts): cutting a head into a 2h block.
 * Builds BLOCK_BENCH_SERIES (10k) series × 2h at 15 s (480 samples, four 120-sample XOR chunks
 * each, node-exporter-like labels) in memory first, as a head holds them, then times writeBlock
 * (chunks, index, meta.json, fsyncs, rename) and samples the RSS every few milliseconds while it
 * runs. Reports samples/s written and the peak RSS growth against the chunk bytes held. Writes to
 * a temporary directory and removes it. About 5 s at 10k series; run with --expose-gc for a
 * steadier memory baseline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { XOR_STATE_BYTES, xorAppend, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import type { Labels } from '../../src/model/labels.js';
import { compareLabelsUtf8 } from '../../src/blocks/index/order.js';
import { writeBlock, type BlockSeries } from '../../src/blocks/writer.js';
import { mulberry32 } from '../../test/helpers/prng.js';

/** BlockBenchResult is what main() measured. */
export interface BlockBenchResult {
  series: number;
  samples: number;
  chunkBytes: number;
  blockBytes: number;
  /** samplesPerSec is the best of the timed runs. */
  samplesPerSec: number;
  ms: number;
  /** rssGrowth is the largest RSS rise above the pre-write baseline seen during any run. */
  rssGrowth: number;
}

const H = 3600_000;
const STEP = 15_000;
const PER_SERIES = (2 * H) / STEP; // 480
const PER_CHUNK = 120;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** buildHead makes the series and their XOR chunks, as a head would hold them at the cut. */
function buildHead(n: number, mint: number): { series: BlockSeries[]; symbols: Set<string>; chunkBytes: number } {
  const rnd = mulberry32(1);
  const state = new ArrayBuffer(XOR_STATE_BYTES);
  const sf = new Float64Array(state);
  const si = new Int32Array(state);
  const buf = new Uint8Array(2048); // random gauges need ~9 B/sample
  const series: BlockSeries[] = [];
  const symbols = new Set<string>();
  let chunkBytes = 0;
  for (let s = 0; s < n; s++) {
    const labels: Labels = [
      ['__name__', `node_metric_${s % 200}`],
      ['cluster', `cluster-${s % 7}`],
      ['cpu', String(s % 64)],
      ['instance', `10.0.${(s >> 8) & 255}.${s & 255}:9100`],
      ['job', 'node-exporter'],
      ['mode', ['idle', 'user', 'system', 'iowait'][s % 4]!],
      ['namespace', 'monitoring'],
      ['pod', `node-exporter-${(Math.imul(s, 2654435761) >>> 12).toString(36)}`],
    ];
    for (const [a, b] of labels) symbols.add(a).add(b);
    const chunks: BlockSeries['chunks'][number][] = [];
    let v = Math.floor(rnd() * 1e6);
    const counter = s % 3 !== 0;
    for (let c = 0; c < PER_SERIES / PER_CHUNK; c++) {
      xorStateInit(sf, si, 0);
      let minT = 0;
      let t = 0;
      for (let i = 0; i < PER_CHUNK; i++) {
        t = mint + (c * PER_CHUNK + i) * STEP + (rnd() < 0.1 ? Math.floor(rnd() * 20) : 0);
        if (i === 0) minT = t;
        v = counter ? v + Math.floor(rnd() * 100) : Math.round(rnd() * 1e4) / 100; // a third are noisy gauges
        f64[0] = v;
        if (!xorAppend(sf, si, 0, buf, 0, buf.length, t, u32[0]!, u32[1]!)) throw new Error('chunk overflow');
      }
      const data = buf.slice(0, xorByteLength(si, 0));
      chunkBytes += data.length;
      chunks.push({ minT, maxT: t, data });
    }
    series.push({ labels, chunks });
  }
  series.sort((a, b) => compareLabelsUtf8(a.labels, b.labels));
  return { series, symbols, chunkBytes };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

/** main runs the benchmark and prints the figures. */
export async function main(): Promise<BlockBenchResult> {
  const n = Number(process.env['BLOCK_BENCH_SERIES'] ?? 10_000);
  const mint = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
  const head = buildHead(n, mint);
  const samples = n * PER_SERIES;
  const root = mkdtempSync(join(tmpdir(), 'sluice-block-bench-'));
  const result: BlockBenchResult = { series: n, samples, chunkBytes: head.chunkBytes, blockBytes: 0, samplesPerSec: 0, ms: Infinity, rssGrowth: 0 };
  try {
    const once = async (dir: string): Promise<{ ms: number; growth: number; bytes: number }> => {
      gc();
      const base = process.memoryUsage.rss();
      let peak = base;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 2);
      const t0 = performance.now();
      const res = await writeBlock(dir, {
        mint, maxt: mint + 2 * H, symbols: head.symbols, series: head.series,
        thanos: { labels: { tenant_id: 'bench' }, source: 'receive' },
      });
      const ms = performance.now() - t0;
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      const bytes = res.meta.thanos!.files!.reduce((a, f) => a + (f.size_bytes ?? 0), 0);
      return { ms, growth: peak - base, bytes };
    };
    await once(root); // warm-up
    for (let rep = 0; rep < 3; rep++) {
      const dir = join(root, `r${rep}`);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir);
      const r = await once(dir);
      result.ms = Math.min(result.ms, r.ms);
      result.rssGrowth = Math.max(result.rssGrowth, r.growth);
      result.blockBytes = r.bytes;
      rmSync(dir, { recursive: true, force: true });
    }
    result.samplesPerSec = samples / (result.ms / 1000);
    const mb = (x: number): string => (x / 1048576).toFixed(1);
    console.log(`block write: ${n} series × ${PER_SERIES} samples (${(samples / 1e6).toFixed(1)}M samples, ${n * (PER_SERIES / PER_CHUNK)} chunks)`);
    console.log(`  time          ${result.ms.toFixed(0)} ms (best of 3, incl. fsyncs)   ${(result.samplesPerSec / 1e6).toFixed(1)} M samples/s`);
    console.log(`  chunk bytes   ${mb(head.chunkBytes)} MiB held   block on disk ${mb(result.blockBytes)} MiB`);
    console.log(`  RSS growth    ${mb(result.rssGrowth)} MiB peak = ${(100 * result.rssGrowth / head.chunkBytes).toFixed(0)}% of the chunk bytes, ${(result.rssGrowth / n).toFixed(0)} B/series`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
