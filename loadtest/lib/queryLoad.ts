/**
 * queryLoad.ts holds the parts of the query benchmark (loadtest/query.ts) that talk to servers:
 * the seeded data set (one counter `x` over N series), its remote-write bodies (prepared once,
 * patched per timestamp with lib/encode.ts + lib/snappyPatch.ts), the time-major bulk load, the
 * paced writer that measures remote-write latency, the query client and the check that two
 * servers' answers agree. It touches nothing but loopback HTTP servers it is given URLs of; it
 * starts and stops no process (query.ts does).
 */
import { performance } from 'node:perf_hooks';
import { uncompressSync } from 'snappy';
import { Pool } from 'undici';
import { mulberry32 } from '../../test/helpers/prng.js';
import { encodeLabels, encodeRound0, ts6, type EncodedSeries } from './encode.js';
import { Lanes } from './lanes.js';
import { patchableSnappy } from './snappyPatch.js';
import { LatencyHistogram } from './stats.js';

/** METRIC is the name of the one counter of the data set. */
export const METRIC = 'x';
/** CLUSTERS is how many `cluster` values the data set has (series i is in cluster c(i % 20)). */
export const CLUSTERS = 20;
/** JOBS is how many `job` values there are (series i has job j(floor(i / 20) % 25)). */
export const JOBS = 25;
/** SCRAPE_MS is the sample interval of the loaded data. */
export const SCRAPE_MS = 15_000;

const NAMESPACES = ['default', 'kube-system', 'monitoring', 'payments', 'checkout', 'search', 'ingest', 'billing'];
const ENVS = ['prod', 'staging', 'dev'];
const APPS = ['api', 'web', 'worker', 'cron', 'gateway', 'cache'];
const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * DataSet is the seeded series model: series i has 8 labels (`__name__="x"`, `cluster`, `env`,
 * `instance` (unique), `job`, `namespace`, `pod`, `region`) and counts up by `rate[i]` every
 * SCRAPE_MS from `base[i]`: a straight line, so rate() over any full window is `rate[i] / 15`,
 * however the window's ends are treated.
 */
export interface DataSet {
  series: number;
  labels: EncodedSeries[];
  base: Float64Array;
  rate: Float64Array;
  /** Timestamp of sample 0 (ms); sample k is at t0 + k * SCRAPE_MS. */
  t0: number;
  /** Samples per series in the bulk load. */
  samples: number;
}

