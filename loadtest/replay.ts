/**
 * WAL replay benchmark (`npm run bench:replay`): writes a WAL of SAMPLES samples for SHARDS shards
 * in the exact record layout the shards log (series records with the tenant first, samples
 * records of one scrape round each), then starts a ShardPool on it — the same code a restarting
 * receiver runs — and reports each shard's replay time and samples per second.
 *
 *   npm run bench:replay -- --samples 10000000 --series 100000 --shards 2
 *
 * Seeded (mulberry32), so runs replay the same bytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalWriter } from '../src/wal/segment.js';
import { RecordEncoder } from '../src/wal/records.js';
import { ShardPool } from '../src/shards/pool.js';
import { mulberry32 } from './lib/series.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '10000000' }, series: { type: 'string', default: '100000' }, shards: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' } } });
const args = { samples: Number(values.samples), series: Number(values.series), shards: Number(values.shards), seed: Number(values.seed) };
const SAMPLES = args.samples;
const SERIES = args.series;
const SHARDS = args.shards;
const rounds = Math.ceil(SAMPLES / SERIES);
const dir = mkdtempSync(join(tmpdir(), 'sluice-replay-'));
const walDir = join(dir, 'wal');

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

try {
  const t0 = performance.now();
  const rnd = mulberry32(args.seed);
  for (let sh = 0; sh < SHARDS; sh++) {
    const w = WalWriter.open(join(walDir, `shard-${String(sh).padStart(3, '0')}`), { fsync: 'off' });
    const mine = Math.ceil(SERIES / SHARDS);
    const series = new RecordEncoder(1 << 20);
    // Series records of 1000 series each, 8 labels like the load generator's.
    for (let base = 0; base < mine; base += 1000) {
      series.beginSeries();
      for (let i = base; i < Math.min(mine, base + 1000); i++) {
        series.series(i, ['', 'default-tenant', '__name__', `metric_${i % 100}`, 'cluster', `c${i % 10}`, 'instance', `10.0.${(i >> 8) & 255}.${i & 255}:9100`,
          'job', 'node', 'namespace', `ns${i % 20}`, 'pod', `pod-${sh}-${i}`, 'region', 'eu-west-1', 'zone', `z${i % 3}`]);
      }
      await w.log([series.finish()]);
    }
    const samples = new RecordEncoder(1 << 20);
    for (let r = 0; r < rounds; r++) {
      const t = 1_700_000_000_000 + r * 15_000;
      for (let base = 0; base < mine; base += 1000) {
        samples.beginSamples();
        for (let i = base; i < Math.min(mine, base + 1000); i++) {
          f64[0] = i % 10 < 7 ? r * 17 + i : Math.round(rnd() * 1e5) / 100;
          samples.sample(i, t + Math.floor(rnd() * 50), u32[0]!, u32[1]!);
        }
        await w.log([samples.finish()]);
      }
    }
    await w.close();
  }
  const writeS = (performance.now() - t0) / 1000;
  const started = performance.now();
  const pool = new ShardPool({ shards: SHARDS, gateways: 1, ringBytes: 1 << 16, blockDurationMs: 7_200_000, walDir, walFsync: 'off' });
  await pool.ready();
  const readyMs = performance.now() - started;
  console.log(`WAL replay — node ${process.version}, ${new Date().toISOString()}`);
  console.log(`${SERIES} series × ${rounds} rounds = ${SERIES * rounds} samples over ${SHARDS} shards (WAL written in ${writeS.toFixed(1)} s)`);
  console.log('shard  series    samples     replay ms  samples/s');
  for (const s of pool.shards) {
    const r = s.replay!;
    console.log(`${String(s.index).padEnd(6)} ${String(r.series).padEnd(9)} ${String(r.samples).padEnd(11)} ${String(Math.round(r.ms)).padEnd(10)} ${(r.samples / (r.ms / 1000) / 1e6).toFixed(2)}M`);
  }
  console.log(`all shards ready after ${Math.round(readyMs)} ms (threads started, WALs replayed in parallel)`);
  await pool.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
