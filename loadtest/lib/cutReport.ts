/**
 * The cut benchmark's arithmetic and its markdown: sorts the paced writer's requests by whether
 * they overlapped a cut window, an upload window or neither, takes latency quantiles of each
 * group, and renders the section for docs/benchmarks.md. Pure functions over what loadtest/cut.ts
 * measured; touches nothing.
 */
import type { EnvInfo } from './env.js';
import type { WriteLog } from './clockedWriter.js';
import type { CutEvent } from './sluiceLog.js';
import { threadTables, type ThreadGroup } from './threadCpu.js';

/** LatStats are latency quantiles (ms) of a group of requests: from sending, and from when it was due. */
export interface LatStats { n: number; p50: number; p90: number; p99: number; max: number; schedP50: number; schedP99: number }

/** Window is a wall-clock interval [start, end] in ms since the epoch. */
export interface Window { start: number; end: number }

/** CutRow is one cut as measured: its log event, the memory around it and the writes during it. */
export interface CutRow {
  kind: string;
  cut: CutEvent;
  /** mint: the first millisecond the cut's blocks cover. */
  mint: number;
  /** expectedSamples: samples the benchmark wrote into [mint, upTo) (all acknowledged). */
  expectedSamples: number;
  /** blocksWrittenMs: from the cut's start to the last of its blocks' meta.json (the block write). */
  blocksWrittenMs: number | undefined;
  /** uploadedMs: from the cut's end to the last of its blocks uploaded (undefined: not seen). */
  uploadedMs: number | undefined;
  rssBefore: number;
  rssPeak: number;
  rssPeakAfterStartMs: number;
  /** rssPeakWrite / rssPeakRest: the largest RSS while the blocks were written, and after (truncation, WAL checkpoint). */
  rssPeakWrite: number;
  rssPeakRest: number;
  rssAfter: number;
  /** cpu: the node's threads' CPU use (cores) over the cut window. */
  cpu: Record<ThreadGroup, number> | undefined;
  /** wait: ms per second the node's threads spent runnable but without a CPU, over the cut window. */
  wait: Record<ThreadGroup, number> | undefined;
  /** genWait: the same for the load generator's own threads, all together. */
  genWait: number | undefined;
  heap: HeapWindow | undefined;
  writes: LatStats;
}

/** HeapWindow is the node main thread's V8 heap and external memory before and at most during a cut (--heap-probe-ms). */
export interface HeapWindow { heapBefore: number; heapPeak: number; externalBefore: number; externalPeak: number }

/** Memory is the node's RSS at the fixed points of the run, and the shards' own byte counters. */
export interface Memory {
  emptyRss: number;
  loadedRss: number;
  headBytesEmpty: number;
  headBytesLoaded: number;
  headSeries: number;
  maxRss: number;
  endRss: number;
}

/** CutBenchResult is everything the report shows. */
export interface CutBenchResult {
  env: EnvInfo;
  /** mainPriority: the CPU priority the node's main thread was given after the load (normal: left alone). */
  mainPriority: string;
  /** ownSession: the node ran in a session (kernel autogroup) of its own, not the generator's. */
  ownSession: boolean;
  sluice: string;
  series: number;
  samples: number;
  blockDurationMs: number;
  sluiceArgs: string[];
  load: { seconds: number; samples: number; retries: number };
  writer: { rate: number; batch: number; concurrency: number; steadySeconds: number; steadyStepMs: number; fastStepMs: number; cutEvery: number; requests: number; late: number; failures: string; acked: number };
  memory: Memory;
  cuts: CutRow[];
  steadyCpu: Record<ThreadGroup, number> | undefined;
  steadyWait: Record<ThreadGroup, number> | undefined;
  steadyGenWait: number | undefined;
  groups: { steady: LatStats; inCut: LatStats; inUpload: LatStats; outside: LatStats };
  rssIntervalMs: number;
  rssSamples: number;
  problems: string[];
}

