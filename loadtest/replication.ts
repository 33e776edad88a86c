/**
 * Replication benchmark (issue 6 targets): a 3-process Sluice ring on loopback, in one run:
 *
 *  1. throughput at RF=1, then at RF=3 (a fresh ring each): closed-loop remote-write with the
 *     generator's seeded workload, connections assigned to the 3 nodes round robin; acknowledged
 *     samples/s, CPU seconds of the 3 processes per sample, and the forward / replication counters
 *     scraped from each node's /metrics. Target: RF=3 ≥ 0.8 × RF=1 / 3.
 *  2. one slow replica: a new RF=3 ring whose third entry is a delaying TCP proxy in front of node 3
 *     (lib/delayProxy.ts, run as its own process so its timers cannot delay the generator's
 *     latency readings; node 3's --receive.local-endpoint is the proxy's address, as its ring
 *     entry must be). A paced load (a fraction of the RF=3 maximum) goes to nodes 1 and 2 only,
 *     first with no delay, then with every byte to node 3 held 5 s. Target: p99 with the delay
 *     ≤ 1.5 × p99 without. Also counts what reached node 3.
 *  3. forwarded body compression: native snappy against lz4 (micro/forward.bench.ts).
 *
 *   npm run bench:replication -- [--series 100000] [--batch 500] [--concurrency 24] [--duration 20]
 *     [--delay-ms 5000] [--latency-duration 20] [--lead-in 2] [--load-fraction 0.5] [--seed 1]
 *     [--only rf1,rf3,delay,micro] [--profile-dir DIR] [--sluice-args '--flag=x'] [--out FILE] [--json]
 *
 * Touches: the processes it starts (node bin/sluice.js, which loads dist/ and is never built
 * here, and the delay proxy), their temp dirs under os.tmpdir(), loopback ports, and --out / --profile-dir when given.
 * Every child is killed at the end, on error and on Ctrl-C.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { envInfo, type EnvInfo } from './lib/env.js';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { findRepoRoot } from './compare.js';
import { cleanupAllSync, freePort, sleep, startChild, stopChild, stopOnSignals, tempDirs, treeCpuSeconds, waitReady, type Running } from './lib/children.js';
import type { DelayProxyStats } from './lib/delayProxy.js';
import { resolveOptions, type LoadOptions } from './lib/options.js';
import { fmtInt } from './lib/stats.js';
import { prepareLoad, verifyPrepared, type PreparedLoad } from './lib/templates.js';
import { sendLoad } from './lib/ringLoad.js';
import { isMainModule } from './generator.js';
import { main as forwardBench, renderCodecs, type CodecResult } from './micro/forward.bench.js';
import { NODE_FLAGS } from '../src/util/nodeFlags.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const mkdirP = (dir: string): string => { mkdirSync(dir, { recursive: true }); return dir; };

// ---------------------------------------------------------------------------------------------
// The ring: three `sluice receive` processes sharing one hashrings file

/** RingNode is one started receiver. */
interface RingNode { name: string; run: Running; writeUrl: string; metricsUrl: string; ringAddress: string }

/** ProxyProc is the delaying proxy (lib/delayProxy.ts) as a child process, driven over its control port. */
interface ProxyProc { run: Running; control: string; port: number }

/** Ring is a started 3-node ring (and the proxy in front of node 3, if any). */
interface Ring { nodes: RingNode[]; dir: string; proxy: ProxyProc | undefined }

async function setDelay(p: ProxyProc, ms: number): Promise<void> {
  const res = await request(`${p.control}/delay?ms=${ms}`, { method: 'POST' });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`delay proxy refused delay ${ms}: ${res.statusCode}`);
}
async function proxyStats(p: ProxyProc): Promise<DelayProxyStats> {
  const res = await request(`${p.control}/stats`);
  return await res.body.json() as DelayProxyStats;
}

interface RingOptions {
  root: string;
  rf: number;
  /** Put a delaying proxy in front of node 3 and list the proxy in the ring. */
  proxied: boolean;
  extraArgs: string[];
  /** When set, every thread of every node writes a V8 CPU profile here on exit. */
  profileDir: string | undefined;
}

