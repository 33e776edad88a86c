/**
 * Load for a ring of receivers (loadtest/replication.ts): the generator's prepared remote-write
 * bodies spread over several nodes' URLs, closed loop or paced, with per-attempt latency and
 * latency from the due time. Touches only the connections it opens.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { sleep } from './children.js';
import { LatencyHistogram } from './stats.js';
import { buildBody, type Batch, type PreparedLoad } from './templates.js';


/** SendOptions describe one load phase. */
export interface SendOptions {
  urls: string[];
  prep: PreparedLoad;
  concurrency: number;
  startRound: number;
  /** Closed loop for this long (s); ignored with `rounds`. */
  durationSec: number;
  /** Send exactly this many rounds (closed loop), e.g. 1 for the warm-up. */
  rounds?: number;
  /** Paced (open loop): this many samples/s, request j due at start + j·batch/rate, sent to urls[j % urls.length]. */
  rate?: number;
  /** Latencies of requests sent in the first this many seconds are not recorded (the load runs this much longer). */
  leadInSec?: number;
  maxRetries: number;
  signal: AbortSignal;
}

/** SendResult is what one phase measured. */
export interface SendResult {
  ackedSamples: number;
  failedSamples: number;
  /** Requests that ended (acknowledged or given up), and those given up. */
  requests: number;
  failedRequests: number;
  retries: number;
  statuses: Record<string, number>;
  errorSamples: Record<string, string>;
  wallSeconds: number;
  samplesPerSec: number;
  /** Per HTTP attempt, send to end of response. */
  latency: LatencyHistogram;
  /** Paced only: due time to end of the request (retries included), so a server that falls behind shows. */
  fromSchedule: LatencyHistogram;
  /** Paced only: requests that could not go out when due because `concurrency` were in flight. */
  late: number;
  /** Highest attempt latency among the requests sent in each second since the start (ms). */
  maxPerSecond: number[];
  /** Rounds begun (the next phase starts after them). */
  lastRound: number;
  clientCpuSeconds: number;
}

function backoffMs(attempt: number): number {
  const b = Math.min(2000, 25 * 2 ** (attempt - 1));
  return b / 2 + Math.random() * (b / 2);
}

/**
 * sendLoad sends the prepared bodies to several nodes: closed loop (each connection sends its next
 * request when the previous ended) or paced (request j due at start + j·batch/rate), connection w to
 * node w % nodes, retrying 429/5xx/network errors with jittered backoff like Prometheus, and a
 * batch's next round only after its previous one ended so timestamps stay in order.
 */
export async function sendLoad(o: SendOptions): Promise<SendResult> {
  const nodes = o.urls.length;
  // Connection w belongs to node w % nodes.
  const perNode = Array.from({ length: nodes }, (_, i) => Math.ceil((o.concurrency - i) / nodes));
  const pools = o.urls.map((u, i) => new Pool(new URL(u).origin, { connections: Math.max(1, perNode[i]!), pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 60_000 }));
  const paths = o.urls.map((u) => new URL(u).pathname);
  const headers = { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0', 'user-agent': 'sluice-rfbench' };
  const nb = o.prep.batches.length;
  const latency = new LatencyHistogram();
  const fromSchedule = new LatencyHistogram();
  const statuses: Record<string, number> = {};
  const errorSamples: Record<string, string> = {};
  let acked = 0, failed = 0, failedRequests = 0, requests = 0, retries = 0, late = 0, maxRound = o.startRound - 1;
  const chain: Array<Promise<void> | undefined> = new Array(nb);
  const maxPerSecond: number[] = [];
  let measureFrom = 0; // set when sending starts

  const sendOne = async (j: number, node: number, due: number): Promise<void> => {
    const b = o.prep.batches[j % nb] as Batch;
    const round = o.startRound + Math.floor(j / nb);
    if (round > maxRound) maxRound = round;
    const body = buildBody(o.prep, b, round);
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let key: string;
      const t0 = performance.now();
      try {
        const res = await pools[node]!.request({ path: paths[node]!, method: 'POST', headers, body });
        status = res.statusCode;
        key = String(status);
        if (status >= 200 && status < 300) await res.body.dump();
        else { const t = await res.body.text(); errorSamples[key] ??= t.slice(0, 300); }
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        key = `network:${typeof code === 'string' ? code : (err as Error).name}`;
        errorSamples[key] ??= String((err as Error).message).slice(0, 300);
      }
      const ms = performance.now() - t0;
      if (t0 >= measureFrom) latency.add(ms);
      const sec = Math.floor((t0 - measureFrom) / 1000);
      if (sec >= 0) { while (maxPerSecond.length <= sec) maxPerSecond.push(0); if (ms > maxPerSecond[sec]!) maxPerSecond[sec] = ms; }
      statuses[key] = (statuses[key] ?? 0) + 1;
      const ok = status >= 200 && status < 300;
      const retryable = !ok && (status === 0 || status === 429 || status >= 500);
      if (retryable && attempt < o.maxRetries && !o.signal.aborted) { retries++; await sleep(backoffMs(attempt + 1)); continue; }
      if (o.rate === undefined || due >= measureFrom) {
        if (ok) acked += b.ids.length; else { failed += b.ids.length; failedRequests++; }
        requests++;
      }
      if (o.rate !== undefined && due >= measureFrom) fromSchedule.add(performance.now() - due);
      return;
    }
  };
  // A batch's next round goes out only once its previous round ended (timestamps stay in order).
  const enqueue = (j: number, node: number, due: number): Promise<void> => {
    const bi = j % nb;
    const prev = chain[bi];
    const p = prev ? prev.then(() => sendOne(j, node, due)) : sendOne(j, node, due);
    chain[bi] = p;
    return p;
  };

  const cpu0 = process.cpuUsage();
  const start = performance.now();
  measureFrom = start + (o.leadInSec ?? 0) * 1000;
  if (o.rate === undefined) {
    const total = o.rounds !== undefined ? o.rounds * nb : Infinity;
    const deadline = o.rounds !== undefined ? Infinity : start + o.durationSec * 1000;
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      while (!o.signal.aborted && performance.now() < deadline) {
        const j = next++;
        if (j >= total) return;
        await enqueue(j, w % nodes, 0);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  } else {
    const intervalMs = (o.prep.batches[0]!.ids.length * 1000) / o.rate;
    const end = measureFrom + o.durationSec * 1000;
    let inflight = 0;
    let slotFree: (() => void) | undefined;
    for (let j = 0; !o.signal.aborted; j++) {
      const due = start + j * intervalMs;
      if (due >= end) break;
      const now = performance.now();
      if (due > now) await sleep(due - now);
      if (inflight >= o.concurrency) { late++; await new Promise<void>((r) => { slotFree = r; }); }
      inflight++;
      void enqueue(j, j % nodes, due).finally(() => { inflight--; const f = slotFree; slotFree = undefined; f?.(); });
    }
  }
  await Promise.all(chain.filter((p): p is Promise<void> => p !== undefined));
  const wall = (performance.now() - measureFrom) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  return {
    ackedSamples: acked, failedSamples: failed, requests, failedRequests, retries, statuses, errorSamples, wallSeconds: wall,
    samplesPerSec: acked / wall, latency, fromSchedule, late, maxPerSecond, lastRound: maxRound, clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}
