/**
 * Remote-write load generator: the CLI, and runLoad / measureGeneration for other scripts
 * (compare.ts). The parts live in loadtest/lib/: options.ts (LoadOptions, defaults, checks),
 * series.ts (the seeded series model), encode.ts + snappyPatch.ts + templates.ts (the pre-encoded,
 * patched request bodies), stats.ts (latency histogram, LoadResult, summary) and args.ts (flags).
 *
 *   npm run loadtest -- --url http://127.0.0.1:19291/api/v1/receive --series 100000 --rounds 20 \
 *     --batch 500 --concurrency 8 --tenants 1 [--labels 8] [--duration S] [--json] [--seed 1]
 *
 * Every series gets one sample per round; round r carries timestamp start + r*15000 ms, so each
 * series' timestamps increase. Series labels and values come from a seeded PRNG (mulberry32), so
 * two runs with the same flags send the same series and the same values. Request bodies are
 * prepared before timing starts and only patched in the timed loop (see lib/templates.ts).
 */
import { performance } from 'node:perf_hooks';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { USAGE, cliLoadOptions, parseCliArgs } from './lib/args.js';
import { MAX_ROUNDS, resolveOptions, type LoadOptions } from './lib/options.js';
import { LatencyHistogram, fmtInt, formatResult, type LoadResult } from './lib/stats.js';
import { buildBody, prepareLoad, shapeKey, verifyPrepared, type Batch, type PreparedLoad } from './lib/templates.js';

export { DEFAULT_OPTIONS, ROUND_INTERVAL_MS, resolveOptions, type LoadOptions } from './lib/options.js';
export { makeSeries, mulberry32, type SeriesDef } from './lib/series.js';
export { patchableSnappy } from './lib/snappyPatch.js';
export { buildBody, prepareLoad, verifyPrepared, type Batch, type PreparedLoad } from './lib/templates.js';
export { LatencyHistogram, formatResult, type LoadResult } from './lib/stats.js';

/** Progress is passed to onProgress while a run goes. */
export interface Progress { elapsedSec: number; ackedSamples: number; requests: number; retries: number; errors: number }

/** RunHooks are optional extras of runLoad. */
export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Sending

/** sleep resolves after ms milliseconds. */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** backoffMs is the jittered delay before retry number `attempt` (1-based): 50% to 100% of min(2 s, 25 ms * 2^(attempt-1)). */
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

/** main runs the CLI and returns the process exit code. */
async function main(argv: string[]): Promise<number> {
  const values = parseCliArgs(argv);
  if (values.help) { console.log(USAGE); return 0; }
  const genOnly = values['gen-only'] === true;
  if (!values.url && !genOnly) { console.error(USAGE); return 2; }
  const opts = resolveOptions(cliLoadOptions(values));

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
