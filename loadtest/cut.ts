/**
 * Head cut benchmark (`npm run bench:cut`): the issue 4 targets measured on a real node's real
 * cuts: block write throughput, peak extra memory during a cut against the head's memory, and
 * remote-write latency of requests that overlap a cut against those that do not.
 *
 *   npm run bench:cut -- [--series 100000] [--samples 480] [--block-duration 2h] [--steady-seconds 30]
 *     [--cuts 3] [--cut-every 20] [--write-rate 100000] [--out FILE] [--sluice-args '--flag=x']
 *
 * One run: start `node bin/sluice.js receive` (JSON log) on loopback with a fresh temp data dir
 * and sample its VmRSS every 10 ms (lib/rssSampler.ts); take the empty node's RSS; bulk-load the
 * seeded data set (lib/queryLoad.ts: N series × 8 labels, `--samples` at 15 s starting on a block
 * boundary, in the past) and take the loaded RSS (head = loaded − empty) and the shards' byte
 * counters; start the paced writer (lib/clockedWriter.ts) on the next timestamps for a steady
 * phase; jump its sample clock 1.5 blocks past the data's start so the loaded range comes due and
 * the node cuts it by itself (the full cut); then step the clock fast so `--cuts` more ranges
 * come due, one every `--cut-every` s. Each cut's window comes from the node's log (lib/sluiceLog.ts);
 * requests are grouped by whether they overlapped a cut (lib/cutReport.ts). Prints a markdown
 * section for docs/benchmarks.md; `--out` writes it too. Exit code 1 when a check failed
 * (a write given up, a block's samples ≠ what was written), 2 on an error.
 *
 * Diagnostics, off by default: `--trace PREFIX` writes every RSS sample (PREFIX.rss.csv, with the
 * cut windows) and every request's due/sent/end times (PREFIX.writes.csv); `--heap-probe-ms N`
 * scrapes /metrics every N ms for the main thread's V8 heap and external memory (it costs the
 * cutting thread CPU: do not take latency figures from such a run); `--main-priority low|idle` lowers
 * the node main thread's CPU priority after the load (nice 10, or SCHED_IDLE via chrt) (an experiment: does the cut's CPU use explain
 * the write latency?). The node's per-thread CPU (main, shards, gateways, other) is always reported.
 *
 * Touches: the child process it starts (its process group; killed on exit, error and Ctrl-C), a
 * temp dir under os.tmpdir() (removed), loopback ports, /proc/<child>/status. Never builds: runs
 * the Sluice next to this compiled file (a private build's bin/sluice.js shim) when there is one,
 * else the repository's bin/sluice.js (dist/), or `--sluice-bin`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { findRepoRoot } from './compare.js';
import { isMainModule } from './generator.js';
import { cleanupAllSync, freePort, intFlag, logTail, sleep, startChild, stopChild, stopOnSignals, tempDirs, waitReady, type Running } from './lib/children.js';
import { ClockedWriter } from './lib/clockedWriter.js';
import { classify, latStats, overlapping, renderCutReport, type CutBenchResult, type CutRow, type HeapWindow, type Memory, type Window } from './lib/cutReport.js';
import { envInfo } from './lib/env.js';
import { SCRAPE_MS, bulkLoad, makeDataSet, makeTemplates } from './lib/queryLoad.js';
import { RssSampler } from './lib/rssSampler.js';
import { ThreadCpu, sumGroups } from './lib/threadCpu.js';
import { LogTail, type CutEvent } from './lib/sluiceLog.js';
import { NODE_FLAGS } from '../src/util/nodeFlags.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const USAGE = `usage: npm run bench:cut -- [--series 100000] [--samples 480] [--seed 1] [--block-duration 2h]
         [--load-batch 5000] [--load-concurrency 4] [--write-rate 100000] [--write-batch 1000] [--write-concurrency 4]
         [--steady-seconds 30] [--cuts 3] [--cut-every 20] [--tail-seconds 8] [--rss-interval-ms 10]
         [--sluice-bin PATH] [--sluice-args '--flag=x ...'] [--out FILE.md] [--trace PREFIX] [--heap-probe-ms 0] [--main-priority normal|low|idle] [--own-session] [--json]

--own-session runs the node in a session of its own (setsid): the kernel's autogroups then share
the CPUs between it and this load generator (lib/children.ts Session).`;

interface Flags {
  series: number; samples: number; seed: number; blockDurationMs: number; loadBatch: number; loadConcurrency: number;
  writeRate: number; writeBatch: number; writeConcurrency: number; steadySeconds: number; cuts: number; cutEvery: number;
  tailSeconds: number; rssIntervalMs: number; sluiceBin: string | undefined; sluiceArgs: string[]; out: string | undefined; trace: string | undefined; heapProbeMs: number; mainPriority: string; ownSession: boolean; json: boolean;
}

/** parseDuration reads `2h`, `30m`, `1h30m`, `90s` or `500ms` as milliseconds (NaN when malformed). */
export function parseDuration(s: string): number {
  const re = /(\d+)(ms|h|m|s)/gy;
  let ms = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    ms += Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  return matched === s.length && s.length > 0 ? ms : NaN;
}

