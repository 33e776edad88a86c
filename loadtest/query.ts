/**
 * Query latency benchmark: Sluice against Prometheus 2.42 on the same data, side by side.
 *
 *   npm run bench:query -- [--series 100000] [--rounds 5] [--skip-prom] [--sluice-args '--flag=x']
 *     [--samples 480] [--write-seconds 20] [--write-rounds 3] [--write-rate 100000] [--queriers 4] [--out FILE] [--json]
 *
 * In one run: start Sluice (node bin/sluice.js, from dist/) and Prometheus as child processes on
 * loopback with fresh temp data dirs; load the same seeded counter `x` (N series × 8 labels, 2 h
 * at 15 s, ending now or, later than 40 min past a 2 h boundary, there: no block cut during the run) into both, time-major; check both hold every sample; then time, alternating
 * servers, (a) `sum by (cluster)(rate(x[5m]))` over 2 h at step 15 s, (b) a 200-series dashboard
 * panel `rate(x{cluster="c1",job="j0"}[5m])` over the same range, (c) (a) as an instant query.
 * Each query is warmed once per server and both answers must agree (and (a), (c) must equal the
 * true rates the data was built with); every timed query starts once both servers are quiet
 * (settle), so that neither is timed against the other's leftover work. Last, against Sluice alone: a paced remote-write load
 * over R rounds of T s idle then T s while `--queriers` clients loop query (a) (their queries still
 * running when a round's loaded phase ends are dropped, and Sluice cancels them); write p50/p99 of
 * the idle phases pooled against the loaded ones pooled, and of each round.
 * Prints a markdown table. Every child is killed at the end, on error and on Ctrl-C.
 *
 * Touches: child processes it starts (their process groups), temp dirs under os.tmpdir(), and
 * loopback ports; nothing else. Reads dist/ (Sluice) but never builds it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { envInfo, type EnvInfo } from './lib/env.js';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findRepoRoot } from './compare.js';
import {
  cleanupAllSync, freePort, intFlag, live, logTail, stopOnSignals, sleep, startChild, stopChild, tempDirs, treeCpuSeconds, treeRssBytes, waitReady, type Running, type Session,
} from './lib/children.js';
import { isMainModule } from './generator.js';
import {
  CLUSTERS, METRIC, QueryClient, SCRAPE_MS, bulkLoad, compareResults, expectedClusterRates, makeDataSet, makeTemplates,
  pacedWriter, panelSelector, pointCount, quantileOf, summarizePhases, type BulkLoadResult, type DataSet, type PhaseRecord, type PromResult, type WritePhase,
} from './lib/queryLoad.js';
import { NODE_FLAGS } from '../src/util/nodeFlags.js';
import { ThreadCpu, sumGroups, threadTables, type ThreadRow } from './lib/threadCpu.js';

// ---------------------------------------------------------------------------------------------
// Child processes (lib/children.ts): each with its own temp dir, removed when it stops.

interface Child { name: string; run: Running; dir: string }

function startNamed(name: string, cmd: string, args: string[], cwd: string, session: Session): Child {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sluice-qbench-${name}-`));
  tempDirs.add(dir);
  const resolved = args.map((a) => a.replaceAll('{dir}', dir));
  console.error(`== ${name}: ${[cmd, ...resolved].join(' ')}`);
  return { name, run: startChild(cmd, resolved, path.join(dir, 'server.log'), cwd, session), dir };
}

async function stopNamed(c: Child): Promise<void> {
  await stopChild(c.run);
  rmSync(c.dir, { recursive: true, force: true });
  tempDirs.delete(c.dir);
}

const pidOf = (c: Child): number => c.run.child.pid as number;
const gone = (c: Child): boolean => c.run.hasExited();
const tailOf = (c: Child): string => logTail(c.run.logFile, 20);

// ---------------------------------------------------------------------------------------------
// Servers

/** Server is one started target: where to write, where to query, its process. */
interface Server { name: 'sluice' | 'prometheus'; label: string; version: string; child: Child; writeUrl: string; apiOrigin: string; load?: BulkLoadResult; rssAfterLoad: number }

