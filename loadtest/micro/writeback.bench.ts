/**
 * Micro benchmark: what a background writer's disk traffic costs the WAL's fsyncs. The main
 * thread plays a shard's WAL: a 16 KiB append and an fsync, then 1 ms of rest, timing each fsync.
 * A worker thread plays the block writer: new 48 MiB files written without end, in the block
 * writer's steps (SYNC_BYTES, each fdatasync'ed before the next, src/blocks/index/filewriter.ts),
 * each file removed once written. Modes, each run ROUNDS times, interleaved so that they share
 * the disk's mood:
 *   - idle:        no background writer;
 *   - steps:       written in steps, removed in shrinking steps (src/util/removePaced.ts), as Sluice does;
 *   - steps+unlink: the same, but each file removed with one unlink;
 *   - one-sync:    written whole, one fsync at the end, removed in shrinking steps.
 * Reports fsync p50/p99/p99.9/max per mode (pooled over rounds) and the background MB/s. Writes
 * below WRITEBACK_BENCH_DIR (default: the OS temp directory) and removes what it wrote. About
 * 4 × ROUNDS × WRITEBACK_BENCH_MS (3 × 5 s by default).
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SYNC_BYTES } from '../../src/blocks/index/filewriter.js';
import { removeFilePaced } from '../../src/util/removePaced.js';

type Mode = 'idle' | 'steps' | 'steps+unlink' | 'one-sync';
const MODES: Mode[] = ['idle', 'steps', 'steps+unlink', 'one-sync'];

/** WritebackBenchResult is what main() measured, one row per step. */
export interface WritebackBenchResult {
  rows: { step: Mode; fsyncs: number; p50: number; p99: number; p999: number; max: number; bgMBps: number }[];
}

interface Job { dir: string; step: Mode; ms: number }

/** background is the worker's loop: write new files in the job's steps until time is up. */
async function background(job: Job): Promise<number> {
  const chunk = SYNC_BYTES;
  const buf = Buffer.alloc(chunk, 0x5a);
  const end = performance.now() + job.ms;
  let bytes = 0;
  for (let k = 0; performance.now() < end; k++) {
    const path = join(job.dir, `bg-${k}`);
    const fd = openSync(path, 'w');
    for (let i = 0; i < (48 << 20) / chunk && performance.now() < end; i++) {
      writeSync(fd, buf);
      bytes += chunk;
      if (job.step !== 'one-sync') fdatasyncSync(fd);
    }
    fsyncSync(fd);
    closeSync(fd);
    if (job.step === 'steps+unlink') unlinkSync(path);
    else await removeFilePaced(path);
  }
  return bytes / (job.ms / 1000) / 1e6;
}

const quantile = (s: number[], q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;

/** round times the WAL-like fsyncs for `ms` while the worker runs `step`. */
async function round(dir: string, step: Mode, ms: number, lat: number[]): Promise<number> {
  const wal = join(dir, 'wal');
  const fd = openSync(wal, 'w');
  const rec = Buffer.alloc(16 << 10, 1);
  let mbps = 0;
  let done: Promise<void> = Promise.resolve();
  if (step !== 'idle') {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { dir, step, ms } satisfies Job });
    done = new Promise((res, rej) => {
      w.once('message', (m: number) => { mbps = m; res(); });
      w.once('error', rej);
    });
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = performance.now() + ms - 300;
  for (let off = 0; performance.now() < end; off += rec.length) {
    writeSync(fd, rec, 0, rec.length, off);
    const t = performance.now();
    fsyncSync(fd);
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  closeSync(fd);
  await removeFilePaced(wal);
  return mbps;
}

export async function main(): Promise<WritebackBenchResult> {
  const rounds = Number(process.env.WRITEBACK_BENCH_ROUNDS ?? 3);
  const ms = Number(process.env.WRITEBACK_BENCH_MS ?? 5000);
  const dir = mkdtempSync(join(process.env.WRITEBACK_BENCH_DIR ?? tmpdir(), 'sluice-writeback-'));
  const lat = new Map<Mode, number[]>(MODES.map((s) => [s, []]));
  const mbps = new Map<Mode, number[]>(MODES.map((s) => [s, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const step of MODES) mbps.get(step)!.push(await round(dir, step, ms, lat.get(step)!));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = MODES.map((step) => {
    const s = lat.get(step)!.sort((a, b) => a - b);
    const m = mbps.get(step)!;
    return {
      step, fsyncs: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), p999: quantile(s, 0.999),
      max: s[s.length - 1] ?? NaN, bgMBps: m.reduce((a, b) => a + b, 0) / m.length,
    };
  });
  console.log(`background writeback against WAL fsyncs: a 16 KiB append + fsync every ~1 ms beside a writer of 48 MiB files (${rounds} × ${ms} ms per mode, interleaved)`);
  console.log('| background writer | fsyncs | p50 ms | p99 ms | p99.9 ms | max ms | background MB/s | p99 ÷ idle p99 |');
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
  const idle = rows[0]!.p99;
  for (const r of rows) {
    console.log(`| ${r.step} | ${r.fsyncs} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p999.toFixed(2)} | ${r.max.toFixed(2)} | ${r.step === 'idle' ? '–' : r.bgMBps.toFixed(0)} | ${(r.p99 / idle).toFixed(2)} |`);
  }
  return { rows };
}

if (!isMainThread) {
  parentPort!.postMessage(await background(workerData as Job));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
