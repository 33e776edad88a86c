/**
 * Remote-write load generator.
 *
 *   npm run loadtest -- --url http://127.0.0.1:19291/api/v1/receive --series 100000 --rounds 20 \
 *     --batch 500 --concurrency 8 --tenants 1 [--labels 8] [--duration S] [--json] [--seed 1]
 *
 * Every series gets one sample per round; round r carries timestamp start + r*15000 ms, so each
 * series' timestamps increase. Series labels and values come from a seeded PRNG (mulberry32), so
 * two runs with the same flags send the same series and the same values.
 *
 * How bodies are made without the generator becoming the bottleneck:
 * a request body differs from one round to the next only in the 8 value bytes and the 6 timestamp
 * bytes of each sample. Before timing starts, every batch is encoded once (round 0) and compressed
 * with the native snappy encoder. The compressed block is then rewritten so that each sample's
 * value+timestamp bytes sit inside a snappy *literal* (and no copy reads from them): the result is
 * a "patchable" compressed template. Building the body of round r is then a memcpy of the template
 * plus 15 byte writes per series, with no protobuf encoding and no compression in the timed loop.
 * Memory stays bounded at about 60 B per series (template, offsets, ids, value state): 6 MB for
 * 100k series, whatever the number of rounds or the duration. Every template is checked at
 * preparation: round 0 must decode to the encoded request, round 1 patched into it must decode to
 * round 1 encoded from scratch, and the first batch is compared with protobufjs' encoding.
 * Timestamps are always encoded as 6-byte varints (valid for 2^35 <= ms < 2^42, i.e. years 1971-2109),
 * which keeps the layout fixed.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { compressSync, uncompressSync } from 'snappy';
import { encodeWriteRequest, loadRemoteWriteSchema, type TimeSeriesMsg } from '../src/proto/schema.js';

/** Interval between rounds in the sample timestamps (ms), as a 15 s scrape interval. */
export const ROUND_INTERVAL_MS = 15_000;

/** LoadOptions are the knobs of one load run. */
export interface LoadOptions {
  /** Full remote-write URL, e.g. http://127.0.0.1:19291/api/v1/receive. */
  url: string;
  /** Number of active series. */
  series: number;
  /** Rounds to send (each round = one sample per series); ignored when durationSec > 0. */
  rounds: number;
  /** Series per request. */
  batch: number;
  /** HTTP connections, and requests in flight. */
  concurrency: number;
  /** Tenants; series i belongs to tenant i % tenants. The tenant header is sent when tenants > 1. */
  tenants: number;
  /** Labels per series, __name__ included (2..32). */
  labels: number;
  /** When > 0, send rounds until this many seconds have passed (rounds is then ignored). */
  durationSec: number;
  /** PRNG seed. */
  seed: number;
  /** Index of the first round to send (compare.ts warms up with round 0, then measures from 1). */
  startRound: number;
  /** Timestamp of round 0 in ms. */
  startMs: number;
  /** Header that names the tenant. */
  tenantHeader: string;
  /** Retries of one request on 5xx, 429 or a network error. */
  maxRetries: number;
  /** Header and body timeout of one attempt (ms). */
  timeoutMs: number;
}

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

/** Progress is passed to onProgress while a run goes. */
export interface Progress { elapsedSec: number; ackedSamples: number; requests: number; retries: number; errors: number }

/** RunHooks are optional extras of runLoad. */
export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
}

export const DEFAULT_OPTIONS: Omit<LoadOptions, 'url'> = {
  series: 10_000,
  rounds: 10,
  batch: 500,
  concurrency: 8,
  tenants: 1,
  labels: 8,
  durationSec: 0,
  seed: 1,
  startRound: 0,
  startMs: Math.floor(Date.now() / ROUND_INTERVAL_MS) * ROUND_INTERVAL_MS,
  tenantHeader: 'THANOS-TENANT',
  maxRetries: 8,
  timeoutMs: 30_000,
};

const MIN_TS = 2 ** 35;
const MAX_TS = 2 ** 42;
const MAX_ROUNDS = 10_000_000;

/** resolveOptions fills defaults and checks ranges; it throws on a bad value. */
export function resolveOptions(partial: Partial<LoadOptions> & { url: string }): LoadOptions {
  const o: LoadOptions = { ...DEFAULT_OPTIONS, ...partial };
  const int = (name: keyof LoadOptions, min: number, max: number): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  int('series', 1, 50_000_000);
  int('rounds', 1, MAX_ROUNDS);
  int('batch', 1, 1_000_000);
  int('concurrency', 1, 4096);
  int('tenants', 1, 100_000);
  int('labels', 2, 32);
  int('seed', -(2 ** 31), 2 ** 32 - 1);
  int('startRound', 0, MAX_ROUNDS);
  int('maxRetries', 0, 100);
  int('timeoutMs', 1, 3_600_000);
  if (!(o.durationSec >= 0 && o.durationSec <= 86_400)) throw new Error('--duration must be in [0, 86400] seconds');
  if (o.tenants > o.series) throw new Error('--tenants must not exceed --series');
  if (!Number.isInteger(o.startMs) || o.startMs < MIN_TS || o.startMs + (o.startRound + MAX_ROUNDS) * ROUND_INTERVAL_MS >= MAX_TS) {
    throw new Error(`start timestamp ${o.startMs} out of range (must be a ms timestamp between 1971 and 2100)`);
  }
  new URL(o.url); // throws on a bad URL
  return o;
}