async function startRing(o: RingOptions): Promise<Ring> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sluice-rfbench-rf${o.rf}-`));
  tempDirs.add(dir);
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ rw: await freePort(), http: await freePort(), grpc: await freePort() });
  let proxy: ProxyProc | undefined;
  if (o.proxied) {
    // Its own process: its timers and copies must not delay the generator's latency measurements.
    const [port, ctl] = [await freePort(), await freePort()];
    const script = path.join(HERE, 'lib', 'delayProxy.js');
    const run = startChild(process.execPath, [script, `--listen=127.0.0.1:${port}`, `--upstream=127.0.0.1:${ports[2]!.rw}`, `--control=127.0.0.1:${ctl}`],
      path.join(dir, 'proxy.log'), o.root);
    proxy = { run, control: `http://127.0.0.1:${ctl}`, port };
    await waitReady(run, `${proxy.control}/-/ready`, 10_000, 'delay proxy');
  }
  const ringAddresses = ports.map((p, i) => `127.0.0.1:${i === 2 && proxy ? proxy.port : p.rw}`);
  const ringFile = path.join(dir, 'hashrings.json');
  writeFileSync(ringFile, `${JSON.stringify([{ hashring: 'default', endpoints: ringAddresses }], null, 2)}\n`);
  const bin = path.join(o.root, 'bin', 'sluice.js');
  const nodes: RingNode[] = [];
  for (let i = 0; i < 3; i++) {
    const p = ports[i]!;
    const name = `node${i + 1}`;
    const args = [...NODE_FLAGS, bin, 'receive', `--tsdb.path=${path.join(dir, name)}`, `--remote-write.address=127.0.0.1:${p.rw}`,
      `--http-address=127.0.0.1:${p.http}`, `--grpc-address=127.0.0.1:${p.grpc}`, '--receive.shards=1', '--receive.gateways=1',
      `--receive.hashrings-file=${ringFile}`, '--receive.hashrings-algorithm=ketama', `--receive.replication-factor=${o.rf}`,
      `--receive.local-endpoint=${ringAddresses[i]!}`, '--http-grace-period=5s', ...o.extraArgs];
    if (o.profileDir !== undefined) {
      // The main thread by node's flag, the worker threads by Sluice's own switch (src/util/profile.ts).
      args.unshift('--cpu-prof', `--cpu-prof-dir=${o.profileDir}`);
      process.env['SLUICE_CPU_PROFILE_DIR'] = o.profileDir;
    }
    console.error(`   ${name}: node ${args.join(' ')}`);
    const run = startChild(process.execPath, args, path.join(dir, `${name}.log`), o.root);
    delete process.env['SLUICE_CPU_PROFILE_DIR'];
    nodes.push({ name, run, writeUrl: `http://127.0.0.1:${p.rw}/api/v1/receive`, metricsUrl: `http://127.0.0.1:${p.http}/metrics`, ringAddress: ringAddresses[i]! });
  }
  const ring: Ring = { nodes, dir, proxy };
  try {
    await Promise.all(nodes.map((n) => waitReady(n.run, n.metricsUrl.replace('/metrics', '/-/ready'), 60_000, n.name)));
  } catch (e) {
    await stopRing(ring);
    throw e;
  }
  return ring;
}

async function stopRing(r: Ring): Promise<void> {
  await Promise.all(r.nodes.map((n) => stopChild(n.run)));
  if (r.proxy) await stopChild(r.proxy.run);
  rmSync(r.dir, { recursive: true, force: true });
  tempDirs.delete(r.dir);
}

const ringCpuSeconds = (r: Ring): number => r.nodes.reduce((a, n) => a + treeCpuSeconds(n.run.child.pid as number), 0);

// ---------------------------------------------------------------------------------------------
// /metrics

/** Counters are the scraped counters of one node that this benchmark reports (summed over other labels). */
interface Counters { forwardOk: number; forwardErr: number; replOk: number; replErr: number; samplesAppended: number; rejected: number }
type CounterName = keyof Counters;
const COUNTER_NAMES: readonly CounterName[] = ['forwardOk', 'forwardErr', 'replOk', 'replErr', 'samplesAppended', 'rejected'];

/** counterOf names the Counters field a /metrics line adds to, or undefined. */
function counterOf(name: string, labels: string): CounterName | undefined {
  const ok = labels.includes('result="success"');
  switch (name) {
    case 'thanos_receive_forward_requests_total': return ok ? 'forwardOk' : 'forwardErr';
    case 'thanos_receive_replications_total': return ok ? 'replOk' : 'replErr';
    case 'prometheus_tsdb_head_samples_appended_total': return 'samplesAppended';
    case 'sluice_receive_rejected_samples_total': return 'rejected';
    default: return undefined;
  }
}