async function startSluice(root: string, extra: string[], session: Session): Promise<Server> {
  const bin = path.join(root, 'bin', 'sluice.js');
  if (!existsSync(path.join(root, 'dist', 'src', 'cli.js'))) throw new Error('dist/src/cli.js not found: run `npm run build` first');
  const [rw, http, grpc] = [await freePort(), await freePort(), await freePort()];
  const child = startNamed('sluice', process.execPath, [...NODE_FLAGS, bin, 'receive', '--tsdb.path={dir}/data', `--remote-write.address=127.0.0.1:${rw}`,
    `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${grpc}`, ...extra], root, session);
  let version = '';
  try { version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? ''; } catch { /* none */ }
  const s: Server = { name: 'sluice', label: 'Sluice', version: `sluice ${version}`, child, writeUrl: `http://127.0.0.1:${rw}/api/v1/receive`, apiOrigin: `http://127.0.0.1:${http}`, rssAfterLoad: 0 };
  await waitReady(child.run, `${s.apiOrigin}/-/ready`, 60_000, child.name);
  return s;
}

async function startPrometheus(bin: string, root: string, extra: string[], session: Session): Promise<Server> {
  const port = await freePort();
  const child = startNamed('prometheus', bin, ['--web.enable-remote-write-receiver', '--storage.tsdb.path={dir}/data',
    `--web.listen-address=127.0.0.1:${port}`, '--config.file={dir}/prometheus.yml', ...extra], root, session);
  writeFileSync(path.join(child.dir, 'prometheus.yml'), '# No scrape jobs: the benchmark only remote-writes.\nglobal:\n  scrape_interval: 15s\n');
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const v = /version (\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? '';
  const s: Server = { name: 'prometheus', label: 'Prometheus', version: `prometheus ${v}`, child, writeUrl: `http://127.0.0.1:${port}/api/v1/write`, apiOrigin: `http://127.0.0.1:${port}`, rssAfterLoad: 0 };
  await waitReady(child.run, `${s.apiOrigin}/-/ready`, 60_000, child.name);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Queries

/** QuerySpec is one timed query. */
interface QuerySpec { id: string; title: string; path: string; params: Record<string, string>; selects: number; truth?: (r: PromResult) => string | undefined }

/** QueryTiming is what was measured of one query on one server. */
interface QueryTiming { ms: number[]; cpu: number[]; resultSeries: number; points: number; bytes: number }

/**
 * truthCheck compares a `sum by (cluster)(rate(x[5m]))` answer with the true rates the data was
 * built with: every point whose 5m window lies inside the data, and a point at `end`.
 */
function truthCheck(d: DataSet, end: number): (r: PromResult) => string | undefined {
  const want = expectedClusterRates(d);
  const fullFrom = d.t0 + 300_000;
  return (r) => {
    if (r.result.length !== Math.min(CLUSTERS, d.series)) return `${r.result.length} clusters, want ${Math.min(CLUSTERS, d.series)}`;
    for (const s of r.result) {
      const c = Number((s.metric['cluster'] ?? '').slice(1));
      const pts = s.values ?? (s.value ? [s.value] : []);
      const last = pts[pts.length - 1];
      if (!last || last[0] * 1000 !== end) return `cluster ${s.metric['cluster']}: last point at ${last?.[0]}, want ${end / 1000}`;
      const w = want[c] as number;
      for (const [t, v] of pts) {
        if (t * 1000 < fullFrom) continue;
        if (!(Math.abs(Number(v) - w) <= 1e-6 * Math.abs(w))) return `cluster ${s.metric['cluster']} at ${t}: rate ${v}, true value ${w}`;
      }
    }
    return undefined;
  };
}

/** SETTLE_* : a timed query starts once every server is quiet (see settle). */
const SETTLE_SLICE_MS = 250;
const SETTLE_MAX_CPU = 0.05;
const SETTLE_MAX_MS = 15_000;

/**
 * settle waits until every server's processes used under SETTLE_MAX_CPU of a core over one
 * SETTLE_SLICE_MS slice (at most SETTLE_MAX_MS): a query is then not timed against the other
 * server's background work (Prometheus' garbage collection after a heavy query, say). Returns the
 * time waited.
 */
async function settle(servers: readonly Server[]): Promise<number> {
  const t0 = performance.now();
  const pids = servers.map((s) => pidOf(s.child));
  while (performance.now() - t0 < SETTLE_MAX_MS) {
    const c0 = pids.map(treeCpuSeconds);
    await new Promise((r) => setTimeout(r, SETTLE_SLICE_MS));
    if (pids.every((p, i) => treeCpuSeconds(p) - c0[i]! < (SETTLE_MAX_CPU * SETTLE_SLICE_MS) / 1000)) break;
  }
  return performance.now() - t0;
}

/**
 * timedQuery runs one query, its answer counted but not parsed (QueryClient.time), and also
 * takes the server's CPU time around it (not timed itself).
 */
async function timedQuery(srv: Server, client: QueryClient, q: QuerySpec): Promise<{ ms: number; cpu: number; bytes: number }> {
  const pid = pidOf(srv.child);
  const c0 = treeCpuSeconds(pid);
  const r = await client.time(q.path, q.params);
  return { ...r, cpu: treeCpuSeconds(pid) - c0 };
}

// ---------------------------------------------------------------------------------------------
// Report


const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;

interface Report {
  env: EnvInfo; flags: Flags; data: { series: number; samples: number; t0: number; end: number };
  servers: Server[]; queries: QuerySpec[]; timings: Record<string, Record<string, QueryTiming>>; agreement: Record<string, string>;
  write?: {
    idle: WritePhase; loaded: WritePhase; rounds: { idle: WritePhase; loaded: WritePhase }[];
    stepMs: number; queriesDone: number[]; queryMs: number[]; queryErrors: number;
    /** Sluice's CPU and run-queue wait per thread group, and the generator's wait, idle and loaded. */
    threads: ThreadRow[];
  };
}

function renderReport(r: Report): string {
  const out: string[] = [];
  const f = r.flags;
  out.push(`### PromQL query latency: Sluice vs Prometheus, ${r.env.date}`, '');
  out.push(`- Machine: ${r.env.cpu}, ${r.env.cores} cores, ${r.env.ramGiB} GiB RAM, ${r.env.os}; Node.js ${r.env.node}`);
  out.push(`- Command: \`${r.env.command}\``);
  out.push(`- Servers started ${f.ownSession ? 'in sessions of their own (--own-session): the kernel\'s autogroups share the CPUs between each server and the load generator' : 'in the load generator\'s session (one kernel autogroup), so that a server\'s idle-priority work yields to the generator as it does to the server\'s own threads; --own-session gives each server its own'}.`);
  out.push(`- Data: ${fmtInt(r.data.series)} series of the counter \`${METRIC}\` (8 labels, ${CLUSTERS} clusters), ${r.data.samples} samples each at 15 s ` +
    `(${((r.data.samples - 1) * SCRAPE_MS / 3_600_000).toFixed(2)} h, ${fmtInt(r.data.series * r.data.samples)} samples), the same bytes sent to every server; ` +
    `loaded time-major, ${f.loadBatch} samples/request over ${f.loadConcurrency} connections.`);
  out.push(`- Queries: warmed once per server, then ${f.rounds} rounds alternating servers (order swapped every round), each query started once both servers are quiet (under ${SETTLE_MAX_CPU * 100}% of a core over ${SETTLE_SLICE_MS} ms, waited at most ${SETTLE_MAX_MS / 1000} s); latency = request sent to last byte of the answer; ` +
    'CPU = utime+stime of the server\'s processes over the query.', '');
  out.push('| server | version | load time | load samples/s | RSS after load |', '|---|---|--:|--:|--:|');
  for (const s of r.servers) {
    out.push(`| ${s.label} | ${s.version} | ${s.load ? `${s.load.seconds.toFixed(1)} s` : '—'} | ${s.load ? fmtInt(s.load.samples / s.load.seconds) : '—'} | ${s.rssAfterLoad ? mib(s.rssAfterLoad) : '—'} |`);
  }
  out.push('');
  const hasProm = r.servers.some((s) => s.name === 'prometheus');
  out.push('| query | series selected → returned | points | Sluice median ms | Sluice p90 ms | Sluice CPU s | Prometheus median ms | Prometheus p90 ms | Prometheus CPU s | Sluice / Prometheus (median) | answers |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const q of r.queries) {
    const s = r.timings[q.id]?.['sluice'];
    const p = r.timings[q.id]?.['prometheus'];
    if (!s) continue;
    const cell = (t: QueryTiming | undefined, k: 'med' | 'p90' | 'cpu'): string => {
      if (!t) return '—';
      if (k === 'cpu') return quantileOf(t.cpu, 0.5).toFixed(2);
      return fmtMs(quantileOf(t.ms, k === 'med' ? 0.5 : 0.9));
    };
    const ratio = p ? (quantileOf(s.ms, 0.5) / quantileOf(p.ms, 0.5)).toFixed(2) : '—';
    out.push(`| ${q.title.replace(/\|/g, '\\|')} | ${fmtInt(q.selects)} → ${fmtInt(s.resultSeries)} | ${fmtInt(s.points)} | ${cell(s, 'med')} | ${cell(s, 'p90')} | ${cell(s, 'cpu')} | ` +
      `${cell(p, 'med')} | ${cell(p, 'p90')} | ${cell(p, 'cpu')} | ${ratio} | ${r.agreement[q.id] ?? '—'} |`);
  }
  if (!hasProm) out.push('', 'Prometheus skipped (--skip-prom): no ratio.');
  if (r.write) {
    const w = r.write;
    const { idle, loaded } = w;
    const ratio = (a: number, b: number): string => `${(a / Math.max(b, 1e-9)).toFixed(2)}×`;
    out.push('', `Remote-write into Sluice while queries run: ${fmtInt(f.writeRate)} samples/s target, ${f.writeBatch} series/request ` +
      `(one fresh sample each, ${w.stepMs / 1000} s apart in sample time), ${f.writeConcurrency} connections, paced; ` +
      `${w.rounds.length} rounds of ${f.writeSeconds} s idle, then ${f.writeSeconds} s while ${f.queriers} clients loop query (a) ` +
      '(the queries still running when a loaded phase ends are dropped, and Sluice cancels them); the idle phases pooled against the loaded ones.', '');
    out.push('| phase | samples/s acked | requests | p50 ms | p90 ms | p99 ms | max ms | sent late | p50 / p99 ms from schedule | query (a) runs done | query (a) median ms |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    out.push(`| idle | ${fmtInt(idle.samples / idle.seconds)} | ${fmtInt(idle.requests)} | ${fmtMs(idle.p50)} | ${fmtMs(idle.p90)} | ${fmtMs(idle.p99)} | ${fmtMs(idle.max)} | ${idle.late} | ${fmtMs(idle.schedP50)} / ${fmtMs(idle.schedP99)} | — | — |`);
    out.push(`| ${f.queriers} queries looping | ${fmtInt(loaded.samples / loaded.seconds)} | ${fmtInt(loaded.requests)} | ${fmtMs(loaded.p50)} | ${fmtMs(loaded.p90)} | ${fmtMs(loaded.p99)} | ${fmtMs(loaded.max)} | ${loaded.late} | ${fmtMs(loaded.schedP50)} / ${fmtMs(loaded.schedP99)} | ` +
      `${w.queriesDone.reduce((a, b) => a + b, 0)}${w.queryErrors ? ` (+${w.queryErrors} failed)` : ''} | ${w.queryMs.length ? fmtMs(quantileOf(w.queryMs, 0.5)) : '—'} |`);
    out.push('', `Write p99 loaded / idle: **${ratio(loaded.p99, idle.p99)}** (p50: ${ratio(loaded.p50, idle.p50)}; ` +
      `from schedule: p99 ${ratio(loaded.schedP99, idle.schedP99)}). Per round, p99 idle → loaded: ` +
      `${w.rounds.map((x) => `${fmtMs(x.idle.p99)} → ${fmtMs(x.loaded.p99)} ms (${ratio(x.loaded.p99, x.idle.p99)}, max ${fmtMs(x.idle.max)} / ${fmtMs(x.loaded.max)})`).join('; ')}. ` +
      'Latency per request from sending to the end of the response; ' +
      '"from schedule" counts from when the paced request was due, so time spent waiting for one of the connections is included; "sent late": requests that had to wait.', '');
    out.push('Sluice\'s threads in the write phases (pooled like the latencies; /proc/<pid>/task every 100 ms): CPU by group, and how long each group\'s threads were runnable without a CPU (schedstat run-queue wait; the generator\'s own too, since it times the requests).', '');
    out.push(...threadTables(w.threads));
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: npm run bench:query -- [--series 100000] [--rounds 5] [--skip-prom] [--sluice-args '--flag=x ...']
         [--prom-args '--flag=x ...'] [--samples 480] [--seed 1] [--load-batch 5000] [--load-concurrency 4]
         [--write-seconds 20] [--write-rounds 3] [--write-rate 100000] [--write-batch 1000] [--write-concurrency 4] [--queriers 4]
         [--skip-write] [--own-session] [--prometheus-bin /usr/bin/prometheus] [--out FILE.md] [--json]

--own-session runs the servers in sessions of their own (setsid): the kernel's autogroups then
share the CPUs between them and this load generator (lib/children.ts Session).`;

interface Flags {
  series: number; rounds: number; samples: number; seed: number; loadBatch: number; loadConcurrency: number;
  writeSeconds: number; writeRounds: number; writeRate: number; writeBatch: number; writeConcurrency: number; queriers: number;
  skipProm: boolean; skipWrite: boolean; ownSession: boolean; sluiceArgs: string[]; promArgs: string[]; promBin: string; out: string | undefined; json: boolean;
}

function parseFlags(argv: string[]): Flags | undefined {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      series: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' }, samples: { type: 'string', default: '480' },
      seed: { type: 'string', default: '1' }, 'load-batch': { type: 'string', default: '5000' }, 'load-concurrency': { type: 'string', default: '4' },
      'write-seconds': { type: 'string', default: '20' }, 'write-rounds': { type: 'string', default: '3' }, 'write-rate': { type: 'string', default: '100000' }, 'write-batch': { type: 'string', default: '1000' },
      'write-concurrency': { type: 'string', default: '4' }, queriers: { type: 'string', default: '4' },
      'skip-prom': { type: 'boolean', default: false }, 'skip-write': { type: 'boolean', default: false }, 'own-session': { type: 'boolean', default: false },
      'sluice-args': { type: 'string', default: '' }, 'prom-args': { type: 'string', default: '' },
      'prometheus-bin': { type: 'string', default: '/usr/bin/prometheus' }, out: { type: 'string' }, json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) return undefined;
  const int = intFlag;
  return {
    series: int('series', v.series, 1, 10_000_000), rounds: int('rounds', v.rounds, 1, 1000), samples: int('samples', v.samples, 22, 700),
    seed: int('seed', v.seed, 0, 2 ** 32 - 1), loadBatch: int('load-batch', v['load-batch'], 1, 100_000),
    loadConcurrency: int('load-concurrency', v['load-concurrency'], 1, 64), writeSeconds: int('write-seconds', v['write-seconds'], 1, 3600),
    writeRounds: int('write-rounds', v['write-rounds'], 1, 100),
    writeRate: int('write-rate', v['write-rate'], 1, 10_000_000), writeBatch: int('write-batch', v['write-batch'], 1, 100_000),
    writeConcurrency: int('write-concurrency', v['write-concurrency'], 1, 64), queriers: int('queriers', v.queriers, 0, 64),
    skipProm: v['skip-prom'], skipWrite: v['skip-write'], ownSession: v['own-session'], sluiceArgs: v['sluice-args'].split(/\s+/).filter(Boolean),
    promArgs: v['prom-args'].split(/\s+/).filter(Boolean), promBin: v['prometheus-bin'], out: v.out, json: v.json,
  };
}

/** benchEnd is the data's last timestamp for a run started at `now` (see run()). */
export function benchEnd(now: number): number {
  const latest = Math.floor(now / SCRAPE_MS) * SCRAPE_MS;
  const lastBoundary = Math.floor(latest / BLOCK_MS) * BLOCK_MS;
  return Math.min(latest, lastBoundary + NO_CUT_MS);
}

/** BLOCK_MS is Sluice's default block duration; NO_CUT_MS how far past its boundary the data may end. */
const BLOCK_MS = 2 * 3_600_000;
const NO_CUT_MS = 40 * 60_000;

async function run(f: Flags, env: EnvInfo, signal: AbortSignal): Promise<{ report: Report; ok: boolean }> {
  // The last sample is at the latest 15 s boundary, so the data ends "now" and both heads accept it;
  // but never more than 40 min past a 2 h boundary. Sluice cuts a block once its head spans 1.5
  // block durations past the 2 h boundary before its oldest sample (Prometheus' rule): with 2 h of
  // data ending later than 1 h past a boundary, plus the write phase's 15 min, it would cut during
  // the run, and what was timed (head alone, or head and a block; a cut running or not) would
  // depend on the hour the benchmark was started.
  const end = benchEnd(Date.now());
  console.error(`preparing ${fmtInt(f.series)} series × ${f.samples} samples ...`);
  const d = makeDataSet(f.series, f.seed, f.samples, end);
  const loadTpls = makeTemplates(d, f.loadBatch);
  const root = findRepoRoot();
  const session: Session = f.ownSession ? 'own' : 'shared';
  const servers: Server[] = [await startSluice(root, f.sluiceArgs, session)];
  if (!f.skipProm) {
    if (!existsSync(f.promBin)) throw new Error(`${f.promBin} not found (install prometheus, pass --prometheus-bin, or --skip-prom)`);
    servers.push(await startPrometheus(f.promBin, root, f.promArgs, session));
  }
  const report: Report = { env, flags: f, data: { series: d.series, samples: d.samples, t0: d.t0, end }, servers, queries: [], timings: {}, agreement: {} };
  let ok = true;

  // 1. Load, one server at a time (the other idles).
  for (const s of servers) {
    console.error(`loading ${s.label} (${fmtInt(d.series * d.samples)} samples) ...`);
    s.load = await bulkLoad(s.writeUrl, d, loadTpls, f.loadConcurrency,
      (p) => console.error(`   ${p.elapsedSec.toFixed(0)} s: step ${p.step}/${d.samples}, ${fmtInt(p.samples / p.elapsedSec)} samples/s`), signal);
    s.rssAfterLoad = treeRssBytes(pidOf(s.child));
    console.error(`   ${s.load.seconds.toFixed(1)} s, ${fmtInt(s.load.samples / s.load.seconds)} samples/s, ${s.load.retries} retries, RSS ${mib(s.rssAfterLoad)}`);
    if (gone(s.child)) throw new Error(`${s.label} died during the load:\n${tailOf(s.child)}`);
  }

  // 2. Every sample must be there: count(x) = N and the samples over the loaded range = N × S.
  const clients = new Map(servers.map((s) => [s.name, new QueryClient(s.label, s.apiOrigin, 1)]));
  const tEnd = String(end / 1000);
  const span = `${Math.ceil(((d.samples - 1) * SCRAPE_MS) / 60_000) + 1}m`;
  for (const s of servers) {
    const c = clients.get(s.name) as QueryClient;
    const n = await c.run('/api/v1/query', { query: `count(${METRIC})`, time: tEnd });
    const m = await c.run('/api/v1/query', { query: `sum(count_over_time(${METRIC}[${span}]))`, time: tEnd });
    const got = [Number(n.data.result[0]?.value?.[1] ?? 0), Number(m.data.result[0]?.value?.[1] ?? 0)];
    console.error(`   ${s.label}: count(x) = ${fmtInt(got[0] as number)}, samples = ${fmtInt(got[1] as number)} (${fmtMs(m.ms)} ms)`);
    if (got[0] !== d.series || got[1] !== d.series * d.samples) throw new Error(`${s.label} does not hold the data: ${got.join(', ')}; want ${d.series}, ${d.series * d.samples}`);
  }

  // 3. Queries: warm once per server, check the answers, then alternate servers R rounds.
  const panel = panelSelector(d.series);
  const rangeParams = { start: String((end - 2 * 3_600_000) / 1000), end: tEnd, step: '15' };
  const sumQ = `sum by (cluster)(rate(${METRIC}[5m]))`;
  const queries: QuerySpec[] = [
    { id: 'a', title: `(a) \`${sumQ}\`, 2h range, step 15s`, path: '/api/v1/query_range', params: { query: sumQ, ...rangeParams }, selects: d.series, truth: truthCheck(d, end) },
    { id: 'b', title: `(b) panel \`rate(${panel.selector}[5m])\`, 2h range, step 15s`, path: '/api/v1/query_range', params: { query: `rate(${panel.selector}[5m])`, ...rangeParams }, selects: panel.series },
    { id: 'c', title: `(c) \`${sumQ}\`, instant`, path: '/api/v1/query', params: { query: sumQ, time: tEnd }, selects: d.series, truth: truthCheck(d, end) },
  ];
  report.queries = queries;
  const ignore = new Set(['tenant_id']);
  for (const q of queries) {
    console.error(`query ${q.title}`);
    const answers: PromResult[] = [];
    const t: Record<string, QueryTiming> = {};
    for (const s of servers) {
      // The warm-up run's answer is parsed and checked; the timed runs' are only counted.
      const w = await (clients.get(s.name) as QueryClient).run(q.path, q.params);
      answers.push(w.data);
      t[s.name] = { ms: [], cpu: [], resultSeries: w.data.result.length, points: pointCount(w.data), bytes: w.bytes };
      console.error(`   warm-up ${s.label}: ${fmtMs(w.ms)} ms, ${w.data.result.length} series, ${fmtInt(pointCount(w.data))} points, ${fmtInt(w.bytes)} B`);
      const bad = q.truth?.(w.data);
      if (bad) { ok = false; console.error(`   WRONG ANSWER from ${s.label}: ${bad}`); }
    }
    const diff = answers.length === 2 ? compareResults(answers[0] as PromResult, answers[1] as PromResult, ignore) : undefined;
    if (q.id === 'b' && (answers[0]?.result.length ?? 0) !== panel.series) {
      ok = false;
      report.agreement[q.id] = `returned ${answers[0]?.result.length ?? 0} series, want ${panel.series}`;
    } else if (diff) {
      ok = false;
      report.agreement[q.id] = `DIFFER: ${diff.replace(/\|/g, '\\|').slice(0, 200)}`;
    } else {
      report.agreement[q.id] = answers.length === 2 ? (q.truth ? 'agree, = true rates' : 'agree') : (q.truth ? '= true rates' : 'series count as built');
    }
    console.error(`   answers: ${report.agreement[q.id]}`);
    for (let round = 0; round < f.rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        await settle(servers);
        const w = await timedQuery(s, clients.get(s.name) as QueryClient, q);
        const tt = t[s.name] as QueryTiming;
        tt.ms.push(w.ms);
        tt.cpu.push(w.cpu);
      }
      if (signal.aborted) throw new Error('interrupted');
    }
    report.timings[q.id] = t;
    console.error(`   ${servers.map((s) => `${s.label} ${(t[s.name] as QueryTiming).ms.map(fmtMs).join(', ')} ms`).join('; ')}`);
  }
  for (const c of clients.values()) await c.close();

  // 4. Remote-write latency of Sluice, idle and while queries loop (Prometheus is stopped first).
  // Its data dir stays until the end: removing ~1 GB here made the filesystem (ext4 mounted with
  // `discard` on these machines) discard the freed blocks during the write phase, and Sluice's WAL
  // fsyncs waited behind the discards (seen with perf sched: fsync in blkdev_issue_discard's wake).
  for (const s of servers.slice(1)) await stopChild(s.child.run);
  spawnSync('sync');
  if (!f.skipWrite) {
    const sluice = servers[0] as Server;
    const writeTpls = makeTemplates(d, f.writeBatch);
    const warm = 3;
    const R = f.writeRounds;
    // Keep the written sample time short (≤ 15 min) so the head never spans enough to cut a block.
    const rounds = Math.ceil((f.writeRate * (warm + 2 * R * f.writeSeconds)) / d.series);
    const stepMs = Math.max(1, Math.min(SCRAPE_MS, Math.floor(900_000 / rounds)));
    const qa = queries[0] as QuerySpec;
    const queriesDone: number[] = new Array(f.queriers).fill(0);
    const queryMs: number[] = [];
    let queryErrors = 0;
    /** The query loops of the loaded phase under way: stopped (their queries dropped) when it ends. */
    let loaded: { stop: boolean; qc: QueryClient; loops: Array<Promise<void>> } | undefined;
    const endLoaded = async (): Promise<void> => {
      const l = loaded;
      if (l === undefined) return;
      loaded = undefined;
      l.stop = true;
      // Dropping the connections makes Sluice cancel the queries they carried (499).
      await l.qc.abort();
      await Promise.all(l.loops);
    };
    const startLoaded = (): void => {
      const l = { stop: false, qc: new QueryClient('Sluice', sluice.apiOrigin, Math.max(1, f.queriers)), loops: [] as Array<Promise<void>> };
      for (let k = 0; k < f.queriers; k++) {
        l.loops.push((async () => {
          while (!l.stop) {
            try {
              const r = await l.qc.run(qa.path, qa.params);
              queryMs.push(r.ms);
              queriesDone[k] = (queriesDone[k] as number) + 1;
            } catch (err) {
              if (l.stop) return;
              queryErrors++;
              console.error(`   query loop ${k}: ${err instanceof Error ? err.message : String(err)}`);
              await sleep(1000);
            }
          }
        })());
      }
      loaded = l;
    };
    console.error(`remote-write into Sluice: ${fmtInt(f.writeRate)} samples/s, ${warm} s warm-up, then ${R} × (${f.writeSeconds} s idle, ${f.writeSeconds} s with ${f.queriers} query loops)`);
    let records: PhaseRecord[];
    const cpu = new ThreadCpu(pidOf(sluice.child));
    const self = new ThreadCpu(process.pid);
    /** Start of each phase (epoch ms, as ThreadCpu keeps time), and the end of the last. */
    const phaseAt: number[] = [];
    const nowMs = (): number => performance.timeOrigin + performance.now();
    try {
      records = await pacedWriter(d, writeTpls, {
        url: sluice.writeUrl, rate: f.writeRate, concurrency: f.writeConcurrency, startMs: end + stepMs, stepMs,
        phases: [warm, ...Array.from({ length: 2 * R }, () => f.writeSeconds)], signal,
        onPhase: (p) => {
          phaseAt[p] = nowMs();
          const isLoaded = p % 2 === 0;
          console.error(`   round ${Math.ceil(p / 2)}: ${isLoaded ? `${f.queriers} query loops` : 'idle'}`);
          if (isLoaded) startLoaded();
          else void endLoaded();
        },
      });
    } finally {
      phaseAt[2 * R + 1] = nowMs();
      await endLoaded();
      await sleep(150); // one more sample past the last phase
      cpu.stop();
      self.stop();
    }
    const windows = (loadedPhases: boolean): [number, number][] => Array.from({ length: R }, (_, i) => 2 * i + (loadedPhases ? 2 : 1))
      .map((p): [number, number] => [phaseAt[p] as number, phaseAt[p + 1] as number]);
    const threadRow = (name: string, ws: [number, number][]): ThreadRow => ({ name, cpu: cpu.coresOver(ws), wait: cpu.waitOver(ws), genWait: sumGroups(self.waitOver(ws)) });
    const idleRecs = records.filter((_, p) => p > 0 && p % 2 === 1);
    const loadedRecs = records.filter((_, p) => p > 0 && p % 2 === 0);
    report.write = {
      idle: summarizePhases(idleRecs), loaded: summarizePhases(loadedRecs),
      rounds: idleRecs.map((r, i) => ({ idle: summarizePhases([r]), loaded: summarizePhases([loadedRecs[i] as PhaseRecord]) })),
      stepMs, queriesDone, queryMs, queryErrors,
      threads: [threadRow('idle', windows(false)), threadRow(`${f.queriers} queries looping`, windows(true))],
    };
    console.error(`   idle p99 ${fmtMs(report.write.idle.p99)} ms, loaded p99 ${fmtMs(report.write.loaded.p99)} ms`);
  }
  if (servers[0] !== undefined && gone(servers[0].child)) throw new Error(`Sluice died:\n${tailOf(servers[0].child)}`);
  await stopNamed((servers[0] as Server).child);
  for (const s of servers.slice(1)) await stopNamed(s.child);
  return { report, ok };
}

async function main(argv: string[]): Promise<number> {
  const f = parseFlags(argv);
  if (!f) { console.log(USAGE); return 0; }
  const env = envInfo(['node', 'dist/loadtest/query.js', ...argv]);
  console.error(`machine: ${env.cpu}, ${env.cores} cores, ${env.ramGiB} GiB RAM; node ${env.node}; ${env.date}`);
  const ac = new AbortController();
  stopOnSignals(ac, 'servers');
  try {
    const { report, ok } = await run(f, env, ac.signal);
    const md = renderReport(report);
    if (f.json) console.log(JSON.stringify({ ...report, servers: report.servers.map(({ child: _c, ...s }) => s), queries: report.queries.map(({ truth: _t, ...q }) => q) }, null, 2));
    else console.log(`\n${md}`);
    if (f.out) { writeFileSync(f.out, `${md}\n`); console.error(`wrote ${f.out}`); }
    return ok ? 0 : 1;
  } finally {
    for (const r of [...live]) await stopChild(r).catch(() => undefined);
  }
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => { console.error(err instanceof Error ? err.message : String(err)); cleanupAllSync(); process.exitCode = 2; },
  );
}
