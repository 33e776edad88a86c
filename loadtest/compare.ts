/**
 * Side-by-side ingestion benchmark: Sluice, Prometheus, VictoriaMetrics and a no-op server take
 * the same remote-write load, one after the other, on loopback.
 *
 *   npm run bench:compare -- [--series 100000] [--rounds N | --duration S] [--batch 500]
 *     [--concurrency 8] [--tenants 1] [--labels 8] [--only sluice,prometheus,victoria-metrics,noop]
 *     [--out docs/benchmarks.md-fragment.md] [--json]
 *
 * For each target: start it as a child process (own process group) with a fresh temp data dir,
 * wait until its ready endpoint answers 200, sample its idle RSS, warm up with round 0 (which
 * creates every series), then send the measured rounds (1..N, or for S seconds) while sampling
 * the RSS of the target and all its descendants every 250 ms, then stop it and delete its data.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { envInfo, type EnvInfo } from './lib/env.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cleanupAllSync, freePort, killTree, live, logTail, sleep, startChild, stopChild, tempDirs, treeCpuSeconds, treeRssBytes, waitReady,
} from './lib/children.js';
import { formatResult, isMainModule, prepareLoad, resolveOptions, runLoad, verifyPrepared, type LoadOptions, type LoadResult } from './generator.js';
import { NODE_FLAGS } from '../src/util/nodeFlags.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGETS = ['noop', 'sluice', 'prometheus', 'victoria-metrics'] as const;
type TargetName = (typeof TARGETS)[number];

/** findRepoRoot walks up from this file to the first directory holding package.json. */
export function findRepoRoot(from: string = HERE): string {
  let dir = from;
  for (let i = 0; i < 10; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`package.json not found above ${from}`);
}

function findBinary(name: string, fallbacks: string[], override?: string): string | undefined {
  if (override !== undefined) {
    try { accessSync(override, constants.X_OK); return override; } catch { return undefined; }
  }
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const p of [...dirs.map((d) => path.join(d, name)), ...fallbacks]) {
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
}
function debVersion(pkg: string): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : '';
}


// ---------------------------------------------------------------------------------------------
// Targets

interface Launch { cmd: string; args: string[]; writeUrl: string; readyUrl: string; version: string }
type Prepared = Launch | { skip: string };

interface TargetCtx { dataDir: string; workDir: string; root: string; sluiceArgs: string[]; bins: Record<string, string | undefined> }