/** combine folds counters field by field: a − b (diff) or a + b (total). */
function combine(a: Counters, b: Counters, sign: 1 | -1): Counters {
  const out = { ...a };
  for (const k of COUNTER_NAMES) out[k] = a[k] + sign * b[k];
  return out;
}
const zero = (): Counters => ({ forwardOk: 0, forwardErr: 0, replOk: 0, replErr: 0, samplesAppended: 0, rejected: 0 });
const diff = (before: Counters[], after: Counters[]): Counters[] => after.map((x, i) => combine(x, before[i] ?? zero(), -1));
const total = (cs: Counters[]): Counters => cs.reduce((a, c) => combine(a, c, 1), zero());

/** scrape reads one node's /metrics. */
async function scrape(url: string): Promise<Counters> {
  const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const c = zero();
  for (const line of (await res.body.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    const k = m ? counterOf(m[1]!, m[2] ?? '') : undefined;
    if (k !== undefined) c[k] += Number(m![3]);
  }
  return c;
}

const scrapeRing = (r: Ring): Promise<Counters[]> => Promise.all(r.nodes.map((n) => scrape(n.metricsUrl)));

/**
 * drain waits until the ring has no replica writes left in flight: the forward counters of every
 * node stop moving for 1 s (at most `maxMs`). A client's write is acknowledged at quorum, so the
 * last replica of a request may still be queued when the load stops. Returns the counters then and
 * how long it took.
 */
async function drain(r: Ring, maxMs = 15_000): Promise<{ counters: Counters[]; ms: number }> {
  const t0 = performance.now();
  let last = await scrapeRing(r);
  let stable = 0;
  const key = (cs: Counters[]): string => cs.map((c) => `${c.forwardOk + c.forwardErr}/${c.samplesAppended}`).join(',');
  while (performance.now() - t0 < maxMs && stable < 2) {
    await sleep(500);
    const now = await scrapeRing(r);
    stable = key(now) === key(last) ? stable + 1 : 0;
    last = now;
  }
  return { counters: last, ms: performance.now() - t0 - 1000 };
}

// ---------------------------------------------------------------------------------------------
// Phases

/** ThroughputResult is one RF's closed-loop measurement. */
export interface ThroughputResult {
  rf: number;
  warmupSamplesPerSec: number;
  samplesPerSec: number;
  ackedSamples: number;
  wallSeconds: number;
  p50: number;
  p99: number;
  /** Requests given up (warm-up included) and retried attempts. */
  errors: number;
  retries: number;
  statuses: Record<string, number>;
  /** CPU seconds of the 3 node processes (all threads), from the load's start until the ring drained. */
  cpuSeconds: number;
  /** How long replica writes still ran after the last acknowledgement (ms). */
  drainMs: number;
  clientCpuSeconds: number;
  /** Counter deltas per node over the measured phase and its drain. */
  perNode: Counters[];
}

async function throughputPhase(rf: number, c: Ctx): Promise<ThroughputResult> {
  console.error(`\n== RF=${rf}: 3 nodes, closed loop, ${c.load.concurrency} connections round robin over the nodes`);
  const ring = await startRing({ root: c.root, rf, proxied: false, extraArgs: c.extraArgs, profileDir: rf === 3 ? c.profileDir : undefined });
  try {
    const urls = ring.nodes.map((n) => n.writeUrl);
    const warm = await sendLoad({ urls, prep: c.prep, concurrency: c.load.concurrency, startRound: 0, durationSec: 0, rounds: 1, maxRetries: 8, signal: c.signal });
    const m0 = (await drain(ring)).counters;
    console.error(`   warm-up (round 0 creates ${fmtInt(c.load.series)} series): ${fmtInt(warm.samplesPerSec)} samples/s`);
    const cpu0 = ringCpuSeconds(ring);
    const r = await sendLoad({ urls, prep: c.prep, concurrency: c.load.concurrency, startRound: 1, durationSec: c.durationSec, maxRetries: 8, signal: c.signal });
    const d = await drain(ring);
    const cpuSeconds = ringCpuSeconds(ring) - cpu0;
    const perNode = diff(m0, d.counters);
    for (const n of ring.nodes) if (n.run.hasExited()) throw new Error(`${n.name} exited during the run`);
    const res: ThroughputResult = {
      rf, warmupSamplesPerSec: warm.samplesPerSec, samplesPerSec: r.samplesPerSec, ackedSamples: r.ackedSamples, wallSeconds: r.wallSeconds,
      p50: r.latency.quantile(0.5), p99: r.latency.quantile(0.99), errors: r.failedRequests + warm.failedRequests, retries: r.retries + warm.retries,
      statuses: r.statuses, cpuSeconds, drainMs: d.ms, clientCpuSeconds: r.clientCpuSeconds, perNode,
    };
    const t = total(perNode);
    console.error(`   ${fmtInt(res.samplesPerSec)} samples/s acked, p50 ${fmtMs(res.p50)} ms, p99 ${fmtMs(res.p99)} ms, nodes' CPU ${(cpuSeconds / r.wallSeconds).toFixed(2)} cores, ` +
      `responses ${JSON.stringify(r.statuses)}; replicas drained ${(d.ms / 1000).toFixed(1)} s after the load; stored/acked ${(t.samplesAppended / Math.max(1, r.ackedSamples)).toFixed(3)}`);
    for (const [k, v] of Object.entries(r.errorSamples)) console.error(`   first ${k} body: ${v}`);
    return res;
  } finally {
    await stopRing(ring);
  }
}

/** LatencyPhase is one paced phase of the slow-replica measurement. */
export interface LatencyPhase {
  delayMs: number;
  offeredSamplesPerSec: number;
  ackedSamplesPerSec: number;
  requests: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** p99 from each request's due time (so a server that falls behind the schedule shows). */
  schedP99: number;
  late: number;
  failedSamples: number;
  retries: number;
  statuses: Record<string, number>;
  /** Highest latency of the requests sent in each second of the phase (ms). */
  maxPerSecond: number[];
  /** Counter deltas per node over the phase, counted once the proxy delivered all it held. */
  perNode: Counters[];
  /** The nodes' CPU cores over the phase. */
  cores: number;
  /** Forwarding connections to node 3 that closed (timed out) while the proxy still held their bytes. */
  proxyClientsGone: number;
}

/** SlowReplicaResult is the whole slow-replica measurement. */
export interface SlowReplicaResult { rate: number; phases: LatencyPhase[] }

async function slowReplicaPhase(rate: number, c: Ctx): Promise<SlowReplicaResult> {
  console.error(`\n== slow replica: RF=3, node3 behind a delaying proxy; ${fmtInt(rate)} samples/s paced to node1 and node2`);
  const ring = await startRing({ root: c.root, rf: 3, proxied: true, extraArgs: c.extraArgs, profileDir: undefined });
  const proxy = ring.proxy as ProxyProc;
  try {
    const urls = ring.nodes.slice(0, 2).map((n) => n.writeUrl);
    const warm = await sendLoad({ urls, prep: c.prep, concurrency: c.load.concurrency, startRound: 0, durationSec: 0, rounds: 1, maxRetries: 8, signal: c.signal });
    console.error(`   warm-up: ${fmtInt(warm.samplesPerSec)} samples/s`);
    const phases: LatencyPhase[] = [];
    let round = 1;
    for (const delayMs of [0, c.delayMs]) {
      await setDelay(proxy, delayMs);
      const m0 = (await drain(ring)).counters;
      const p0 = await proxyStats(proxy);
      const cpu0 = ringCpuSeconds(ring);
      const r = await sendLoad({ urls, prep: c.prep, concurrency: c.load.concurrency, startRound: round, durationSec: c.latencySec, rate, leadInSec: c.leadInSec, maxRetries: 8, signal: c.signal });
      const cores = (ringCpuSeconds(ring) - cpu0) / (r.wallSeconds + c.leadInSec); // lead-in included
      round = r.lastRound + 1;
      // Writes held by the proxy reach node 3 up to delayMs after the phase: wait for them, then count.
      await sleep(delayMs);
      const perNode = diff(m0, (await drain(ring)).counters);
      const p1 = await proxyStats(proxy);
      const ph: LatencyPhase = {
        delayMs, offeredSamplesPerSec: rate, ackedSamplesPerSec: r.samplesPerSec, requests: r.requests,
        p50: r.latency.quantile(0.5), p90: r.latency.quantile(0.9), p99: r.latency.quantile(0.99), max: r.latency.max,
        schedP99: r.fromSchedule.quantile(0.99), late: r.late, failedSamples: r.failedSamples, retries: r.retries, statuses: r.statuses,
        maxPerSecond: r.maxPerSecond, perNode, cores,
        proxyClientsGone: p1.clientsGoneWhileHeld - p0.clientsGoneWhileHeld,
      };
      phases.push(ph);
      console.error(`   delay ${delayMs} ms: p50 ${fmtMs(ph.p50)} p99 ${fmtMs(ph.p99)} max ${fmtMs(ph.max)} ms; ${fmtInt(ph.ackedSamplesPerSec)} samples/s acked; nodes' CPU ${cores.toFixed(2)} cores; ` +
        `stored on node1/2/3 ${perNode.map((x) => fmtInt(x.samplesAppended)).join(' / ')}; responses ${JSON.stringify(r.statuses)}\n` +
        `   max latency per second (ms): ${ph.maxPerSecond.map((x) => x.toFixed(0)).join(' ')}`);
      for (const n of ring.nodes) if (n.run.hasExited()) throw new Error(`${n.name} exited during the run`);
    }
    return { rate, phases };
  } finally {
    await stopRing(ring);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profiles (--profile-dir): self time per function, summed over the files of one run

async function summarizeProfiles(dir: string, top = 20): Promise<string> {
  // Threads write their profile as they end; give stragglers a moment.
  const files = (): string[] => readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'));
  let list = files();
  for (let i = 0; i < 6 && list.length < 9; i++) { await sleep(500); list = files(); }
  if (list.length === 0) return '(no profile was written: did a node die or get killed?)';
  interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
  const self = new Map<string, number>();
  let all = 0;
  for (const f of list) {
    const p = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]!);
      if (!n) continue;
      const fn = n.callFrame.functionName || '(anonymous)';
      const key = `${fn} ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
      const dt = p.timeDeltas[i] ?? 0;
      if (fn === '(idle)') continue;
      self.set(key, (self.get(key) ?? 0) + dt);
      all += dt;
    }
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return `${list.length} profiles (3 threads per node expected)\n` + rows.map(([k, us]) => `${((100 * us) / Math.max(all, 1)).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Report

interface Ctx {
  root: string;
  load: LoadOptions;
  prep: PreparedLoad;
  durationSec: number;
  latencySec: number;
  leadInSec: number;
  delayMs: number;
  extraArgs: string[];
  profileDir: string | undefined;
  signal: AbortSignal;
}

const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

interface Report { env: EnvInfo; throughput: ThroughputResult[]; slow?: SlowReplicaResult; codecs?: CodecResult[] }

function render(r: Report, c: Ctx): string {
  const o: string[] = [];
  o.push(`### Replication, ${r.env.date}`);
  o.push('');
  o.push(`- Machine: ${r.env.cpu}, nproc ${r.env.cores}, ${r.env.ramGiB} GiB RAM, ${r.env.os}; Node.js ${r.env.node}`);
  o.push(`- Command: \`${r.env.command}\``);
  o.push(`- Ring: 3 \`sluice receive\` processes on 127.0.0.1, one hashrings file (ketama), each \`--receive.shards=1 --receive.gateways=1\` (2 cores for 3 processes and the load generator), \`--tsdb.wal.fsync=batch\` (default).`);
  o.push(`- Load: ${fmtInt(c.load.series)} series × ${c.load.labels} labels, ${c.load.batch} series/request, seed ${c.load.seed}; warm-up round 0 creates every series, then ${c.durationSec} s closed loop with ${c.load.concurrency} connections assigned to the nodes round robin.`);
  o.push('');
  if (r.throughput.length > 0) {
    o.push('| RF | samples/s acked | warm-up samples/s | p50 ms | p99 ms | failed requests (retries) | nodes\' CPU cores | CPU µs / acked sample | replicas drained after | samples stored (3 nodes) / acked | samples refused by a replica | forward requests ok / error | replications ok / error |');
    o.push('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const t of r.throughput) {
      const s = total(t.perNode);
      o.push(`| ${t.rf} | ${fmtInt(t.samplesPerSec)} | ${fmtInt(t.warmupSamplesPerSec)} | ${fmtMs(t.p50)} | ${fmtMs(t.p99)} | ${t.errors} (${t.retries}) | ` +
        `${(t.cpuSeconds / (t.wallSeconds + t.drainMs / 1000)).toFixed(2)} | ${((t.cpuSeconds * 1e6) / Math.max(1, t.ackedSamples)).toFixed(2)} | ${(t.drainMs / 1000).toFixed(1)} s | ${(s.samplesAppended / Math.max(1, t.ackedSamples)).toFixed(3)} | ${fmtInt(s.rejected)} | ` +
        `${fmtInt(s.forwardOk)} / ${fmtInt(s.forwardErr)} | ${fmtInt(s.replOk)} / ${fmtInt(s.replErr)} |`);
    }
    const one = r.throughput.find((t) => t.rf === 1);
    const three = r.throughput.find((t) => t.rf === 3);
    if (one && three) {
      const x = three.samplesPerSec / (one.samplesPerSec / 3);
      o.push('');
      o.push(`**RF=3 / (RF=1 / 3) = ${x.toFixed(2)}** (target ≥ 0.8: ${x >= 0.8 ? 'met' : 'missed'}). ` +
        `CPU per acked sample: RF=3 ${((three.cpuSeconds / three.ackedSamples) / (one.cpuSeconds / one.ackedSamples)).toFixed(2)}× RF=1, ` +
        `so by CPU cost (less sensitive to other load on the machine than samples/s) RF=3 would take ${(3 * (one.cpuSeconds / one.ackedSamples) / (three.cpuSeconds / three.ackedSamples)).toFixed(2)}× RF=1 / 3. ` +
        `Forward requests per client request: RF=1 ${(total(one.perNode).forwardOk / Math.max(1, one.ackedSamples / c.load.batch)).toFixed(2)}, RF=3 ${(total(three.perNode).forwardOk / Math.max(1, three.ackedSamples / c.load.batch)).toFixed(2)}.`);
    }
  }
  if (r.slow) {
    const s = r.slow;
    o.push('');
    o.push(`Slow replica: RF=3, node 3's ring entry is a proxy that holds every byte sent to node 3 for the delay; ${fmtInt(s.rate)} samples/s offered (paced, ${c.load.concurrency} connections at most) to nodes 1 and 2 only, ${c.latencySec} s per phase, \`--receive-forward-timeout=5s\` (default).`);
    o.push('');
    o.push('| delay to node 3 | samples/s acked | requests | p50 ms | p90 ms | p99 ms | max ms | p99 from schedule ms | sent late | failed samples (retries) | nodes\' CPU cores | stored on node 1 / 2 / 3 | refused on node 1 / 2 / 3 | forwards ok / error (nodes 1+2) | replications ok / error (nodes 1+2) |');
    o.push('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const p of s.phases) {
      const f = p.perNode;
      o.push(`| ${p.delayMs} ms | ${fmtInt(p.ackedSamplesPerSec)} | ${fmtInt(p.requests)} | ${fmtMs(p.p50)} | ${fmtMs(p.p90)} | ${fmtMs(p.p99)} | ${fmtMs(p.max)} | ${fmtMs(p.schedP99)} | ${p.late} | ${fmtInt(p.failedSamples)} (${p.retries}) | ${p.cores.toFixed(2)} | ` +
        `${fmtInt(f[0]!.samplesAppended)} / ${fmtInt(f[1]!.samplesAppended)} / ${fmtInt(f[2]!.samplesAppended)} | ${f.map((x) => fmtInt(x.rejected)).join(' / ')} | ` +
        `${fmtInt(f[0]!.forwardOk + f[1]!.forwardOk)} / ${fmtInt(f[0]!.forwardErr + f[1]!.forwardErr)} | ${fmtInt(f[0]!.replOk + f[1]!.replOk)} / ${fmtInt(f[0]!.replErr + f[1]!.replErr)} |`);
    }
    const [a, b] = s.phases;
    if (a && b) {
      const x = b.p99 / a.p99;
      o.push('');
      o.push(`**p99 with node 3 delayed ${b.delayMs} ms / p99 without = ${x.toFixed(2)}** (target ≤ 1.5: ${x <= 1.5 ? 'met' : 'missed'}). ` +
        `Node 3 stored ${(100 * b.perNode[2]!.samplesAppended / Math.max(1, b.perNode[0]!.samplesAppended)).toFixed(0)}% of what node 1 stored in the delayed phase ` +
        `(counted after the phase once the proxy had delivered everything it held); the proxy saw ${fmtInt(b.proxyClientsGone)} forwarding connections close while their bytes were still held.`);
    }
  }
  if (r.codecs) {
    o.push('');
    o.push('Forwarded body compression (micro/forward.bench.ts, one thread):');
    o.push('');
    o.push(renderCodecs(r.codecs));
  }
  return o.join('\n');
}


// ---------------------------------------------------------------------------------------------
// CLI

const PHASES = ['rf1', 'rf3', 'delay', 'micro'] as const;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      series: { type: 'string', default: '100000' },
      batch: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '24' },
      labels: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
      duration: { type: 'string', default: '20' },
      'latency-duration': { type: 'string', default: '20' },
      'lead-in': { type: 'string', default: '2' },
      'delay-ms': { type: 'string', default: '5000' },
      'load-fraction': { type: 'string', default: '0.5' },
      rate: { type: 'string' },
      only: { type: 'string', default: PHASES.join(',') },
      'profile-dir': { type: 'string' },
      'sluice-args': { type: 'string', default: '' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: npm run bench:replication -- [--series 100000] [--batch 500] [--concurrency 24] [--duration 20] [--latency-duration 20] [--lead-in 2]\n' +
      '         [--delay-ms 5000] [--load-fraction 0.5 | --rate SAMPLES_PER_S] [--seed 1] [--only rf1,rf3,delay,micro]\n' +
      '         [--profile-dir DIR] [--sluice-args \'--flag=x\'] [--out FILE.md] [--json]');
    return 0;
  }
  const num = (name: 'duration' | 'latency-duration' | 'lead-in' | 'delay-ms' | 'load-fraction' | 'rate', min: number): number => {
    const v = Number(values[name]);
    if (!(v >= min && Number.isFinite(v))) throw new Error(`--${name} must be a number >= ${min}, got ${String(values[name])}`);
    return v;
  };
  const only = new Set(values.only.split(',').map((s) => s.trim()).filter(Boolean));
  for (const p of only) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${p} (known: ${PHASES.join(', ')})`);
  const times = { durationSec: num('duration', 1), latencySec: num('latency-duration', 1), leadInSec: num('lead-in', 0), delayMs: num('delay-ms', 0) };
  const rateFlag = values.rate !== undefined ? num('rate', 1000) : undefined;
  const fraction = num('load-fraction', 0.01);
  const load = resolveOptions({ url: 'http://127.0.0.1:1/', series: Number(values.series), batch: Number(values.batch), concurrency: Number(values.concurrency), labels: Number(values.labels), seed: Number(values.seed) });
  const env = envInfo(['npm', 'run', 'bench:replication', '--', ...argv]);
  console.error(`machine: ${env.cpu}, nproc ${env.cores}, ${env.ramGiB} GiB; node ${env.node}; ${env.date}`);

  const ac = new AbortController();
  stopOnSignals(ac, 'the ring');

  const prep = prepareLoad(load);
  verifyPrepared(prep, load, 1);
  const c: Ctx = {
    root: findRepoRoot(), load, prep, ...times, extraArgs: values['sluice-args'].split(/\s+/).filter(Boolean),
    // A fresh subdirectory, so the summary reads this run's profiles only.
    profileDir: values['profile-dir'] !== undefined ? mkdtempSync(path.join(mkdirP(path.resolve(values['profile-dir'])), 'rf3-')) : undefined, signal: ac.signal,
  };
  const report: Report = { env, throughput: [] };
  let failed = false;
  try {
    if (only.has('rf1')) report.throughput.push(await throughputPhase(1, c));
    if (only.has('rf3')) report.throughput.push(await throughputPhase(3, c));
    if (only.has('delay')) {
      const rf3 = report.throughput.find((t) => t.rf === 3);
      const rate = rateFlag ?? (rf3 ? fraction * rf3.samplesPerSec : 50_000);
      report.slow = await slowReplicaPhase(Math.max(1000, Math.round(rate)), c);
    }
  } catch (e) {
    failed = true;
    console.error(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (only.has('micro') && !ac.signal.aborted) {
    console.error('\n== forwarded body compression (micro)');
    report.codecs = forwardBench({ quiet: true });
  }
  if (c.profileDir !== undefined) {
    console.error(`\n== CPU profile of the RF=3 ring (self time, all threads of the 3 nodes; files in ${c.profileDir})\n${await summarizeProfiles(c.profileDir)}`);
  }
  const md = render(report, c);
  console.log(values.json ? JSON.stringify(report, null, 2) : `\n${md}`);
  if (values.out) writeFileSync(values.out, `${md}\n`);
  return failed ? 1 : 0;
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => { console.error(err instanceof Error ? err.message : String(err)); cleanupAllSync(); process.exitCode = 2; },
  );
}