// ---------------------------------------------------------------------------------------------
// Deterministic series

/** mulberry32 returns a PRNG of 32-bit state yielding floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KIND_COUNTER = 0;
const KIND_GAUGE = 1;
const KIND_CONST = 2;

const METRICS: ReadonlyArray<readonly [string, number]> = [
  ['http_requests_total', KIND_COUNTER],
  ['http_request_duration_seconds_count', KIND_COUNTER],
  ['process_cpu_seconds_total', KIND_COUNTER],
  ['container_cpu_usage_seconds_total', KIND_COUNTER],
  ['node_network_receive_bytes_total', KIND_COUNTER],
  ['container_memory_working_set_bytes', KIND_GAUGE],
  ['go_goroutines', KIND_GAUGE],
  ['node_load1', KIND_GAUGE],
  ['process_resident_memory_bytes', KIND_GAUGE],
  ['up', KIND_CONST],
];
const CLUSTERS = ['eu-west-1a', 'eu-west-1b', 'us-east-1a', 'us-east-1b', 'ap-south-1a', 'sa-east-1a'];
const NAMESPACES = [
  'default', 'kube-system', 'monitoring', 'payments', 'checkout', 'search', 'ingest', 'billing',
  'identity', 'catalog', 'orders', 'shipping', 'frontend', 'backend', 'data', 'ml-serving',
];
const APPS = ['api', 'web', 'worker', 'cron', 'gateway', 'cache', 'db-proxy', 'indexer', 'scheduler', 'consumer'];
const JOBS = ['kubelet', 'cadvisor', 'node-exporter', 'kube-state-metrics', 'app', 'apiserver'];
const CONTAINERS = ['app', 'sidecar', 'envoy', 'istio-proxy', 'init', 'metrics-exporter', 'log-shipper'];
const ENVS = ['prod', 'staging', 'dev'];
const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';

/** Label names in the order they are dropped from (kept first) when --labels < 8. */
const BASE_LABELS = ['__name__', 'instance', 'job', 'namespace', 'pod', 'cluster', 'container', 'env'];

function pick<T>(r: () => number, arr: readonly T[]): T {
  return arr[Math.floor(r() * arr.length)] as T;
}
function randStr(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[Math.floor(r() * ALNUM.length)];
  return s;
}

/** SeriesDef is one generated series: sorted labels and how its value moves per round. */
export interface SeriesDef { labels: Array<[string, string]>; kind: number; base: number; rate: number }

/** Series per scrape target: one per metric name, so __name__ + instance identify a series. */
const SERIES_PER_TARGET = 10;

/**
 * makeSeries returns series i for a seed. Series come in groups of 10 that share a target
 * (instance, pod, namespace, job, cluster, container, env) and differ in the metric name, as the
 * series scraped from one pod do. The result depends only on (seed, i, labelCount), not on the
 * total number of series, so series 0..N-1 are the same whatever N is.
 */
export function makeSeries(seed: number, i: number, labelCount: number): SeriesDef {
  const g = Math.floor(i / SERIES_PER_TARGET);
  const rg = mulberry32((seed ^ Math.imul(g + 1, 0x9e3779b1)) >>> 0);
  const rs = mulberry32((seed ^ Math.imul(i + 1, 0x85ebca6b) ^ 0x5bd1e995) >>> 0);
  const [metric, kind] = METRICS[i % SERIES_PER_TARGET] as readonly [string, number];
  const app = pick(rg, APPS);
  const all: Record<string, string> = {
    __name__: metric,
    // The target address is derived from the group number, which makes every series unique.
    instance: `10.${(g >>> 16) & 255}.${(g >>> 8) & 255}.${g & 255}:${9100 + Math.floor(g / 16_777_216)}`,
    job: pick(rg, JOBS),
    namespace: pick(rg, NAMESPACES),
    pod: `${app}-${randStr(rg, 9)}-${randStr(rg, 5)}`,
    cluster: pick(rg, CLUSTERS),
    container: pick(rg, CONTAINERS),
    env: pick(rg, ENVS),
  };
  const names = BASE_LABELS.slice(0, Math.min(labelCount, BASE_LABELS.length));
  const labels: Array<[string, string]> = names.map((n) => [n, all[n] as string]);
  for (let k = BASE_LABELS.length; k < labelCount; k++) {
    labels.push([`extra_label_${String(k + 1).padStart(2, '0')}`, `value-${randStr(rs, 6)}`]);
  }
  labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let base: number;
  let rate = 0;
  if (kind === KIND_COUNTER) {
    base = 1 + Math.floor(rs() * 1_000_000);
    rate = 1 + Math.floor(rs() * 500);
  } else if (kind === KIND_GAUGE) {
    base = 1 + rs() * 1000;
  } else {
    base = 1;
  }
  return { labels, kind, base, rate };
}