async function launchFor(name: TargetName, ctx: TargetCtx): Promise<Prepared> {
  switch (name) {
    case 'noop': {
      const port = await freePort();
      const script = path.join(HERE, 'noop-server.js');
      if (!existsSync(script)) return { skip: `${script} not found: build first (npm run build)` };
      return {
        cmd: process.execPath, args: [script, '--host', '127.0.0.1', '--port', String(port)],
        writeUrl: `http://127.0.0.1:${port}/api/v1/write`, readyUrl: `http://127.0.0.1:${port}/-/ready`, version: 'uWebSockets.js',
      };
    }
    case 'sluice': {
      const bin = path.join(ctx.root, 'bin', 'sluice.js');
      const cli = path.join(ctx.root, 'dist', 'src', 'cli.js');
      if (!existsSync(bin)) return { skip: `${bin} not found` };
      if (!existsSync(cli)) return { skip: `${cli} not found: run \`npm run build\` first` };
      const [rw, http, grpc] = [await freePort(), await freePort(), await freePort()];
      let version = '';
      try { version = (JSON.parse(readFileSync(path.join(ctx.root, 'package.json'), 'utf8')) as { version?: string }).version ?? ''; } catch { /* none */ }
      return {
        cmd: process.execPath,
        args: [...NODE_FLAGS, bin, 'receive', `--tsdb.path=${ctx.dataDir}`, `--remote-write.address=127.0.0.1:${rw}`,
          `--http-address=127.0.0.1:${http}`, `--grpc-address=127.0.0.1:${grpc}`, ...ctx.sluiceArgs],
        writeUrl: `http://127.0.0.1:${rw}/api/v1/receive`, readyUrl: `http://127.0.0.1:${http}/-/ready`, version: `sluice ${version}`,
      };
    }
    case 'prometheus': {
      const bin = ctx.bins['prometheus'];
      if (!bin) return { skip: 'prometheus not found. Install it with:  sudo apt-get install -y prometheus   (or pass --prometheus-bin PATH)' };
      const port = await freePort();
      const config = path.join(ctx.workDir, 'prometheus.yml');
      writeFileSync(config, '# No scrape jobs: the benchmark only remote-writes.\nglobal:\n  scrape_interval: 15s\n');
      return {
        cmd: bin,
        args: ['--web.enable-remote-write-receiver', `--storage.tsdb.path=${ctx.dataDir}`,
          `--web.listen-address=127.0.0.1:${port}`, `--config.file=${config}`],
        writeUrl: `http://127.0.0.1:${port}/api/v1/write`, readyUrl: `http://127.0.0.1:${port}/-/ready`,
        version: firstLine(bin, ['--version']).replace(/^prometheus, version /, 'prometheus ').replace(/ \(branch.*$/, '') || `prometheus ${debVersion('prometheus')}`,
      };
    }
    case 'victoria-metrics': {
      const bin = ctx.bins['victoria-metrics'];
      if (!bin) return { skip: 'victoria-metrics not found. Install it with:  sudo apt-get install -y victoria-metrics   (or pass --victoria-metrics-bin PATH)' };
      const port = await freePort();
      const v = firstLine(bin, ['-version']) || debVersion('victoria-metrics');
      return {
        cmd: bin,
        args: [`-storageDataPath=${ctx.dataDir}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=1y'],
        writeUrl: `http://127.0.0.1:${port}/api/v1/write`, readyUrl: `http://127.0.0.1:${port}/health`,
        version: `victoria-metrics ${v}`.trim(),
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One target

/** TargetResult is one row of the comparison. */
export interface TargetResult {
  target: TargetName;
  version: string;
  skipped?: string;
  failed?: string;
  warmup?: LoadResult;
  load?: LoadResult;
  rssIdle: number;
  rssMax: number;
  rssEnd: number;
  /** CPU time of the target's process tree during the measured phase. */
  cpuSeconds: number;
  series: number;
}

async function runTarget(name: TargetName, load: LoadOptions, prep: ReturnType<typeof prepareLoad>, ctx: Omit<TargetCtx, 'dataDir' | 'workDir'>, signal: AbortSignal): Promise<TargetResult> {
  const res: TargetResult = { target: name, version: '', rssIdle: 0, rssMax: 0, rssEnd: 0, cpuSeconds: 0, series: load.series };
  const workDir = mkdtempSync(path.join(os.tmpdir(), `sluice-bench-${name}-`));
  tempDirs.add(workDir);
  const dataDir = path.join(workDir, 'data');
  const launch = await launchFor(name, { ...ctx, dataDir, workDir });
  if ('skip' in launch) {
    res.skipped = launch.skip;
    rmSync(workDir, { recursive: true, force: true });
    tempDirs.delete(workDir);
    return res;
  }
  res.version = launch.version;
  const logFile = path.join(workDir, 'target.log');
  console.error(`\n== ${name}: ${[launch.cmd, ...launch.args].join(' ')}`);
  const run = startChild(launch.cmd, launch.args, logFile, ctx.root);
  let sampler: NodeJS.Timeout | undefined;
  try {
    await waitReady(run, launch.readyUrl, 60_000);
    await sleep(1000);
    const pid = run.child.pid as number;
    res.rssIdle = treeRssBytes(pid);
    res.rssMax = res.rssIdle;
    sampler = setInterval(() => { const v = treeRssBytes(pid); if (v > res.rssMax) res.rssMax = v; }, 250);
    console.error(`   ready; idle RSS ${mib(res.rssIdle)}; warm-up: round 0 creates ${load.series.toLocaleString('en-US')} series`);
    res.warmup = await runLoad({ ...load, url: launch.writeUrl, rounds: 1, startRound: 0, durationSec: 0 }, prep, { signal });
    if (signal.aborted) throw new Error('interrupted');
    console.error(`   warm-up ${Math.round(res.warmup.samplesPerSec).toLocaleString('en-US')} samples/s; measuring ${load.durationSec > 0 ? `${load.durationSec} s` : `${load.rounds} rounds`}`);
    const cpu0 = treeCpuSeconds(pid);
    res.load = await runLoad({ ...load, url: launch.writeUrl, startRound: 1 }, prep, {
      signal,
      onProgress: (p) => console.error(`   ${p.elapsedSec.toFixed(0)} s: ${p.ackedSamples.toLocaleString('en-US')} samples acked`),
      progressIntervalMs: 10_000,
    });
    res.rssEnd = treeRssBytes(pid);
    res.cpuSeconds = treeCpuSeconds(pid) - cpu0;
    if (res.rssEnd > res.rssMax) res.rssMax = res.rssEnd;
    console.error(formatResult(res.load).split('\n').map((l) => `   ${l}`).join('\n'));
    if (run.hasExited()) throw new Error(`exited during the run (code ${String(run.child.exitCode)})`);
  } catch (err) {
    res.failed = err instanceof Error ? err.message : String(err);
    console.error(`   FAILED: ${res.failed}\n   last lines of ${name}'s log:\n${logTail(logFile)}`);
  } finally {
    if (sampler) clearInterval(sampler);
    await stopChild(run);
    rmSync(workDir, { recursive: true, force: true });
    tempDirs.delete(workDir);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Report

function mib(b: number): string { return `${(b / 1048576).toFixed(0)} MiB`; }
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function ratio(a: TargetResult, b: TargetResult | undefined): string {
  if (!b || !b.load || !a.load || b === a || b.load.samplesPerSec <= 0 || b.rssEnd <= 0) return '—';
  return `${(a.load.samplesPerSec / b.load.samplesPerSec).toFixed(2)}× thr, ${(a.rssEnd / b.rssEnd).toFixed(2)}× RSS`;
}

/** renderReport builds the markdown (also printed to stdout). */
export function renderReport(results: TargetResult[], load: LoadOptions, env: EnvInfo): string {
  const prom = results.find((r) => r.target === 'prometheus' && r.load);
  const vm = results.find((r) => r.target === 'victoria-metrics' && r.load);
  const mode = load.durationSec > 0 ? `${load.durationSec} s` : `${load.rounds} rounds`;
  const out: string[] = [];
  out.push(`### Remote-write ingestion, ${env.date}`);
  out.push('');
  out.push(`- Machine: ${env.cpu}, ${env.cores} cores, ${env.ramGiB} GiB RAM, ${env.os}`);
  out.push(`- Node.js ${env.node}`);
  out.push(`- Command: \`${env.command}\``);
  out.push(`- Load: ${fmtInt(load.series)} active series × ${load.labels} labels, ${load.batch} series/request, ${load.concurrency} connections` +
    ` (1 request in flight each), ${load.tenants} tenant${load.tenants > 1 ? 's' : ''}, snappy+protobuf remote-write 1.0;` +
    ` warm-up = round 0 (creates every series), measured = ${mode} (one sample per series per round, 15 s apart in sample time).`);
  out.push('- Targets run one at a time on loopback, each with a fresh data dir; the load generator runs in the same Node.js process as this harness.');
  out.push('');
  out.push('| target | version | samples/s | warm-up samples/s | p50 ms | p99 ms | errors | RSS idle | RSS max | RSS end | RSS end / series | target CPU | CPU µs / sample | generator CPU | vs Prometheus | vs VictoriaMetrics |');
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|');
  for (const r of results) {
    if (r.skipped) { out.push(`| ${r.target} | — | skipped: ${r.skipped.replace(/\|/g, '\\|')} ||||||||||||||`); continue; }
    if (!r.load || !r.warmup) { out.push(`| ${r.target} | ${r.version} | failed: ${(r.failed ?? '').replace(/\|/g, '\\|').slice(0, 120)} ||||||||||||||`); continue; }
    const errs = Object.values(r.load.errors).reduce((a, b) => a + b, 0) + Object.values(r.warmup.errors).reduce((a, b) => a + b, 0);
    const retries = r.load.retries + r.warmup.retries;
    out.push(`| ${r.target} | ${r.version} | ${fmtInt(r.load.samplesPerSec)} | ${fmtInt(r.warmup.samplesPerSec)} | ${fmtMs(r.load.latencyMs.p50)} | ${fmtMs(r.load.latencyMs.p99)} | ` +
      `${errs}${retries ? ` (+${retries} retries)` : ''} | ${mib(r.rssIdle)} | ${mib(r.rssMax)} | ${mib(r.rssEnd)} | ${fmtInt(r.rssEnd / r.series)} B (Δ ${fmtInt((r.rssEnd - r.rssIdle) / r.series)} B) | ` +
      `${(r.cpuSeconds / r.load.wallSeconds).toFixed(2)} cores | ${(r.cpuSeconds * 1e6 / Math.max(r.load.ackedSamples, 1)).toFixed(2)} | ` +
      `${(r.load.clientCpuSeconds / r.load.wallSeconds).toFixed(2)} cores | ` +
      `${r.target === 'prometheus' ? '1.00×' : ratio(r, prom)} | ${r.target === 'victoria-metrics' ? '1.00×' : ratio(r, vm)} |`);
  }
  out.push('');
  out.push('samples/s: acknowledged (2xx) samples / wall time of the measured phase. p50/p99: per HTTP attempt, request sent to response read.' +
    ' RSS: VmRSS summed over the target process and its children, sampled every 250 ms; "end" is right after the last request;' +
    ' RSS end / series divides it by the active series (Δ: RSS end minus idle RSS, per series).' +
    ' target CPU: CPU time of the target\'s processes during the measured phase / wall time (cores busy); CPU µs / sample is the same per acknowledged sample.' +
    ' generator CPU: the load generator\'s own CPU (it shares the machine with the target).' +
    ' Ratios: samples/s and RSS end relative to that target. The noop row is the generator\'s own ceiling on this machine.');
  return out.join('\n');
}


// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: npm run bench:compare -- [--series 100000] [--rounds 20 | --duration S] [--batch 500]
         [--concurrency 8] [--tenants 1] [--labels 8] [--seed 1]
         [--only ${TARGETS.join(',')}] [--out FILE.md] [--json]
         [--prometheus-bin PATH] [--victoria-metrics-bin PATH] [--sluice-args '--flag=x --flag2=y']`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      series: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '20' },
      duration: { type: 'string' },
      batch: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '8' },
      tenants: { type: 'string', default: '1' },
      labels: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
      only: { type: 'string', default: TARGETS.join(',') },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      'prometheus-bin': { type: 'string' },
      'victoria-metrics-bin': { type: 'string' },
      'sluice-args': { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) { console.log(USAGE); return 0; }
  const only = values.only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of only) if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`--only: unknown target ${t} (known: ${TARGETS.join(', ')})`);
  const order = TARGETS.filter((t) => only.includes(t));

  const load = resolveOptions({
    url: 'http://127.0.0.1:1/',
    series: Number(values.series),
    rounds: Number(values.rounds),
    durationSec: values.duration !== undefined ? Number(values.duration) : 0,
    batch: Number(values.batch),
    concurrency: Number(values.concurrency),
    tenants: Number(values.tenants),
    labels: Number(values.labels),
    seed: Number(values.seed),
  });
  const script = process.argv[1] ? path.relative(process.cwd(), process.argv[1]) || process.argv[1] : 'compare.js';
  const env = envInfo(['node', script, ...argv]);
  console.error(`machine: ${env.cpu}, ${env.cores} cores, ${env.ramGiB} GiB RAM; node ${env.node}; ${env.date}`);
  console.error(`command: ${env.command}`);

  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    console.error(`\n${sig}: stopping targets`);
    ac.abort();
    const waits = [...live].map((r) => r.exited);
    for (const r of live) killTree(r, 'SIGKILL');
    // Reap the killed children (bounded wait), then remove temp dirs and leave.
    void Promise.race([Promise.all(waits), sleep(3000)]).then(() => {
      cleanupAllSync();
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanupAllSync);

  console.error(`preparing ${fmtInt(load.series)} series × ${load.labels} labels in batches of ${load.batch} ...`);
  const prep = prepareLoad(load);
  verifyPrepared(prep, load, 1);
  console.error(`   ${prep.batches.length} request templates, ${(prep.compressedBytes / 1e6).toFixed(1)} MB compressed, in ${prep.prepareSeconds.toFixed(2)} s`);

  const root = findRepoRoot();
  const bins: Record<string, string | undefined> = {
    prometheus: findBinary('prometheus', ['/usr/bin/prometheus'], values['prometheus-bin']),
    'victoria-metrics': findBinary('victoria-metrics', ['/usr/bin/victoria-metrics', '/usr/local/bin/victoria-metrics-prod'], values['victoria-metrics-bin']),
  };
  const sluiceArgs = values['sluice-args'].split(/\s+/).filter(Boolean);
  const results: TargetResult[] = [];
  for (const t of order) {
    if (ac.signal.aborted) break;
    const r = await runTarget(t, load, prep, { root, sluiceArgs, bins }, ac.signal);
    if (r.skipped) console.error(`\n== ${t}: SKIPPED: ${r.skipped}`);
    results.push(r);
    await sleep(1000);
  }
  const md = renderReport(results, load, env);
  if (values.json) console.log(JSON.stringify({ env, load, results }, null, 2));
  else console.log(`\n${md}`);
  if (values.out) {
    writeFileSync(values.out, `${md}\n`);
    console.error(`wrote ${values.out}`);
  }
  return results.some((r) => r.failed) ? 1 : 0;
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => { console.error(err instanceof Error ? err.message : String(err)); cleanupAllSync(); process.exitCode = 2; },
  );
}
