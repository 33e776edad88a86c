/**
 * stats.ts holds what a load run measures: the LoadResult record, the latency histogram behind its
 * percentiles, and the human summary the CLI prints.
 */

/** LoadResult is what one run measured. */
export interface LoadResult {
  url: string;
  series: number;
  batch: number;
  concurrency: number;
  tenants: number;
  labels: number;
  /** First round sent and number of rounds started (the last may be partial in duration mode). */
  firstRound: number;
  rounds: number;
  /** Requests that ended (2xx or given up), samples acknowledged with a 2xx. */
  requests: number;
  okRequests: number;
  ackedSamples: number;
  failedSamples: number;
  wallSeconds: number;
  samplesPerSec: number;
  requestsPerSec: number;
  /** Per HTTP attempt, from sending the request to the end of the response body. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Every response by status ("204", "503", "network:ECONNRESET"), retried attempts included. */
  statuses: Record<string, number>;
  /** Requests given up, by the status of their last attempt. */
  errors: Record<string, number>;
  retries: number;
  /** First body seen for each failing status (truncated), to tell why. */
  errorSamples: Record<string, string>;
  bytesSent: number;
  /** Sizes of the prepared templates: uncompressed protobuf and compressed bytes per series. */
  rawBytesPerSeries: number;
  compressedBytesPerSeries: number;
  prepareSeconds: number;
  /** CPU time (user + system) this process spent during the run: the generator's own cost. */
  clientCpuSeconds: number;
  aborted: boolean;
}

/** H_GROWTH is the ratio between the bounds of consecutive histogram buckets (1% wide). */
const H_GROWTH = 1.01;
const H_LOG = Math.log(H_GROWTH);
const H_BUCKETS = Math.ceil(Math.log(1e8) / H_LOG) + 2;

/** LatencyHistogram counts latencies in log buckets 1% wide, from 1 µs to ~100 s. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(H_BUCKETS);
  n = 0;
  sum = 0;
  max = 0;
  add(ms: number): void {
    const us = ms * 1000;
    const idx = us <= 1 ? 0 : Math.min(H_BUCKETS - 1, Math.ceil(Math.log(us) / H_LOG));
    this.counts[idx] = (this.counts[idx] as number) + 1;
    this.n++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }
  /** merge adds another histogram's counts to this one. */
  merge(o: LatencyHistogram): void {
    for (let i = 0; i < H_BUCKETS; i++) this.counts[i] = (this.counts[i] as number) + (o.counts[i] as number);
    this.n += o.n;
    this.sum += o.sum;
    if (o.max > this.max) this.max = o.max;
  }
  /** quantile returns the upper bound of the bucket holding quantile q (at most the max seen). */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const target = Math.max(1, Math.ceil(q * this.n));
    let acc = 0;
    for (let i = 0; i < H_BUCKETS; i++) {
      acc += this.counts[i] as number;
      if (acc >= target) return Math.min(this.max, H_GROWTH ** i / 1000);
    }
    return this.max;
  }
}

/** fmtInt formats n rounded, with thousands separators. */
export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
/** fmtMs formats a latency in ms with 3 significant digits or so. */
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
/** fmtCounts formats counts by key as `key×count` pairs. */
const fmtCounts = (m: Record<string, number>): string => {
  const e = Object.entries(m);
  return e.length ? e.map(([k, v]) => `${k}×${fmtInt(v)}`).join('  ') : 'none';
};

/** formatResult renders a human summary. */
export function formatResult(r: LoadResult): string {
  const perRound = Math.ceil(r.series / r.batch);
  const lines = [
    `target        : ${r.url}`,
    `shape         : ${fmtInt(r.series)} series × ${r.labels} labels, batch ${r.batch} (~${fmtInt(perRound)} requests/round), concurrency ${r.concurrency}, tenants ${r.tenants}`,
    `templates     : ${r.rawBytesPerSeries.toFixed(0)} B/series protobuf, ${r.compressedBytesPerSeries.toFixed(0)} B/series snappy (prepared in ${r.prepareSeconds.toFixed(2)} s)`,
    `rounds        : ${fmtInt(r.rounds)} (from round ${r.firstRound}), wall ${r.wallSeconds.toFixed(2)} s${r.aborted ? ' (aborted)' : ''}`,
    `samples/s     : ${fmtInt(r.samplesPerSec)} (${fmtInt(r.ackedSamples)} acknowledged, ${fmtInt(r.failedSamples)} failed)`,
    `requests/s    : ${fmtInt(r.requestsPerSec)} (${fmtInt(r.okRequests)} ok of ${fmtInt(r.requests)}; ${(r.bytesSent / 1e6).toFixed(1)} MB sent)`,
    `latency (ms)  : p50 ${fmtMs(r.latencyMs.p50)}  p90 ${fmtMs(r.latencyMs.p90)}  p99 ${fmtMs(r.latencyMs.p99)}  max ${fmtMs(r.latencyMs.max)}  mean ${fmtMs(r.latencyMs.mean)}`,
    `responses     : ${fmtCounts(r.statuses)}`,
    `errors        : ${fmtCounts(r.errors)}`,
    `retries       : ${fmtInt(r.retries)}`,
    `generator CPU : ${(r.clientCpuSeconds / Math.max(r.wallSeconds, 1e-9)).toFixed(2)} cores (${(r.clientCpuSeconds * 1e6 / Math.max(r.ackedSamples, 1)).toFixed(2)} µs/sample)`,
  ];
  for (const [k, v] of Object.entries(r.errorSamples)) lines.push(`  first ${k} body: ${JSON.stringify(v)}`);
  return lines.join('\n');
}