/** valueAt is the value of a series in a round; never 0 in round 0 (protobuf would omit it). */
function valueAt(kind: number, base: number, rate: number, id: number, round: number): number {
  if (kind === KIND_COUNTER) return base + rate * round;
  if (kind === KIND_GAUGE) return base * (1 + 0.1 * Math.sin(round * 0.3 + id));
  return base;
}

// ---------------------------------------------------------------------------------------------
// Protobuf encoding of round 0 (hand-written so the byte layout is known; checked against protobufjs)

function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) { v = Math.floor(v / 128); n++; }
  return n;
}
function putVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 128) { buf[pos++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
  buf[pos++] = v;
  return pos;
}
/** ts6 encodes ts as exactly 6 varint bytes (2^35 <= ts < 2^42). */
function ts6(ts: number): Uint8Array {
  const out = new Uint8Array(6);
  let v = ts;
  for (let k = 0; k < 5; k++) { out[k] = (v % 128) | 0x80; v = Math.floor(v / 128); }
  out[5] = v;
  return out;
}

/** Bytes of the sample patched per round: 8 (double) + 1 (timestamp tag) + 6 (timestamp varint). */
const PATCH_LEN = 15;

interface EncodedSeries { labelBytes: Uint8Array }

function encodeLabels(labels: Array<[string, string]>): Uint8Array {
  const parts = labels.map(([n, v]) => [Buffer.from(n, 'utf8'), Buffer.from(v, 'utf8')] as const);
  let len = 0;
  for (const [n, v] of parts) {
    const inner = 1 + varintLen(n.length) + n.length + 1 + varintLen(v.length) + v.length;
    len += 1 + varintLen(inner) + inner;
  }
  const out = new Uint8Array(len);
  let p = 0;
  for (const [n, v] of parts) {
    const inner = 1 + varintLen(n.length) + n.length + 1 + varintLen(v.length) + v.length;
    out[p++] = 0x0a;
    p = putVarint(out, p, inner);
    out[p++] = 0x0a;
    p = putVarint(out, p, n.length);
    out.set(n, p); p += n.length;
    out[p++] = 0x12;
    p = putVarint(out, p, v.length);
    out.set(v, p); p += v.length;
  }
  return out;
}

/**
 * encodeRound0 builds the uncompressed WriteRequest of a batch (for the given values and
 * timestamp; round 0 when the template is made) and the offset of each patch region.
 */
function encodeRound0(series: EncodedSeries[], values: number[], ts: number): { raw: Buffer; patch: Uint32Array } {
  let total = 0;
  for (const s of series) {
    const tsLen = s.labelBytes.length + 2 + 16;
    total += 1 + varintLen(tsLen) + tsLen;
  }
  const raw = Buffer.allocUnsafe(total);
  const patch = new Uint32Array(series.length);
  const tsBytes = ts6(ts);
  let p = 0;
  for (let j = 0; j < series.length; j++) {
    const s = series[j] as EncodedSeries;
    const tsLen = s.labelBytes.length + 2 + 16;
    raw[p++] = 0x0a;
    p = putVarint(raw, p, tsLen);
    raw.set(s.labelBytes, p); p += s.labelBytes.length;
    raw[p++] = 0x12; // TimeSeries.samples
    raw[p++] = 16; // Sample length
    raw[p++] = 0x09; // Sample.value, fixed64
    patch[j] = p;
    raw.writeDoubleLE(values[j] as number, p); p += 8;
    raw[p++] = 0x10; // Sample.timestamp, varint
    raw.set(tsBytes, p); p += 6;
  }
  if (p !== total) throw new Error(`internal: encoded ${p} bytes, expected ${total}`);
  return { raw, patch };
}

// ---------------------------------------------------------------------------------------------
// Snappy block rewrite: make patch regions literal

class ByteWriter {
  buf = Buffer.allocUnsafe(1024);
  len = 0;
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void { this.ensure(1); this.buf[this.len++] = b; }
  bytes(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }
  varint(v: number): void { this.ensure(10); this.len = putVarint(this.buf, this.len, v); }
  result(): Buffer { return Buffer.from(this.buf.subarray(0, this.len)); }
}

/**
 * patchableSnappy compresses raw with the native encoder, then rewrites the block so that every
 * region [patch[j], patch[j]+PATCH_LEN) is emitted as literal bytes and no copy reads from such a
 * region. Returns the block and, for each region, the offset of its first byte in the block.
 */
export function patchableSnappy(raw: Buffer, patch: Uint32Array): { block: Buffer; offsets: Uint32Array } {
  const c = compressSync(raw);
  const out = new ByteWriter();
  const offsets = new Uint32Array(patch.length);
  // Preamble: uncompressed length.
  let p = 0;
  let rawLen = 0;
  let shift = 1;
  for (;;) {
    const b = c[p++] as number;
    rawLen += (b & 0x7f) * shift;
    shift *= 128;
    if (b < 128) break;
  }
  if (rawLen !== raw.length) throw new Error('snappy: length preamble mismatch');
  out.varint(rawLen);

  const regions = patch; // sorted ascending, non-overlapping
  const nReg = regions.length;
  let nextFlushRegion = 0; // first region not yet given a compressed offset
  let litStart = -1;
  let litEnd = -1;

  const flushLiteral = (): void => {
    if (litStart < 0) return;
    const n = litEnd - litStart;
    const m = n - 1;
    if (m < 60) out.byte(m << 2);
    else if (m < 0x100) { out.byte(60 << 2); out.byte(m); }
    else if (m < 0x10000) { out.byte(61 << 2); out.byte(m & 0xff); out.byte(m >>> 8); }
    else if (m < 0x1000000) { out.byte(62 << 2); out.byte(m & 0xff); out.byte((m >>> 8) & 0xff); out.byte(m >>> 16); }
    else { out.byte(63 << 2); out.byte(m & 0xff); out.byte((m >>> 8) & 0xff); out.byte((m >>> 16) & 0xff); out.byte(m >>> 24); }
    const payload = out.len;
    out.bytes(raw, litStart, litEnd);
    while (nextFlushRegion < nReg && (regions[nextFlushRegion] as number) < litEnd) {
      const r = regions[nextFlushRegion] as number;
      if (r < litStart || r + PATCH_LEN > litEnd) throw new Error('internal: patch region not inside one literal');
      offsets[nextFlushRegion] = payload + (r - litStart);
      nextFlushRegion++;
    }
    litStart = -1;
  };
  const addLiteral = (a: number, b: number): void => {
    if (a >= b) return;
    if (litStart >= 0 && litEnd === a) { litEnd = b; return; }
    flushLiteral();
    litStart = a;
    litEnd = b;
  };
  const addCopy = (len: number, off: number): void => {
    flushLiteral();
    while (len > 0) {
      if (len >= 4 && len <= 11 && off < 2048) {
        out.byte(0x01 | ((len - 4) << 2) | ((off >>> 8) << 5));
        out.byte(off & 0xff);
        return;
      }
      // Keep a remainder of at least 1 (copy-2/copy-4 take lengths 1..64).
      const n = Math.min(len, 64);
      if (off < 0x10000) {
        out.byte(0x02 | ((n - 1) << 2)); out.byte(off & 0xff); out.byte(off >>> 8);
      } else {
        out.byte(0x03 | ((n - 1) << 2));
        out.byte(off & 0xff); out.byte((off >>> 8) & 0xff); out.byte((off >>> 16) & 0xff); out.byte((off >>> 24) & 0xff);
      }
      len -= n;
    }
  };
  /** First region whose end is > pos (binary search). */
  const firstRegionEndingAfter = (pos: number): number => {
    let lo = 0;
    let hi = nReg;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((regions[mid] as number) + PATCH_LEN > pos) hi = mid; else lo = mid + 1;
    }
    return lo;
  };
  /** A copy piece that is short is cheaper (and simpler) as literal bytes. */
  const copyOrLiteral = (a: number, b: number, off: number): void => {
    if (b - a >= 4) addCopy(b - a, off); else addLiteral(a, b);
  };
  /**
   * copyAvoidingRegions emits output [a, b) (outside every patch region) as a copy at `off`,
   * except the parts whose source bytes lie in a patch region: those become literals, since
   * patched bytes change from round to round.
   */
  const copyAvoidingRegions = (a: number, b: number, off: number): void => {
    let pos = a;
    while (pos < b) {
      const k = firstRegionEndingAfter(pos - off);
      const srcStart = k < nReg ? (regions[k] as number) + off : Infinity; // in output coordinates
      if (srcStart >= b) { copyOrLiteral(pos, b, off); return; }
      if (srcStart > pos) copyOrLiteral(pos, srcStart, off);
      const litFrom = Math.max(pos, srcStart);
      const litTo = Math.min(b, (regions[k] as number) + PATCH_LEN + off);
      addLiteral(litFrom, litTo);
      pos = litTo;
    }
  };

  let d = 0; // position in the uncompressed output
  let cursor = 0; // region pointer: first region ending after d
  while (p < c.length) {
    const tag = c[p] as number;
    const type = tag & 3;
    if (type === 0) {
      let m = tag >>> 2;
      p++;
      if (m >= 60) {
        const nb = m - 59;
        m = 0;
        for (let k = 0; k < nb; k++) m += (c[p + k] as number) * 2 ** (8 * k);
        p += nb;
      }
      const n = m + 1;
      addLiteral(d, d + n); // literal bytes are taken from raw, which equals the decoded output
      p += n;
      d += n;
      continue;
    }
    let len: number;
    let off: number;
    if (type === 1) {
      len = ((tag >>> 2) & 7) + 4;
      off = ((tag >>> 5) << 8) | (c[p + 1] as number);
      p += 2;
    } else if (type === 2) {
      len = (tag >>> 2) + 1;
      off = (c[p + 1] as number) | ((c[p + 2] as number) << 8);
      p += 3;
    } else {
      len = (tag >>> 2) + 1;
      off = ((c[p + 1] as number) | ((c[p + 2] as number) << 8) | ((c[p + 3] as number) << 16)) + (c[p + 4] as number) * 2 ** 24;
      p += 5;
    }
    const end = d + len;
    let pos = d;
    while (cursor < nReg && (regions[cursor] as number) + PATCH_LEN <= pos) cursor++;
    let k = cursor;
    while (pos < end) {
      while (k < nReg && (regions[k] as number) + PATCH_LEN <= pos) k++;
      const rs = k < nReg ? (regions[k] as number) : Infinity;
      if (pos >= rs) {
        const e = Math.min(rs + PATCH_LEN, end);
        addLiteral(pos, e);
        pos = e;
      } else {
        const e = Math.min(rs, end);
        copyAvoidingRegions(pos, e, off);
        pos = e;
      }
    }
    d = end;
  }
  flushLiteral();
  if (d !== rawLen) throw new Error('snappy: decoded length mismatch');
  if (nextFlushRegion !== nReg) throw new Error('internal: not every patch region was placed');
  const block = out.result();
  const check = uncompressSync(block, { asBuffer: true }) as Buffer;
  if (!check.equals(raw)) throw new Error('internal: patchable snappy block does not decode to the request');
  return { block, offsets };
}