/** seriesLabels returns the sorted labels of series i (depends only on seed and i). */
export function seriesLabels(seed: number, i: number): Array<[string, string]> {
  const r = mulberry32((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  let suffix = '';
  for (let k = 0; k < 5; k++) suffix += ALNUM[Math.floor(r() * ALNUM.length)];
  const cluster = i % CLUSTERS;
  return [
    ['__name__', METRIC],
    ['cluster', `c${cluster}`],
    ['env', pick(ENVS)],
    ['instance', `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:9100`],
    ['job', `j${Math.floor(i / CLUSTERS) % JOBS}`],
    ['namespace', pick(NAMESPACES)],
    ['pod', `${pick(APPS)}-${suffix}`],
    ['region', `r${cluster % 4}`],
  ];
}

/** makeDataSet builds the series model for n series whose `samples` samples end at endMs. */
export function makeDataSet(n: number, seed: number, samples: number, endMs: number): DataSet {
  const labels: EncodedSeries[] = new Array(n);
  const base = new Float64Array(n);
  const rate = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = { labelBytes: encodeLabels(seriesLabels(seed, i)) };
    const r = mulberry32((seed ^ Math.imul(i + 1, 0x85ebca6b) ^ 0x5bd1e995) >>> 0);
    rate[i] = 1 + Math.floor(r() * 500);
    // The counter has been counting for 100+ scrapes before the data starts, so rate()'s zero-point
    // limit never applies. Prometheus 2.42 applies it before the "series starts here" rule and
    // ≥ 2.52 (prometheus#13725) after it, as Sluice does: near a counter's start the two differ.
    base[i] = (rate[i] as number) * (100 + Math.floor(r() * 10_000)) + Math.floor(r() * 1000);
  }
  return { series: n, labels, base, rate, t0: endMs - (samples - 1) * SCRAPE_MS, samples };
}

/** valueAt is series i's counter value at time t (ms); linear in t, so any window's rate is exact. */
export function valueAt(d: DataSet, i: number, t: number): number {
  return (d.base[i] as number) + (d.rate[i] as number) * ((t - d.t0) / SCRAPE_MS);
}

/** expectedClusterRates is the true `sum by (cluster)(rate(x[5m]))` of every cluster (index = cluster number). */
export function expectedClusterRates(d: DataSet): Float64Array {
  const out = new Float64Array(CLUSTERS);
  for (let i = 0; i < d.series; i++) out[i % CLUSTERS] = (out[i % CLUSTERS] as number) + (d.rate[i] as number) / (SCRAPE_MS / 1000);
  return out;
}

/**
 * panelSelector picks matchers of the "dashboard panel" query that select about `target` series:
 * `cluster="c1"` and one job (N/500 series; 200 at 100k), or a regex over as many jobs as it
 * takes when N is smaller. Returns the selector and the exact number of series it selects.
 */
export function panelSelector(n: number, target = 200): { selector: string; series: number } {
  const count = (jobs: number): number => {
    let c = 0;
    for (let i = 1; i < n; i += CLUSTERS) if (Math.floor(i / CLUSTERS) % JOBS < jobs) c++;
    return c;
  };
  let jobs = 1;
  while (jobs < JOBS && count(jobs) < target * 0.9) jobs++;
  const job = jobs === 1 ? 'job="j0"' : `job=~"${Array.from({ length: jobs }, (_, k) => `j${k}`).join('|')}"`;
  return { selector: `${METRIC}{cluster="c1",${job}}`, series: count(jobs) };
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/** Template is the patchable snappy body of one batch of series (one sample each). */
export interface Template { ids: Uint32Array; block: Buffer; offsets: Uint32Array }

/**
 * makeTemplates cuts the series into batches of `batch` and builds each one's patchable body.
 * The first template is checked: patched for a later timestamp it must decode to that request
 * encoded from scratch.
 */
export function makeTemplates(d: DataSet, batch: number): Template[] {
  const out: Template[] = [];
  for (let first = 0; first < d.series; first += batch) {
    const n = Math.min(batch, d.series - first);
    const ids = new Uint32Array(n);
    const enc: EncodedSeries[] = new Array(n);
    const values: number[] = new Array(n);
    for (let j = 0; j < n; j++) {
      ids[j] = first + j;
      enc[j] = d.labels[first + j] as EncodedSeries;
      values[j] = valueAt(d, first + j, d.t0);
    }
    const { raw, patch } = encodeRound0(enc, values, d.t0);
    const { block, offsets } = patchableSnappy(raw, patch);
    const tpl: Template = { ids, block, offsets };
    if (first === 0) {
      const t1 = d.t0 + 7 * SCRAPE_MS + 123;
      const want = encodeRound0(enc, Array.from(ids, (id) => valueAt(d, id, t1)), t1).raw;
      const got = uncompressSync(patchBody(d, tpl, t1), { asBuffer: true }) as Buffer;
      if (!got.equals(want)) throw new Error('internal: patched template does not decode to the request');
    }
    out.push(tpl);
  }
  return out;
}

/** patchBody builds the body of a template with every series' sample at time t. */
export function patchBody(d: DataSet, tpl: Template, t: number): Buffer {
  const body = Buffer.allocUnsafe(tpl.block.length);
  tpl.block.copy(body);
  const ts = ts6(t);
  const { ids, offsets } = tpl;
  for (let j = 0; j < ids.length; j++) {
    const off = offsets[j] as number;
    body.writeDoubleLE(valueAt(d, ids[j] as number, t), off);
    body.set(ts, off + 9); // off + 8 is the timestamp's tag byte
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// Sending

const WRITE_HEADERS = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
  'user-agent': 'sluice-qbench/0.1',
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * postWrite sends one body, retrying 5xx, 429 and connection errors (up to 8 times, backoff from
 * 25 ms). Returns the latency of the last attempt; throws on a 4xx or when retries run out.
 */
async function postWrite(pool: Pool, path: string, body: Buffer): Promise<{ ms: number; retries: number }> {
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now();
    let status = 0;
    let text = '';
    try {
      const res = await pool.request({ path, method: 'POST', headers: WRITE_HEADERS, body });
      status = res.statusCode;
      if (status >= 200 && status < 300) { await res.body.dump(); return { ms: performance.now() - t0, retries: attempt }; }
      text = (await res.body.text()).slice(0, 300);
    } catch (err) {
      text = err instanceof Error ? err.message : String(err);
    }
    const retryable = status === 0 || status === 429 || status >= 500;
    if (!retryable || attempt >= 8) throw new Error(`remote-write ${status || 'network error'}: ${text}`);
    const b = Math.min(2000, 25 * 2 ** attempt);
    await sleep(b / 2 + Math.random() * (b / 2));
  }
}

/** LoadProgress is reported every few seconds of a bulk load. */
export interface LoadProgress { elapsedSec: number; samples: number; step: number }

/** BulkLoadResult is what loading the whole data set into one server took. */
export interface BulkLoadResult { seconds: number; samples: number; requests: number; retries: number }

/**
 * bulkLoad sends every sample of the data set, time-major: all series' sample k (one request per
 * template), then sample k+1, over `concurrency` connections. A template's sample k+1 goes out
 * only after its sample k was acknowledged, and no request of step k+2 starts before step k is
 * done, so every series gets its samples in order and the spread of in-flight timestamps stays
 * one step (Prometheus' head refuses samples more than an hour behind its newest one).
 */
export async function bulkLoad(url: string, d: DataSet, tpls: Template[], concurrency: number,
  onProgress?: (p: LoadProgress) => void, signal?: AbortSignal): Promise<BulkLoadResult> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: concurrency, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const nb = tpls.length;
  const total = nb * d.samples;
  let next = 0;
  let samples = 0;
  let retries = 0;
  // done[k] counts the acknowledged requests of step k; step k+2 waits for step k to finish.
  const done = new Uint32Array(d.samples);
  const waiters: Array<() => void> = [];
  // chain[t] is template t's last request: its next step waits for it (when nb < concurrency).
  const chain: Array<Promise<void> | undefined> = new Array(nb);
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  if (onProgress) {
    timer = setInterval(() => onProgress({ elapsedSec: (performance.now() - start) / 1000, samples, step: Math.floor(next / nb) }), 10_000);
    timer.unref();
  }
  const worker = async (): Promise<void> => {
    for (;;) {
      if (signal?.aborted) throw new Error('interrupted');
      const idx = next++;
      if (idx >= total) return;
      const step = Math.floor(idx / nb);
      while (step >= 2 && (done[step - 2] as number) < nb) await new Promise<void>((r) => waiters.push(r));
      const ti = idx % nb;
      const tpl = tpls[ti] as Template;
      const prev = chain[ti];
      const p = (async (): Promise<void> => {
        if (prev) await prev;
        const r = await postWrite(pool, u.pathname, patchBody(d, tpl, d.t0 + step * SCRAPE_MS));
        retries += r.retries;
        samples += tpl.ids.length;
        done[step] = (done[step] as number) + 1;
        if (done[step] === nb) for (const w of waiters.splice(0)) w();
      })();
      chain[ti] = p;
      await p;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    if (timer) clearInterval(timer);
    for (const w of waiters.splice(0)) w();
    await pool.close().catch(() => undefined);
  }
  return { seconds: (performance.now() - start) / 1000, samples, requests: total, retries };
}

/**
 * WritePhase is the remote-write latency of one phase of the paced writer: from sending (p50 …
 * max), and from the time the request was due (`sched*`: includes waiting for a free connection
 * when the server is behind, so it does not hide a stall). `late` counts requests that waited.
 */
export interface WritePhase {
  requests: number; samples: number; seconds: number; late: number;
  p50: number; p90: number; p99: number; max: number; schedP50: number; schedP99: number;
}

/** PhaseRecord is what the paced writer recorded in one phase: counts and both latency histograms. */
export interface PhaseRecord {
  requests: number; samples: number; seconds: number; late: number;
  hist: LatencyHistogram; sched: LatencyHistogram;
}

/** summarizePhases pools phases (the idle ones of several rounds, say) into one WritePhase. */
export function summarizePhases(recs: readonly PhaseRecord[]): WritePhase {
  const h = new LatencyHistogram();
  const hs = new LatencyHistogram();
  let requests = 0, samples = 0, seconds = 0, late = 0;
  for (const r of recs) {
    h.merge(r.hist);
    hs.merge(r.sched);
    requests += r.requests;
    samples += r.samples;
    seconds += r.seconds;
    late += r.late;
  }
  return {
    requests, samples, seconds, late,
    p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), max: h.max, schedP50: hs.quantile(0.5), schedP99: hs.quantile(0.99),
  };
}

/** PacedWriterOptions set the shape of the paced writer. */
export interface PacedWriterOptions {
  url: string;
  /** Target samples per second (requests are sent on a fixed schedule). */
  rate: number;
  concurrency: number;
  /** First timestamp to write, and the step between one template's consecutive samples. */
  startMs: number;
  stepMs: number;
  /** Phase lengths in seconds: [warm-up (not recorded), phase 1, phase 2, ...]. */
  phases: number[];
  /** Called when phase p (1-based) starts. */
  onPhase?: (p: number) => void;
  signal?: AbortSignal;
}

/**
 * pacedWriter sends fresh samples of the data set's series on a fixed schedule: request j is due
 * at start + j * batch / rate, and goes out when due (or as soon as one of the `concurrency`
 * connections is free when the server is behind: counted as late). Latency is taken per request
 * from sending to the end of the response, and filed under the phase its send time falls in.
 */
export async function pacedWriter(d: DataSet, tpls: Template[], o: PacedWriterOptions): Promise<PhaseRecord[]> {
  const u = new URL(o.url);
  const pool = new Pool(u.origin, { connections: o.concurrency, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const nb = tpls.length;
  const batch = (tpls[0] as Template).ids.length;
  const intervalMs = (batch * 1000) / o.rate;
  const bounds: number[] = [];
  const start = performance.now();
  let acc = start;
  for (const s of o.phases) { acc += s * 1000; bounds.push(acc); }
  const end = acc;
  const hists = o.phases.map(() => new LatencyHistogram());
  const sched = o.phases.map(() => new LatencyHistogram());
  const stats = o.phases.map(() => ({ requests: 0, samples: 0, late: 0 }));
  const lanes = new Lanes(o.concurrency, nb);
  let failure: Error | undefined;
  let phase = 0;
  const phaseOf = (t: number): number => { let p = 0; while (p < bounds.length && t >= (bounds[p] as number)) p++; return p; };
  const send = async (j: number, due: number): Promise<void> => {
    const tpl = tpls[j % nb] as Template;
    const body = patchBody(d, tpl, o.startMs + Math.floor(j / nb) * o.stepMs);
    const sentAt = performance.now();
    const r = await postWrite(pool, u.pathname, body);
    const p = phaseOf(sentAt);
    if (p > 0 && p < hists.length) {
      (hists[p] as LatencyHistogram).add(r.ms);
      (sched[p] as LatencyHistogram).add(performance.now() - due);
      const s = stats[p] as { requests: number; samples: number };
      s.requests++;
      s.samples += tpl.ids.length;
    }
  };
  for (let j = 0; ; j++) {
    if (o.signal?.aborted || failure) break;
    const due = start + j * intervalMs;
    if (due >= end) break;
    const now = performance.now();
    if (due > now) await sleep(due - now);
    const p = phaseOf(performance.now());
    if (p !== phase) { phase = p; if (p < o.phases.length) o.onPhase?.(p); }
    if (lanes.full) {
      if (p < stats.length) (stats[p] as { late: number }).late++;
      await lanes.slot();
    }
    lanes.run(j % nb, () => send(j, due).catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    }));
  }
  await lanes.drain();
  await pool.close().catch(() => undefined);
  if (failure) throw failure;
  return o.phases.map((s, p) => {
    const st = stats[p] as { requests: number; samples: number; late: number };
    return { ...st, seconds: s, hist: hists[p] as LatencyHistogram, sched: sched[p] as LatencyHistogram };
  });
}

// ---------------------------------------------------------------------------------------------
// Queries

/** PromResult is the `data` of a Prometheus query answer (vector or matrix). */
export interface PromResult {
  resultType: string;
  result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>;
}

/** QueryClient sends PromQL queries to one server's HTTP API over a keep-alive pool. */
export class QueryClient {
  readonly name: string;
  private readonly pool: Pool;

  constructor(name: string, origin: string, connections: number) {
    this.name = name;
    this.pool = new Pool(origin, { connections, pipelining: 1, headersTimeout: 600_000, bodyTimeout: 600_000 });
  }

  /**
   * run sends one query (`/api/v1/query` or `/api/v1/query_range`, GET) and returns its latency,
   * from sending to the last byte of the answer (parsing the JSON is not timed), and its data.
   * Throws on a non-200 answer.
   */
  async run(path: string, params: Record<string, string>): Promise<{ ms: number; data: PromResult; bytes: number }> {
    const qs = new URLSearchParams(params).toString();
    const t0 = performance.now();
    const res = await this.pool.request({ path: `${path}?${qs}`, method: 'GET' });
    const text = await res.body.text();
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${this.name} ${path} ${params['query'] ?? ''}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { status: string; data: PromResult };
    if (body.status !== 'success') throw new Error(`${this.name}: query failed: ${text.slice(0, 300)}`);
    return { ms, data: body.data, bytes: text.length };
  }

  /**
   * time sends one query as run() does and times it the same way, but only counts the answer's
   * bytes and checks its status, without decoding or parsing it: parsing a 3 MB answer leaves
   * tens of MB of garbage whose collection, on a 2-CPU machine, would run during the next timed
   * query and take CPU from the server being timed. Throws on a non-200 or non-success answer.
   */
  async time(path: string, params: Record<string, string>): Promise<{ ms: number; bytes: number }> {
    const qs = new URLSearchParams(params).toString();
    const t0 = performance.now();
    const res = await this.pool.request({ path: `${path}?${qs}`, method: 'GET' });
    let bytes = 0;
    let head = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (head.length < 64) head += chunk.subarray(0, 64).toString('latin1');
      bytes += chunk.length;
    }
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${this.name} ${path} ${params['query'] ?? ''}: HTTP ${res.statusCode}: ${head}`);
    if (!/^\{\s*"status"\s*:\s*"success"/.test(head)) throw new Error(`${this.name}: query failed: ${head}`);
    return { ms, bytes };
  }

  /** close ends the pool's connections once the queries in flight have ended. */
  async close(): Promise<void> { await this.pool.close().catch(() => undefined); }

  /** abort drops the connections now: queries in flight fail on this side (the server may go on). */
  async abort(): Promise<void> { await this.pool.destroy().catch(() => undefined); }
}

/** seriesKey identifies a result series by its labels, leaving out `ignore` (e.g. the tenant label). */
function seriesKey(m: Record<string, string>, ignore: ReadonlySet<string>): string {
  return JSON.stringify(Object.keys(m).filter((k) => !ignore.has(k)).sort().map((k) => [k, m[k]]));
}

/** close tells whether two sample values agree within `rel` (relative; NaN equals NaN). */
function closeTo(a: number, b: number, rel: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * compareResults checks that two answers are the same: same type, same series (labels but those
 * in `ignore`), same timestamps, values within `rel`. Returns undefined when they agree, else
 * what differs first.
 */
export function compareResults(a: PromResult, b: PromResult, ignore: ReadonlySet<string>, rel = 1e-6): string | undefined {
  if (a.resultType !== b.resultType) return `result types differ: ${a.resultType} vs ${b.resultType}`;
  if (a.result.length !== b.result.length) return `series counts differ: ${a.result.length} vs ${b.result.length}`;
  const byKey = new Map(b.result.map((s) => [seriesKey(s.metric, ignore), s]));
  for (const s of a.result) {
    const key = seriesKey(s.metric, ignore);
    const o = byKey.get(key);
    if (!o) return `series ${key} missing from the second answer`;
    const va = s.values ?? (s.value ? [s.value] : []);
    const vb = o.values ?? (o.value ? [o.value] : []);
    if (va.length !== vb.length) return `series ${key}: ${va.length} vs ${vb.length} points`;
    for (let k = 0; k < va.length; k++) {
      const [ta, xa] = va[k] as [number, string];
      const [tb, xb] = vb[k] as [number, string];
      if (ta !== tb) return `series ${key}: point ${k} at ${ta} vs ${tb}`;
      if (!closeTo(Number(xa), Number(xb), rel)) return `series ${key} at ${ta}: ${xa} vs ${xb}`;
    }
  }
  return undefined;
}

/** pointCount counts the samples of an answer (all series, all steps). */
export function pointCount(r: PromResult): number {
  let n = 0;
  for (const s of r.result) n += s.values ? s.values.length : 1;
  return n;
}

/** quantileOf is the nearest-rank quantile q of xs (0 for none). */
export function quantileOf(xs: readonly number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}
