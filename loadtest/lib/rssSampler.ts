/**
 * RssSampler records a process's VmRSS every few milliseconds from a worker thread of the
 * benchmark, so the samples keep their pace while the benchmark's own event loop is busy sending
 * requests. Samples (wall-clock ms, bytes) go into a SharedArrayBuffer the main thread reads at
 * any time. Linux only: reads /proc/<pid>/status of the process it is given, and nothing else.
 *
 * This file is also the worker's entry: started with `workerData.kind === 'rss-sampler'`.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, workerData } from 'node:worker_threads';

/** Control words at the start of the buffer: [0] samples written, [1] stop flag. */
const COUNT = 0;
const STOP = 1;
const HEADER_BYTES = 16;

/** RssPoint is one sample: wall-clock time (ms since the epoch) and the resident set in bytes. */
export interface RssPoint { t: number; rss: number }

interface SamplerData { kind: 'rss-sampler'; pid: number; intervalMs: number; sab: SharedArrayBuffer; capacity: number }

/** RssSampler samples one process's VmRSS on a worker thread; stop() before exiting. */
export class RssSampler {
  private readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly data: Float64Array;
  private readonly worker: Worker;
  private readonly capacity: number;

  /**
   * constructor starts sampling `pid` every `intervalMs` ms, keeping at most `capacity` samples
   * (later ones are dropped; at 10 ms, the default 2^20 covers about 3 hours).
   */
  constructor(pid: number, intervalMs = 10, capacity = 1 << 20) {
    this.capacity = capacity;
    this.sab = new SharedArrayBuffer(HEADER_BYTES + capacity * 16);
    this.ctl = new Int32Array(this.sab, 0, 4);
    this.data = new Float64Array(this.sab, HEADER_BYTES, capacity * 2);
    const wd: SamplerData = { kind: 'rss-sampler', pid, intervalMs, sab: this.sab, capacity };
    this.worker = new Worker(new URL(import.meta.url), { workerData: wd, name: 'rss-sampler' });
    this.worker.unref();
  }

  /** count is the number of samples taken so far. */
  get count(): number { return Atomics.load(this.ctl, COUNT); }

  /** at returns sample i (0 ≤ i < count). */
  at(i: number): RssPoint { return { t: this.data[2 * i] as number, rss: this.data[2 * i + 1] as number }; }

  /** latest is the newest sample's RSS (0 before the first). */
  latest(): number { const n = this.count; return n === 0 ? 0 : (this.data[2 * n - 1] as number); }

  /** lastBefore is the newest sample taken before wall-clock time t, or undefined. */
  lastBefore(t: number): RssPoint | undefined {
    let lo = 0;
    let hi = this.count; // first index with time >= t
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.data[2 * mid] as number) < t) lo = mid + 1; else hi = mid;
    }
    return lo === 0 ? undefined : this.at(lo - 1);
  }

  /** maxIn is the largest sample in [t0, t1] (wall-clock ms), or undefined when none was taken then. */
  maxIn(t0: number, t1: number): RssPoint | undefined {
    let best: RssPoint | undefined;
    for (let i = this.indexAtOrAfter(t0), n = this.count; i < n; i++) {
      const t = this.data[2 * i] as number;
      if (t > t1) break;
      const rss = this.data[2 * i + 1] as number;
      if (best === undefined || rss > best.rss) best = { t, rss };
    }
    return best;
  }

  /** medianIn is the median RSS of the samples in [t0, t1], or 0 when none. */
  medianIn(t0: number, t1: number): number {
    const xs: number[] = [];
    for (let i = this.indexAtOrAfter(t0), n = this.count; i < n; i++) {
      if ((this.data[2 * i] as number) > t1) break;
      xs.push(this.data[2 * i + 1] as number);
    }
    xs.sort((a, b) => a - b);
    return xs.length === 0 ? 0 : (xs[xs.length >> 1] as number);
  }

  /** full tells whether samples were dropped because the buffer filled up. */
  get full(): boolean { return this.count >= this.capacity; }

  /** stop ends the worker (the samples stay readable). */
  async stop(): Promise<void> {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.notify(this.ctl, STOP);
    await this.worker.terminate().catch(() => undefined);
  }

  private indexAtOrAfter(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.data[2 * mid] as number) < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}

/** readVmRss parses VmRSS (bytes) out of a /proc/<pid>/status text; -1 when absent. */
export function readVmRss(status: string): number {
  const i = status.indexOf('VmRSS:');
  if (i < 0) return -1;
  const m = /^VmRSS:\s+(\d+)\s+kB/.exec(status.slice(i, i + 64));
  return m ? Number(m[1]) * 1024 : -1;
}

/** samplerLoop is the worker's body: one pread of /proc/<pid>/status per interval until stopped. */
function samplerLoop(d: SamplerData): void {
  const ctl = new Int32Array(d.sab, 0, 4);
  const data = new Float64Array(d.sab, HEADER_BYTES, d.capacity * 2);
  const buf = Buffer.alloc(8192);
  let fd = -1;
  try { fd = openSync(`/proc/${d.pid}/status`, 'r'); } catch { return; }
  try {
    while (Atomics.load(ctl, STOP) === 0) {
      let rss = -1;
      try { rss = readVmRss(buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0))); } catch { return; /* process gone */ }
      if (rss < 0) return;
      const n = Atomics.load(ctl, COUNT);
      if (n < d.capacity) {
        data[2 * n] = performance.timeOrigin + performance.now();
        data[2 * n + 1] = rss;
        Atomics.store(ctl, COUNT, n + 1);
      }
      Atomics.wait(ctl, STOP, 0, d.intervalMs);
    }
  } finally {
    closeSync(fd);
  }
}

if (!isMainThread && (workerData as Partial<SamplerData> | null)?.kind === 'rss-sampler') samplerLoop(workerData as SamplerData);