// ---------------------------------------------------------------------------------------------
// Prepared batches

/** Batch is one request template: a tenant and up to B series. */
export interface Batch {
  tenant: number;
  ids: Uint32Array;
  block: Buffer;
  offsets: Uint32Array;
}

/** PreparedLoad holds everything built before timing; reusable across runs with the same shape. */
export interface PreparedLoad {
  key: string;
  batches: Batch[];
  kind: Uint8Array;
  base: Float64Array;
  rate: Float64Array;
  startMs: number;
  rawBytes: number;
  compressedBytes: number;
  prepareSeconds: number;
}

function shapeKey(o: LoadOptions): string {
  return [o.series, o.batch, o.tenants, o.labels, o.seed, o.startMs].join('/');
}

/** prepareLoad builds the per-batch compressed templates (the expensive part, done once). */
export function prepareLoad(opts: LoadOptions): PreparedLoad {
  const t0 = performance.now();
  const N = opts.series;
  const T = opts.tenants;
  const kind = new Uint8Array(N);
  const base = new Float64Array(N);
  const rate = new Float64Array(N);
  const batches: Batch[] = [];
  let rawBytes = 0;
  let compressedBytes = 0;
  const ts0 = opts.startMs;
  // Batches per tenant; requests of a round go out interleaved across tenants.
  const perTenant: Batch[][] = [];
  let checkedWithProtobufjs = false;
  for (let t = 0; t < T; t++) {
    const list: Batch[] = [];
    const count = Math.floor((N - 1 - t) / T) + 1; // series t, t+T, t+2T, ... < N
    for (let first = 0; first < count; first += opts.batch) {
      const n = Math.min(opts.batch, count - first);
      const ids = new Uint32Array(n);
      const enc: EncodedSeries[] = [];
      const values: number[] = [];
      const msgs: TimeSeriesMsg[] = [];
      for (let j = 0; j < n; j++) {
        const id = t + T * (first + j);
        ids[j] = id;
        const s = makeSeries(opts.seed, id, opts.labels);
        kind[id] = s.kind;
        base[id] = s.base;
        rate[id] = s.rate;
        enc.push({ labelBytes: encodeLabels(s.labels) });
        const v = valueAt(s.kind, s.base, s.rate, id, 0);
        values.push(v);
        if (!checkedWithProtobufjs) {
          msgs.push({ labels: s.labels.map(([name, value]) => ({ name, value })), samples: [{ value: v, timestamp: ts0 }] });
        }
      }
      const { raw, patch } = encodeRound0(enc, values, ts0);
      if (!checkedWithProtobufjs) {
        // The hand-written layout must match what the schema encodes.
        const ref = encodeWriteRequest({ timeseries: msgs });
        if (!Buffer.from(ref).equals(raw)) throw new Error('internal: generator encoding differs from protobufjs encoding');
        checkedWithProtobufjs = true;
      }
      const { block, offsets } = patchableSnappy(raw, patch);
      const batch: Batch = { tenant: t, ids, block, offsets };
      // Check the patching too: round 1 patched into the template must decode to round 1 encoded
      // from scratch. (Copies never read patched bytes, so this holds for every later round.)
      const values1 = Array.from(ids, (id) => valueAt(kind[id] as number, base[id] as number, rate[id] as number, id, 1));
      const raw1 = encodeRound0(enc, values1, ts0 + ROUND_INTERVAL_MS).raw;
      const body1 = uncompressSync(buildBody({ kind, base, rate, startMs: ts0 }, batch, 1), { asBuffer: true }) as Buffer;
      if (!body1.equals(raw1)) throw new Error('internal: patched template does not decode to the next round');
      rawBytes += raw.length;
      compressedBytes += block.length;
      list.push(batch);
    }
    perTenant.push(list);
  }
  const maxLen = Math.max(...perTenant.map((l) => l.length));
  for (let k = 0; k < maxLen; k++) {
    for (const list of perTenant) {
      const b = list[k];
      if (b) batches.push(b);
    }
  }
  return {
    key: shapeKey(opts), batches, kind, base, rate, startMs: ts0, rawBytes, compressedBytes,
    prepareSeconds: (performance.now() - t0) / 1000,
  };
}