/** sortedQuantile is the nearest-rank quantile q of an ascending array (0 for none). */
export function sortedQuantile(s: readonly number[], q: number): number {
  if (s.length === 0) return 0;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

/** latStats takes the quantiles of the requests whose indexes are listed. */
export function latStats(log: WriteLog, idx: readonly number[]): LatStats {
  const lat = idx.map((i) => (log.end[i] as number) - (log.sent[i] as number)).sort((a, b) => a - b);
  const sched = idx.map((i) => (log.end[i] as number) - (log.due[i] as number)).sort((a, b) => a - b);
  return {
    n: idx.length, p50: sortedQuantile(lat, 0.5), p90: sortedQuantile(lat, 0.9), p99: sortedQuantile(lat, 0.99),
    max: lat.length ? (lat[lat.length - 1] as number) : 0, schedP50: sortedQuantile(sched, 0.5), schedP99: sortedQuantile(sched, 0.99),
  };
}

/**
 * overlapping lists the requests whose life, from when they were due to their end, overlaps the
 * window (a request held back by busy connections during a cut counts for the cut), sent at or
 * after `from`.
 */
export function overlapping(log: WriteLog, w: Window, from = -Infinity): number[] {
  const out: number[] = [];
  for (let i = 0; i < log.end.length; i++) {
    if ((log.sent[i] as number) < from) continue;
    if ((log.due[i] as number) <= w.end && (log.end[i] as number) >= w.start) out.push(i);
  }
  return out;
}

/**
 * classify sorts the requests sent at or after `from` into three groups: those overlapping a cut
 * window, those overlapping only an upload window (a cut's end to its blocks' upload), and the rest.
 */
export function classify(log: WriteLog, cuts: readonly Window[], uploads: readonly Window[], from: number): { inCut: number[]; inUpload: number[]; outside: number[] } {
  const inCut: number[] = [];
  const inUpload: number[] = [];
  const outside: number[] = [];
  const hits = (ws: readonly Window[], i: number): boolean => {
    const a = log.due[i] as number;
    const b = log.end[i] as number;
    for (const w of ws) if (a <= w.end && b >= w.start) return true;
    return false;
  };
  for (let i = 0; i < log.end.length; i++) {
    if ((log.sent[i] as number) < from) continue;
    if (hits(cuts, i)) inCut.push(i);
    else if (hits(uploads, i)) inUpload.push(i);
    else outside.push(i);
  }
  return { inCut, inUpload, outside };
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '—');
const rate = (samples: number, ms: number): string => (ms > 0 ? `${(samples / (ms / 1000) / 1e6).toFixed(2)}M` : '—');
const dur = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
const iso = (t: number): string => new Date(t).toISOString().replace(/:00\.000Z$/, 'Z').replace('T', ' ');
const mark = (ok: boolean): string => (ok ? 'met' : '**not met**');

/** renderCutReport renders the markdown section for docs/benchmarks.md. */
export function renderCutReport(r: CutBenchResult): string {
  const out: string[] = [];
  const m = r.memory;
  const head = m.loadedRss - m.emptyRss;
  const w = r.writer;
  out.push(`### Head cut: throughput, memory, remote-write latency (${r.env.date.slice(0, 10)}, \`npm run bench:cut\`)`, '');
  out.push(`- Machine: ${r.env.cpu}, ${r.env.cores} cores, ${r.env.ramGiB} GiB RAM, ${r.env.os}; Node.js ${r.env.node}; ${r.env.date}`);
  out.push(`- Command: \`${r.env.command}\``);
  out.push(`- Target: one \`${r.sluice} receive\` child process (default shards and gateways${r.sluiceArgs.length ? `, ${r.sluiceArgs.map((a) => `\`${a}\``).join(' ')}` : ''}), ` +
    `\`--tsdb.block-duration=${dur(r.blockDurationMs)}\`, fresh data dir, loopback` +
    `${r.mainPriority !== 'normal' ? `; **experiment: the node's main thread (which runs the cut) at CPU priority ${r.mainPriority === 'idle' ? 'SCHED_IDLE' : 'nice 10'} after the load**` : ''}.`);
  out.push(`- Session: ${r.ownSession ? 'the node in a session of its own (--own-session): the kernel\'s autogroups share the CPUs between it and the load generator, whose waits then add to the latencies it times' : 'the node in the load generator\'s session (one kernel autogroup), so that its SCHED_IDLE cut and checkpoint threads yield to the generator as to the node\'s own threads, as they do to a client on another machine'}.`);
  out.push(`- Data (seeded): ${fmtInt(r.series)} series of the counter \`x\` × 8 labels, ${r.samples} samples each at 15 s from a block boundary ` +
    `(${fmtInt(r.series * r.samples)} samples), bulk-loaded time-major in ${r.load.seconds.toFixed(1)} s (${fmtInt(r.load.samples / r.load.seconds)} samples/s).`);
  out.push(`- Writes: ${fmtInt(w.rate)} samples/s paced, ${fmtInt(w.batch)} series/request, ${w.concurrency} connections, one sample per series and request; ` +
    `${w.steadySeconds} s steady (sample step ${w.steadyStepMs / 1000} s), then the sample clock jumps 1.5 blocks past the data so the loaded range comes due ` +
    `(the **full cut**: a natural cut, Prometheus' rule), then runs at ${dur(w.fastStepMs)} per step so another range comes due every ~${w.cutEvery} s (**small cuts**: same series, fewer samples). ` +
    `${fmtInt(w.acked)} requests acknowledged, ${w.late} sent late, failures: ${w.failures}.`);
  out.push(`- Cut windows from the node's log (\`head cut into blocks\`: end = line time, start = end − \`ms\`; the window covers writing the blocks, dropping the ` +
    `chunks and the WAL checkpoint). Blocks written = cut start → the last block's meta.json. RSS before a cut = median of its last second; ` +
    `peak extra = max RSS in the window − that. CPU per thread group from /proc/<pid>/task every 100 ms. RSS = VmRSS of the node from /proc every ${r.rssIntervalMs} ms ` +
    `(${fmtInt(r.rssSamples)} samples); head = RSS loaded − RSS empty.`);
  out.push('');

  out.push('| node memory | RSS |', '|---|--:|');
  out.push(`| empty (after start) | ${mib(m.emptyRss)} |`);
  out.push(`| loaded (${fmtInt(m.headSeries)} series, ${fmtInt(r.series * r.samples)} samples) | ${mib(m.loadedRss)} |`);
  out.push(`| **head** = loaded − empty | **${mib(head)}** |`);
  out.push(`| shards' own count (\`sluice_shard_head_bytes\`, loaded − empty) | ${mib(m.headBytesLoaded - m.headBytesEmpty)} (${mib(m.headBytesLoaded)} − ${mib(m.headBytesEmpty)}) |`);
  out.push(`| max during the run / at the end | ${mib(m.maxRss)} / ${mib(m.endRss)} |`, '');

  out.push('| cut | range | samples (= written?) | cut ms | blocks written ms | samples/s (whole cut) | samples/s (block write) | RSS before | peak extra (at +ms) | extra / head | extra: block write / rest | writes overlapping: n, p50 / p99 ms | uploaded after |');
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const c of r.cuts) {
    const extra = c.rssPeak - c.rssBefore;
    out.push(`| ${c.kind} | ${iso(c.mint)} + ${dur(c.cut.upTo - c.mint)} | ${fmtInt(c.cut.samples)} ${c.cut.samples === c.expectedSamples ? '(=)' : `(**≠ ${fmtInt(c.expectedSamples)}**)`} | ` +
      `${fmtInt(c.cut.ms)} | ${c.blocksWrittenMs === undefined ? '—' : fmtInt(c.blocksWrittenMs)} | ${rate(c.cut.samples, c.cut.ms)} | ${c.blocksWrittenMs === undefined ? '—' : rate(c.cut.samples, c.blocksWrittenMs)} | ` +
      `${mib(c.rssBefore)} | ${mib(extra)} (+${fmtInt(c.rssPeakAfterStartMs)}) | ${pct(extra, head)} | ${mib(c.rssPeakWrite - c.rssBefore)} / ${mib(c.rssPeakRest - c.rssBefore)} | ${fmtInt(c.writes.n)}: ${fmtMs(c.writes.p50)} / ${fmtMs(c.writes.p99)} | ` +
      `${c.uploadedMs === undefined ? '—' : `${(c.uploadedMs / 1000).toFixed(1)} s`} |`);
  }
  out.push('');

  const g = r.groups;
  out.push('| remote-write requests | n | p50 ms | p90 ms | p99 ms | max ms | from schedule p50 / p99 ms |', '|---|--:|--:|--:|--:|--:|--:|');
  const row = (name: string, s: LatStats): string => `| ${name} | ${fmtInt(s.n)} | ${fmtMs(s.p50)} | ${fmtMs(s.p90)} | ${fmtMs(s.p99)} | ${fmtMs(s.max)} | ${fmtMs(s.schedP50)} / ${fmtMs(s.schedP99)} |`;
  out.push(row(`steady (before any cut, ${w.steadySeconds} s)`, g.steady));
  out.push(row(`overlapping a cut (${r.cuts.length} cuts)`, g.inCut));
  out.push(row('overlapping only an upload (cut end → blocks uploaded)', g.inUpload));
  out.push(row('outside cuts and uploads', g.outside));
  out.push('');

  if (r.cuts.some((c) => c.heap)) {
    out.push('| main thread (scraped /metrics) | heap before → max | external before → max |', '|---|--:|--:|');
    for (const c of r.cuts) {
      const h = c.heap;
      out.push(`| ${c.kind} | ${h ? `${mib(h.heapBefore)} → ${mib(h.heapPeak)}` : '—'} | ${h ? `${mib(h.externalBefore)} → ${mib(h.externalPeak)}` : '—'} |`);
    }
    out.push('');
  }
  out.push(...threadTables([
    { name: 'steady', cpu: r.steadyCpu, wait: r.steadyWait, genWait: r.steadyGenWait },
    ...r.cuts.map((c) => ({ name: c.kind, cpu: c.cpu, wait: c.wait, genWait: c.genWait })),
  ]));

  const full = r.cuts[0];
  const fullExtra = full ? full.rssPeak - full.rssBefore : NaN;
  const worstExtra = Math.max(...r.cuts.map((c) => c.rssPeak - c.rssBefore));
  const ratioOut = g.inCut.p99 / Math.max(g.outside.p99, 1e-9);
  const ratioSteady = g.inCut.p99 / Math.max(g.steady.p99, 1e-9);
  const fullRatio = full ? full.writes.p99 / Math.max(g.outside.p99, 1e-9) : NaN;
  out.push('Against the issue 4 targets:', '');
  out.push(`- Block write ≥ 2M samples/s: full cut ${full ? rate(full.cut.samples, full.cut.ms) : '—'} samples/s over the whole cut` +
    `${full?.blocksWrittenMs !== undefined ? `, ${rate(full.cut.samples, full.blocksWrittenMs)} over its block write` : ''}: ${mark(full !== undefined && full.cut.samples / full.cut.ms >= 2000)}.`);
  out.push(`- Peak extra memory during a cut ≤ 25% of the head: full cut ${mib(fullExtra)} = ${pct(fullExtra, head)} of ${mib(head)} ` +
    `(${pct(fullExtra, m.headBytesLoaded - m.headBytesEmpty)} of the shards' own count); worst of all cuts ${pct(worstExtra, head)}: ${mark(worstExtra <= 0.25 * head)}.`);
  out.push(`- Remote-write p99 during cuts ≤ 2× steady: ${fmtMs(g.inCut.p99)} ms against ${fmtMs(g.outside.p99)} ms outside = **${ratioOut.toFixed(2)}×** ` +
    `(against the steady phase alone ${ratioSteady.toFixed(2)}×; the full cut alone ${fullRatio.toFixed(2)}×; from schedule ` +
    `${(g.inCut.schedP99 / Math.max(g.outside.schedP99, 1e-9)).toFixed(2)}×): ${mark(ratioOut <= 2)}.`);
  if (r.problems.length) out.push('', `Problems: ${r.problems.join('; ')}.`);
  return out.join('\n');
}