function parseFlags(argv: string[]): Flags | undefined {
  const str = (d: string): { type: 'string'; default: string } => ({ type: 'string', default: d });
  const { values: v } = parseArgs({
    args: argv,
    options: {
      series: str('100000'), samples: str('480'), seed: str('1'), 'block-duration': str('2h'), 'load-batch': str('5000'),
      'load-concurrency': str('4'), 'write-rate': str('100000'), 'write-batch': str('1000'), 'write-concurrency': str('4'),
      'steady-seconds': str('30'), cuts: str('3'), 'cut-every': str('20'), 'tail-seconds': str('8'), 'rss-interval-ms': str('10'),
      'sluice-bin': { type: 'string' }, 'sluice-args': str(''), out: { type: 'string' }, trace: { type: 'string' }, 'heap-probe-ms': str('0'), 'main-priority': str('normal'), 'own-session': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return undefined;
  const int = intFlag;
  const blockDurationMs = parseDuration(v['block-duration']);
  if (!(blockDurationMs >= 60_000)) throw new Error(`--block-duration must be a duration of at least 1m, got ${v['block-duration']}`);
  const f: Flags = {
    series: int('series', v.series, 1, 10_000_000), samples: int('samples', v.samples, 2, 100_000), seed: int('seed', v.seed, 0, 2 ** 32 - 1),
    blockDurationMs, loadBatch: int('load-batch', v['load-batch'], 1, 100_000), loadConcurrency: int('load-concurrency', v['load-concurrency'], 1, 64),
    writeRate: int('write-rate', v['write-rate'], 1, 10_000_000), writeBatch: int('write-batch', v['write-batch'], 1, 100_000),
    writeConcurrency: int('write-concurrency', v['write-concurrency'], 1, 64), steadySeconds: int('steady-seconds', v['steady-seconds'], 1, 3600),
    cuts: int('cuts', v.cuts, 0, 100), cutEvery: int('cut-every', v['cut-every'], 2, 3600), tailSeconds: int('tail-seconds', v['tail-seconds'], 1, 600),
    rssIntervalMs: int('rss-interval-ms', v['rss-interval-ms'], 1, 1000), sluiceBin: v['sluice-bin'],
    sluiceArgs: v['sluice-args'].split(/\s+/).filter(Boolean), out: v.out, trace: v.trace, heapProbeMs: int('heap-probe-ms', v['heap-probe-ms'], 0, 60_000), mainPriority: v['main-priority'], ownSession: v['own-session'], json: v.json,
  };
  if (f.samples * SCRAPE_MS > blockDurationMs) {
    throw new Error(`--samples ${f.samples} at 15 s do not fit in one block of ${v['block-duration']} (at most ${Math.floor(blockDurationMs / SCRAPE_MS)})`);
  }
  if (!['normal', 'low', 'idle'].includes(f.mainPriority)) throw new Error(`--main-priority must be normal, low or idle, got ${f.mainPriority}`);
  return f;
}

// ---------------------------------------------------------------------------------------------
// The node

interface Node { run: Running; dir: string; pid: number; writeUrl: string; api: string; bin: string }

/** sluiceBin picks the Sluice to run: --sluice-bin, a private build's shim next to this file, else the repository's. */
function sluiceBin(f: Flags): string {
  if (f.sluiceBin !== undefined) return path.resolve(f.sluiceBin);
  const mine = path.join(HERE, '..', 'bin', 'sluice.js');
  if (existsSync(mine)) return mine;
  const root = findRepoRoot(HERE);
  if (!existsSync(path.join(root, 'dist', 'src', 'cli.js'))) throw new Error('dist/src/cli.js not found: run `npm run build` first');
  return path.join(root, 'bin', 'sluice.js');
}

async function startNode(f: Flags): Promise<Node> {
  const bin = sluiceBin(f);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-cutbench-'));
  tempDirs.add(dir);
  const [rw, http, grpc] = [await freePort(), await freePort(), await freePort()];
  const args = [...NODE_FLAGS, bin, 'receive', `--tsdb.path=${dir}/data`, `--remote-write.address=127.0.0.1:${rw}`, `--http-address=127.0.0.1:${http}`,
    `--grpc-address=127.0.0.1:${grpc}`, '--log.format=json', `--tsdb.block-duration=${f.blockDurationMs / 1000}s`, ...f.sluiceArgs];
  console.error(`== sluice: ${[process.execPath, ...args].join(' ')}`);
  const run = startChild(process.execPath, args, path.join(dir, 'server.log'), findRepoRoot(HERE), f.ownSession ? 'own' : 'shared');
  const api = `http://127.0.0.1:${http}`;
  await waitReady(run, `${api}/-/ready`, 60_000, 'sluice');
  return { run, dir, pid: run.child.pid as number, writeUrl: `http://127.0.0.1:${rw}/api/v1/receive`, api, bin };
}

/** metricSum adds up every series of one metric in a /metrics text. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

async function scrape(n: Node): Promise<string> {
  const res = await request(`${n.api}/metrics`, { headersTimeout: 30_000, bodyTimeout: 30_000 });
  return res.body.text();
}

/** HeapPoint is the node main thread's V8 heap in use and its external memory (ArrayBuffers) at time t. */
interface HeapPoint { t: number; heap: number; external: number }

/**
 * heapProbe scrapes /metrics every `ms` until `stop()` says so, for the main thread's heap
 * (prom-client's nodejs_heap_size_used_bytes, nodejs_external_memory_bytes). Opt-in
 * (--heap-probe-ms): every scrape costs the node's main thread, the thread that cuts.
 */
async function heapProbe(n: Node, ms: number, out: HeapPoint[], stop: () => boolean): Promise<void> {
  while (!stop()) {
    try {
      const text = await scrape(n);
      out.push({ t: wallNow(), heap: metricSum(text, 'nodejs_heap_size_used_bytes'), external: metricSum(text, 'nodejs_external_memory_bytes') });
    } catch { /* the node is stopping */ }
    await sleep(ms);
  }
}

/** heapIn summarizes the probe in [t0, t1]: the largest heap and external seen, against the last point before t0. */
function heapIn(ps: readonly HeapPoint[], t0: number, t1: number): HeapWindow | undefined {
  let before: HeapPoint | undefined;
  let heap = 0;
  let external = 0;
  for (const p of ps) {
    if (p.t < t0) before = p;
    else if (p.t <= t1) { heap = Math.max(heap, p.heap); external = Math.max(external, p.external); }
  }
  return before && heap > 0 ? { heapBefore: before.heap, heapPeak: heap, externalBefore: before.external, externalPeak: external } : undefined;
}

// ---------------------------------------------------------------------------------------------
// The run

const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const wallNow = (): number => performance.timeOrigin + performance.now();

/** waitFor polls `cond` every 100 ms (reading the log first) until it holds; throws after `ms` or if the node exits. */
async function waitFor(n: Node, log: LogTail, what: string, ms: number, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    log.poll();
    if (cond()) return;
    if (n.run.hasExited()) throw new Error(`sluice exited while waiting for ${what}:\n${logTail(n.run.logFile, 20)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}`);
    await sleep(100);
  }
}

async function run(f: Flags, command: string[], signal: AbortSignal): Promise<CutBenchResult> {
  const D = f.blockDurationMs;
  // The data starts on a block boundary far enough in the past that every timestamp written,
  // through the last small cut, is still before now.
  const t0 = Math.floor(Date.now() / D) * D - (f.cuts + 5) * D;
  const loadEnd = t0 + (f.samples - 1) * SCRAPE_MS;
  console.error(`preparing ${fmtInt(f.series)} series × ${f.samples} samples from ${new Date(t0).toISOString()} ...`);
  const d = makeDataSet(f.series, f.seed, f.samples, loadEnd);
  const loadTpls = makeTemplates(d, f.loadBatch);
  const writeTpls = makeTemplates(d, f.writeBatch);
  const stepsPerSec = f.writeRate / f.series;
  // Steady phase: keep the head under 1.5 blocks (no cut yet), at 15 s per step where that fits.
  const steadySteps = Math.ceil((f.steadySeconds + 3) * stepsPerSec) + 1;
  const room = t0 + 1.5 * D - (loadEnd + SCRAPE_MS) - SCRAPE_MS;
  const steadyStepMs = Math.min(SCRAPE_MS, Math.floor(room / steadySteps));
  if (steadyStepMs < 1) throw new Error('the steady phase would reach 1.5 blocks: use fewer --steady-seconds or a longer --block-duration');
  // Small cuts: one block of sample time every --cut-every seconds.
  const fastStepMs = Math.max(1, Math.round(D / (f.cutEvery * stepsPerSec)));

  const node = await startNode(f);
  const problems: string[] = [];
  const sampler = new RssSampler(node.pid, f.rssIntervalMs);
  const cpu = new ThreadCpu(node.pid);
  const self = new ThreadCpu(process.pid); // the load generator: its waits add to the latencies it times
  const heapPoints: HeapPoint[] = [];
  let probing = true;
  const probe = f.heapProbeMs > 0 ? heapProbe(node, f.heapProbeMs, heapPoints, () => !probing) : Promise.resolve();
  const log = new LogTail(node.run.logFile);
  let writer: ClockedWriter | undefined;
  try {
    await sleep(2500);
    const emptyRss = sampler.medianIn(wallNow() - 1500, wallNow());
    const headBytesEmpty = metricSum(await scrape(node), 'sluice_shard_head_bytes');
    console.error(`empty node: RSS ${mib(emptyRss)}, shard head bytes ${mib(headBytesEmpty)}`);

    console.error(`loading ${fmtInt(f.series * f.samples)} samples ...`);
    const load = await bulkLoad(node.writeUrl, d, loadTpls, f.loadConcurrency,
      (p) => console.error(`   ${p.elapsedSec.toFixed(0)} s: step ${p.step}/${d.samples}, ${fmtInt(p.samples / p.elapsedSec)} samples/s, RSS ${mib(sampler.latest())}`), signal);
    console.error(`   ${load.seconds.toFixed(1)} s, ${fmtInt(load.samples / load.seconds)} samples/s, ${load.retries} retries`);
    await sleep(3000);
    const loadedRss = sampler.medianIn(wallNow() - 2000, wallNow());
    const m1 = await scrape(node);
    const appended = metricSum(m1, 'sluice_shard_samples_appended');
    const headSeries = metricSum(m1, 'sluice_shard_series');
    const headBytesLoaded = metricSum(m1, 'sluice_shard_head_bytes');
    if (appended !== f.series * f.samples) problems.push(`the shards appended ${fmtInt(appended)} samples of the ${fmtInt(f.series * f.samples)} loaded`);
    console.error(`loaded node: RSS ${mib(loadedRss)} (head ${mib(loadedRss - emptyRss)}), shard head bytes ${mib(headBytesLoaded)}, ${fmtInt(headSeries)} series, ${fmtInt(appended)} samples`);
    log.poll();
    if (log.cuts().length > 0) throw new Error('a cut happened during the load (the data spans more than 1.5 blocks?)');
    if (f.mainPriority !== 'normal') {
      // Experiment: the node's main thread (the one that cuts; not on the write path) at a lower
      // CPU priority: nice 10, or SCHED_IDLE through chrt. Both are per thread on Linux, and the
      // main thread's id is the pid.
      if (f.mainPriority === 'low') os.setPriority(node.pid, 10);
      else if (spawnSync('chrt', ['--idle', '-p', '0', String(node.pid)], { stdio: 'inherit' }).status !== 0) throw new Error('chrt --idle failed');
      console.error(`node main thread set to ${f.mainPriority}`);
    }

    // Steady writes, then the jump that makes the loaded range due, then fast steps.
    writer = new ClockedWriter(d, writeTpls, { url: node.writeUrl, rate: f.writeRate, concurrency: f.writeConcurrency, startTs: loadEnd + SCRAPE_MS, stepMs: steadyStepMs });
    const w = writer;
    w.start();
    console.error(`writing ${fmtInt(f.writeRate)} samples/s: 3 s warm-up, ${f.steadySeconds} s steady (step ${steadyStepMs} ms)`);
    await sleep(3000);
    const steadyFrom = wallNow();
    await sleep(f.steadySeconds * 1000);
    const steadyTo = wallNow();
    log.poll();
    if (log.cuts().length > 0) throw new Error('a cut happened during the steady phase');
    w.setStep(SCRAPE_MS);
    w.jumpTo(Math.max(t0 + 1.5 * D + SCRAPE_MS, w.lastTs + SCRAPE_MS));
    console.error('sample clock jumped: waiting for the full cut ...');
    const tickMs = Math.min(15_000, Math.max(250, D / 8));
    await waitFor(node, log, 'the full cut', 15 * 60_000, () => log.cuts().length >= 1);
    const first = log.cuts()[0] as CutEvent;
    console.error(`   full cut: ${fmtInt(first.samples)} samples in ${fmtInt(first.ms)} ms, RSS now ${mib(sampler.latest())}`);
    await sleep(f.tailSeconds * 1000);
    if (f.cuts > 0) {
      w.setStep(fastStepMs);
      console.error(`sample clock at ${fastStepMs} ms per step: waiting for ${f.cuts} more cuts ...`);
      await waitFor(node, log, `${f.cuts} more cuts`, (f.cuts * (f.cutEvery * 3 + tickMs / 1000) + 120) * 1000, () => {
        const n = log.cuts().length;
        return n >= 1 + f.cuts;
      });
      await sleep(f.tailSeconds * 1000);
    }
    await w.stop();
    const cuts = log.cuts();
    console.error(`writer stopped: ${fmtInt(w.log.end.length)} requests, ${w.late} late, ${w.totalFailures()} given up; ${cuts.length} cuts`);
    // Let the last uploads finish (they are measured, not waited for by the writes).
    const ulids = cuts.flatMap((c) => c.ulids);
    await waitFor(node, log, 'the uploads', 120_000, () => { const up = log.uploads(); return ulids.every((u) => up.has(u)); }).catch((e: unknown) => {
      problems.push(e instanceof Error ? e.message : String(e));
    });
    const endRss = sampler.latest();
    await sampler.stop();
    cpu.stop();
    self.stop();
    probing = false;
    await probe;
    if (node.run.hasExited()) throw new Error(`sluice died:\n${logTail(node.run.logFile, 20)}`);

    // Per cut: samples against what was written into its range, memory, overlapping writes.
    const uploads = log.uploads();
    const stamps = [...Array.from({ length: f.samples }, (_, k) => t0 + k * SCRAPE_MS), ...w.steps];
    const rows: CutRow[] = cuts.map((c, i) => {
      const mint = Math.max(t0, c.upTo - D);
      const expectedSamples = f.series * stamps.filter((t) => t >= mint && t < c.upTo).length;
      let written: number | undefined;
      for (const u of c.ulids) {
        try { written = Math.max(written ?? 0, statSync(path.join(node.dir, 'data', 'blocks', u, 'meta.json')).mtimeMs - c.start); } catch { /* gone */ }
      }
      const upTimes = c.ulids.map((u) => uploads.get(u));
      // RSS before: the median of the last second (one sample can sit in a GC's dip).
      const before = { rss: sampler.medianIn(c.start - 1000, c.start) };
      const peak = sampler.maxIn(c.start, c.end);
      const after = sampler.lastBefore(c.end + 500);
      const split = c.start + (written ?? c.ms);
      const peakWrite = sampler.maxIn(c.start, split)?.rss ?? 0;
      const peakRest = sampler.maxIn(split, c.end)?.rss ?? 0;
      if (c.samples !== expectedSamples) problems.push(`cut ${i + 1} wrote ${fmtInt(c.samples)} samples, the range got ${fmtInt(expectedSamples)}`);
      return {
        kind: i === 0 ? `full cut (${f.samples} samples/series)` : `small cut ${i}`, cut: c, mint, expectedSamples,
        blocksWrittenMs: written, uploadedMs: upTimes.every((t) => t !== undefined) && upTimes.length ? Math.max(...(upTimes as number[])) - c.end : undefined,
        rssBefore: before.rss, rssPeak: Math.max(peak?.rss ?? 0, before.rss), rssPeakAfterStartMs: peak ? peak.t - c.start : 0,
        rssPeakWrite: Math.max(peakWrite, before.rss), rssPeakRest: Math.max(peakRest, before.rss), cpu: cpu.coresIn(c.start, c.end), wait: cpu.waitIn(c.start, c.end), genWait: sumGroups(self.waitIn(c.start, c.end)), heap: heapIn(heapPoints, c.start, c.end), rssAfter: after?.rss ?? 0,
        writes: latStats(w.log, overlapping(w.log, c, steadyFrom)),
      };
    });
    if (f.trace) {
      // Every RSS sample and every request, with the windows: for plotting, or for finding where a peak sits.
      const lines = ['# t_ms_since_epoch,rss_bytes'];
      for (let i = 0; i < sampler.count; i++) { const p = sampler.at(i); lines.push(`${p.t.toFixed(1)},${p.rss}`); }
      for (const c of cuts) lines.push(`# cut ${c.start.toFixed(0)} ${c.end.toFixed(0)} samples=${c.samples} checkpoints=${log.checkpointsIn(c.start, c.end).join(' ')}`);
      lines.push(`# steady ${steadyFrom.toFixed(0)} ${steadyTo.toFixed(0)}`);
      writeFileSync(`${f.trace}.rss.csv`, `${lines.join('\n')}\n`);
      const req = ['# due,sent,end,retries (ms since the epoch)'];
      for (let i = 0; i < w.log.end.length; i++) req.push(`${w.log.due[i]!.toFixed(1)},${w.log.sent[i]!.toFixed(1)},${w.log.end[i]!.toFixed(1)},${w.log.retries[i]}`);
      writeFileSync(`${f.trace}.writes.csv`, `${req.join('\n')}\n`);
    }
    const cutWins: Window[] = cuts.map((c) => ({ start: c.start, end: c.end }));
    const upWins: Window[] = cuts.map((c) => {
      const ts = c.ulids.map((u) => uploads.get(u) ?? wallNow());
      return { start: c.end, end: Math.max(c.end, ...ts) };
    });
    const groups = classify(w.log, cutWins, upWins, steadyFrom);
    const steadyIdx = groups.outside.filter((i) => (w.log.sent[i] as number) < steadyTo);
    if (w.totalFailures() > 0) problems.push(`${w.totalFailures()} writes given up (${w.firstFailure})`);
    if (sampler.full) problems.push('the RSS sample buffer filled up');
    let maxRss = 0;
    for (let i = 0; i < sampler.count; i++) maxRss = Math.max(maxRss, sampler.at(i).rss);
    const memory: Memory = { emptyRss, loadedRss, headBytesEmpty, headBytesLoaded, headSeries, maxRss, endRss };
    const rel = path.relative(findRepoRoot(HERE), node.bin);
    return {
      env: envInfo(command), mainPriority: f.mainPriority, ownSession: f.ownSession, sluice: `node ${rel.startsWith('..') ? node.bin : rel}`, series: f.series, samples: f.samples, blockDurationMs: D,
      sluiceArgs: f.sluiceArgs, load,
      writer: {
        rate: f.writeRate, batch: f.writeBatch, concurrency: f.writeConcurrency, steadySeconds: f.steadySeconds, steadyStepMs, fastStepMs, cutEvery: f.cutEvery,
        requests: w.log.end.length + w.totalFailures(), late: w.late, acked: w.log.end.length,
        failures: w.totalFailures() ? [...w.failures].map(([k, n]) => `${k}×${n}`).join(' ') : 'none',
      },
      memory, cuts: rows, steadyCpu: cpu.coresIn(steadyFrom, steadyTo), steadyWait: cpu.waitIn(steadyFrom, steadyTo), steadyGenWait: sumGroups(self.waitIn(steadyFrom, steadyTo)),
      groups: { steady: latStats(w.log, steadyIdx), inCut: latStats(w.log, groups.inCut), inUpload: latStats(w.log, groups.inUpload), outside: latStats(w.log, groups.outside) },
      rssIntervalMs: f.rssIntervalMs, rssSamples: sampler.count, problems,
    };
  } finally {
    await writer?.stop();
    await sampler.stop();
    cpu.stop();
    self.stop();
    probing = false;
    await probe;
    await stopChild(node.run).catch(() => undefined);
    rmSync(node.dir, { recursive: true, force: true });
    tempDirs.delete(node.dir);
  }
}

async function main(argv: string[]): Promise<number> {
  const f = parseFlags(argv);
  if (!f) { console.log(USAGE); return 0; }
  const command = ['npm', 'run', 'bench:cut', '--', ...argv];
  const ac = new AbortController();
  stopOnSignals(ac, 'the node');
  const r = await run(f, command, ac.signal);
  const md = renderCutReport(r);
  if (f.json) console.log(JSON.stringify(r, null, 2));
  else console.log(`\n${md}`);
  if (f.out) { writeFileSync(f.out, `${md}\n`); console.error(`wrote ${f.out}`); }
  return r.problems.length ? 1 : 0;
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => { console.error(err instanceof Error ? err.message : String(err)); cleanupAllSync(); process.exitCode = 2; },
  );
}