/** buildBody makes the compressed body of one batch in one round. */
export function buildBody(prep: Pick<PreparedLoad, 'kind' | 'base' | 'rate' | 'startMs'>, b: Batch, round: number): Buffer {
  const body = Buffer.allocUnsafe(b.block.length);
  b.block.copy(body);
  const t = ts6(prep.startMs + round * ROUND_INTERVAL_MS);
  const t0 = t[0] as number, t1 = t[1] as number, t2 = t[2] as number;
  const t3 = t[3] as number, t4 = t[4] as number, t5 = t[5] as number;
  const { kind, base, rate } = prep;
  const ids = b.ids;
  const offs = b.offsets;
  for (let j = 0; j < ids.length; j++) {
    const id = ids[j] as number;
    const off = offs[j] as number;
    body.writeDoubleLE(valueAt(kind[id] as number, base[id] as number, rate[id] as number, id, round), off);
    // body[off + 8] is the timestamp tag (0x10), unchanged.
    body[off + 9] = t0; body[off + 10] = t1; body[off + 11] = t2;
    body[off + 12] = t3; body[off + 13] = t4; body[off + 14] = t5;
  }
  return body;
}

/** verifyPrepared decodes a patched body of round `round` with protobufjs and checks it. */
export function verifyPrepared(prep: PreparedLoad, opts: LoadOptions, round: number): void {
  const b = prep.batches[0];
  if (!b) return;
  const raw = uncompressSync(buildBody(prep, b, round), { asBuffer: true }) as Buffer;
  const { WriteRequest } = loadRemoteWriteSchema();
  const msg = WriteRequest.toObject(WriteRequest.decode(raw), { longs: Number }) as { timeseries: TimeSeriesMsg[] };
  if (msg.timeseries.length !== b.ids.length) throw new Error('verify: wrong series count');
  for (let j = 0; j < b.ids.length; j++) {
    const id = b.ids[j] as number;
    const s = makeSeries(opts.seed, id, opts.labels);
    const got = msg.timeseries[j] as TimeSeriesMsg;
    const sample = got.samples[0];
    const want = valueAt(s.kind, s.base, s.rate, id, round);
    if (!sample || sample.timestamp !== prep.startMs + round * ROUND_INTERVAL_MS || (sample.value ?? 0) !== want) {
      throw new Error(`verify: series ${id} round ${round}: bad sample ${JSON.stringify(sample)}`);
    }
    if (got.labels.length !== s.labels.length || got.labels.some((l, k) => l.name !== s.labels[k]?.[0] || l.value !== s.labels[k]?.[1])) {
      throw new Error(`verify: series ${id}: labels differ`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: log buckets, 1% wide, from 1 µs to ~100 s.

const H_GROWTH = 1.01;
const H_LOG = Math.log(H_GROWTH);
const H_BUCKETS = Math.ceil(Math.log(1e8) / H_LOG) + 2;

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

// ---------------------------------------------------------------------------------------------
// Sending

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function backoffMs(attempt: number): number {
  const b = Math.min(2000, 25 * 2 ** (attempt - 1));
  return b / 2 + Math.random() * (b / 2);
}

/**
 * runLoad sends the load and returns what it measured. Pass a PreparedLoad of the same shape to
 * skip the preparation (compare.ts reuses one across targets).
 */
export async function runLoad(partial: Partial<LoadOptions> & { url: string }, prepared?: PreparedLoad, hooks: RunHooks = {}): Promise<LoadResult> {
  const opts = resolveOptions(partial);
  const prep = prepared && prepared.key === shapeKey(opts) ? prepared : prepareLoad(opts);
  if (prep !== prepared) verifyPrepared(prep, opts, opts.startRound + 1);
  const url = new URL(opts.url);
  const path = url.pathname + url.search;
  const baseHeaders: Record<string, string> = {
    'content-encoding': 'snappy',
    'content-type': 'application/x-protobuf',
    'x-prometheus-remote-write-version': '0.1.0',
    'user-agent': 'sluice-loadtest/0.1',
  };
  const headersFor: Array<Record<string, string>> = [];
  for (let t = 0; t < opts.tenants; t++) {
    headersFor.push(opts.tenants > 1 ? { ...baseHeaders, [opts.tenantHeader]: `tenant-${t}` } : baseHeaders);
  }
  const pool = new Pool(url.origin, {
    connections: opts.concurrency,
    pipelining: 1,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    keepAliveTimeout: 60_000,
  });

  const nb = prep.batches.length;
  const total = opts.durationSec > 0 ? MAX_ROUNDS * nb : opts.rounds * nb;
  const hist = new LatencyHistogram();
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const errorSamples: Record<string, string> = {};
  let acked = 0;
  let failed = 0;
  let requests = 0;
  let okRequests = 0;
  let retries = 0;
  let errorCount = 0;
  let bytesSent = 0;
  let next = 0;
  let aborted = false;
  const chain: Array<Promise<void> | undefined> = new Array(nb);
  const signal = hooks.signal;
  const onAbort = (): void => { aborted = true; };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) aborted = true;

  const sendOne = async (bi: number, round: number): Promise<void> => {
    const b = prep.batches[bi] as Batch;
    const body = buildBody(prep, b, round);
    const headers = headersFor[b.tenant] as Record<string, string>;
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let key: string;
      const t0 = performance.now();
      try {
        const res = await pool.request({ path, method: 'POST', headers, body });
        status = res.statusCode;
        key = String(status);
        if (status >= 200 && status < 300) {
          await res.body.dump();
        } else {
          const text = await res.body.text();
          if (!(key in errorSamples)) errorSamples[key] = text.slice(0, 300);
        }
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        key = `network:${typeof code === 'string' ? code : (err as Error).name}`;
        if (!(key in errorSamples)) errorSamples[key] = String((err as Error).message).slice(0, 300);
      }
      hist.add(performance.now() - t0);
      bytesSent += body.length;
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        acked += b.ids.length;
        okRequests++;
        requests++;
        return;
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (retryable && attempt < opts.maxRetries && !aborted) {
        retries++;
        await sleep(backoffMs(attempt + 1));
        continue;
      }
      errors[key] = (errors[key] ?? 0) + 1;
      errorCount++;
      failed += b.ids.length;
      requests++;
      return;
    }
  };

  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = opts.durationSec > 0 ? start + opts.durationSec * 1000 : Infinity;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (aborted || performance.now() >= deadline) return;
      const idx = next++;
      if (idx >= total) return;
      const bi = idx % nb;
      const round = opts.startRound + Math.floor(idx / nb);
      // A batch's next round goes out only once its previous round has ended, so every series
      // receives its samples in timestamp order even when a round has fewer requests than C.
      const prev = chain[bi];
      const p = prev ? prev.then(() => sendOne(bi, round)) : sendOne(bi, round);
      chain[bi] = p;
      await p;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if (hooks.onProgress) {
    const cb = hooks.onProgress;
    timer = setInterval(() => {
      cb({ elapsedSec: (performance.now() - start) / 1000, ackedSamples: acked, requests, retries, errors: errorCount });
    }, hooks.progressIntervalMs ?? 5000);
    timer.unref();
  }
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    if (timer) clearInterval(timer);
    signal?.removeEventListener('abort', onAbort);
    await pool.close().catch(() => undefined);
  }
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const issued = Math.min(next, total);
  return {
    url: opts.url,
    series: opts.series,
    batch: opts.batch,
    concurrency: opts.concurrency,
    tenants: opts.tenants,
    labels: opts.labels,
    firstRound: opts.startRound,
    rounds: Math.ceil(issued / nb),
    requests,
    okRequests,
    ackedSamples: acked,
    failedSamples: failed,
    wallSeconds: wall,
    samplesPerSec: wall > 0 ? acked / wall : 0,
    requestsPerSec: wall > 0 ? requests / wall : 0,
    latencyMs: {
      p50: hist.quantile(0.5), p90: hist.quantile(0.9), p99: hist.quantile(0.99), max: hist.max,
      mean: hist.n ? hist.sum / hist.n : 0,
    },
    statuses,
    errors,
    retries,
    errorSamples,
    bytesSent,
    rawBytesPerSeries: prep.rawBytes / opts.series,
    compressedBytesPerSeries: prep.compressedBytes / opts.series,
    prepareSeconds: prep.prepareSeconds,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    aborted,
  };
}

/** GenResult is the generator's own ceiling: bodies built per second with no network. */
export interface GenResult { samplesPerSec: number; requestsPerSec: number; bytesPerSec: number; seconds: number; prepareSeconds: number }

/** measureGeneration builds bodies for `rounds` rounds (or `durationSec`) without sending them. */
export function measureGeneration(partial: Partial<LoadOptions> & { url: string }, prepared?: PreparedLoad): GenResult {
  const opts = resolveOptions(partial);
  const prep = prepared && prepared.key === shapeKey(opts) ? prepared : prepareLoad(opts);
  const start = performance.now();
  const deadline = opts.durationSec > 0 ? start + opts.durationSec * 1000 : Infinity;
  const rounds = opts.durationSec > 0 ? MAX_ROUNDS : opts.rounds;
  let samples = 0;
  let reqs = 0;
  let bytes = 0;
  outer: for (let r = 0; r < rounds; r++) {
    for (const b of prep.batches) {
      const body = buildBody(prep, b, opts.startRound + r);
      samples += b.ids.length;
      bytes += body.length;
      reqs++;
      if ((reqs & 63) === 0 && performance.now() >= deadline) break outer;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { samplesPerSec: samples / seconds, requestsPerSec: reqs / seconds, bytesPerSec: bytes / seconds, seconds, prepareSeconds: prep.prepareSeconds };
}

// ---------------------------------------------------------------------------------------------
// CLI

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
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

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${v}`);
  return n;
}

const USAGE = `usage: npm run loadtest -- --url URL [--series N] [--rounds R | --duration S] [--batch B]
         [--concurrency C] [--tenants T] [--labels 8] [--seed 1] [--start-ms MS]
         [--tenant-header THANOS-TENANT] [--max-retries 8] [--timeout-ms 30000] [--json] [--gen-only]`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      series: { type: 'string' },
      rounds: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      tenants: { type: 'string' },
      labels: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      'start-ms': { type: 'string' },
      'start-round': { type: 'string' },
      'tenant-header': { type: 'string' },
      'max-retries': { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      'gen-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) { console.log(USAGE); return 0; }
  const genOnly = values['gen-only'] === true;
  if (!values.url && !genOnly) { console.error(USAGE); return 2; }
  const partial: Partial<LoadOptions> & { url: string } = { url: values.url ?? 'http://127.0.0.1:1/' };
  const set = <K extends keyof LoadOptions>(k: K, v: LoadOptions[K] | undefined): void => { if (v !== undefined) partial[k] = v; };
  set('series', num(values.series, 'series'));
  set('rounds', num(values.rounds, 'rounds'));
  set('batch', num(values.batch, 'batch'));
  set('concurrency', num(values.concurrency, 'concurrency'));
  set('tenants', num(values.tenants, 'tenants'));
  set('labels', num(values.labels, 'labels'));
  set('durationSec', num(values.duration, 'duration'));
  set('seed', num(values.seed, 'seed'));
  set('startMs', num(values['start-ms'], 'start-ms'));
  set('startRound', num(values['start-round'], 'start-round'));
  set('tenantHeader', values['tenant-header']);
  set('maxRetries', num(values['max-retries'], 'max-retries'));
  set('timeoutMs', num(values['timeout-ms'], 'timeout-ms'));
  const opts = resolveOptions(partial);

  if (genOnly) {
    const g = measureGeneration(opts);
    if (values.json) console.log(JSON.stringify(g));
    else {
      console.log(`generator only (no network): ${fmtInt(g.samplesPerSec)} samples/s, ${fmtInt(g.requestsPerSec)} bodies/s, ` +
        `${(g.bytesPerSec / 1e6).toFixed(0)} MB/s over ${g.seconds.toFixed(2)} s (prepare ${g.prepareSeconds.toFixed(2)} s)`);
    }
    return 0;
  }

  const ac = new AbortController();
  const stop = (): void => { if (!ac.signal.aborted) { console.error('\ninterrupted: finishing requests in flight'); ac.abort(); } };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const hooks: RunHooks = { signal: ac.signal };
  if (!values.json) {
    hooks.onProgress = (p) => {
      console.error(`  ${p.elapsedSec.toFixed(0)} s: ${fmtInt(p.ackedSamples)} samples acked, ${fmtInt(p.requests)} requests, ${p.retries} retries, ${p.errors} errors`);
    };
  }
  const r = await runLoad(opts, undefined, hooks);
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  console.log(values.json ? JSON.stringify(r) : formatResult(r));
  return r.requests > 0 && Object.keys(r.errors).length === 0 ? 0 : 1;
}

/** isMainModule tells whether this file is the script node was started with. */
export function isMainModule(metaUrl: string): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 2; },
  );
}
