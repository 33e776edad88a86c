/**
 * ThreadCpu samples the CPU time of a process's threads, grouped by role (the main thread, the
 * shard threads `sluice-shard-*`, the gateway threads `sluice-gw-*`, query threads, the
 * SCHED_IDLE background threads `sluice-cut` and `sluice-ckpt`, and the rest: V8 and libuv
 * helpers), so that a benchmark can say which of them was busy in a time window, and how long
 * each group's threads waited for a CPU while runnable (the scheduler's run-queue wait, from
 * schedstat): a thread that waits there is delayed by CPU contention, not by its own work or I/O.
 * Reads /proc/<pid>/task/<tid>/{stat,schedstat,comm} every `intervalMs`; Linux only; touches
 * nothing else.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/** THREAD_GROUPS are the roles threads are grouped by, in report order. */
export const THREAD_GROUPS = ['main', 'shards', 'gateways', 'query', 'background', 'other'] as const;
/** ThreadGroup is one of THREAD_GROUPS. */
export type ThreadGroup = (typeof THREAD_GROUPS)[number];

/** USER_HZ: /proc reports CPU times in clock ticks, 100 per second on Linux. */
const CLK_TCK = 100;

interface Snapshot { t: number; ticks: Record<ThreadGroup, number>; waitNs: Record<ThreadGroup, number> }

function groupOf(pid: number, tid: number, comm: string): ThreadGroup {
  if (tid === pid) return 'main';
  if (comm.startsWith('sluice-shard')) return 'shards';
  if (comm.startsWith('sluice-gw')) return 'gateways';
  if (comm.startsWith('sluice-query')) return 'query';
  if (comm === 'sluice-cut' || comm === 'sluice-ckpt') return 'background';
  return 'other';
}

/**
 * ThreadCpu keeps the cumulative CPU ticks of each group at every sample. A thread that exits
 * takes its ticks with it (its group's count drops); windows are short, and the benchmark's node
 * keeps its threads, so this is noted rather than corrected.
 */
export class ThreadCpu {
  private readonly pid: number;
  private readonly snaps: Snapshot[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly names = new Map<number, ThreadGroup>();
  /** schedstat: whether the kernel keeps per-thread schedstat (CONFIG_SCHED_INFO). */
  private readonly schedstat: boolean;

  constructor(pid: number, intervalMs = 100) {
    this.pid = pid;
    this.schedstat = existsSync(`/proc/${pid}/task/${pid}/schedstat`);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** stop ends sampling (what was sampled stays readable). */
  stop(): void { clearInterval(this.timer); }

  /** coresIn returns each group's average CPU use (cores) over [t0, t1], or undefined without samples around it. */
  coresIn(t0: number, t1: number): Record<ThreadGroup, number> | undefined {
    const [a, b] = this.around(t0, t1);
    if (!a || !b || b.t <= a.t) return undefined;
    const sec = (b.t - a.t) / 1000;
    const out = {} as Record<ThreadGroup, number>;
    for (const g of THREAD_GROUPS) out[g] = Math.max(0, (b.ticks[g] - a.ticks[g]) / CLK_TCK / sec);
    return out;
  }

  /**
   * waitIn returns, per group, the milliseconds its threads together spent runnable but waiting
   * for a CPU, per second of [t0, t1]; undefined without samples around it or without schedstat.
   */
  waitIn(t0: number, t1: number): Record<ThreadGroup, number> | undefined {
    const [a, b] = this.around(t0, t1);
    if (!a || !b || b.t <= a.t || !this.schedstat) return undefined;
    const sec = (b.t - a.t) / 1000;
    const out = {} as Record<ThreadGroup, number>;
    for (const g of THREAD_GROUPS) out[g] = Math.max(0, (b.waitNs[g] - a.waitNs[g]) / 1e6 / sec);
    return out;
  }

  /** coresOver is coresIn pooled over several windows (weighted by their lengths). */
  coresOver(windows: readonly [number, number][]): Record<ThreadGroup, number> | undefined {
    return pooled(windows, (a, b) => this.coresIn(a, b));
  }

  /** waitOver is waitIn pooled over several windows (weighted by their lengths). */
  waitOver(windows: readonly [number, number][]): Record<ThreadGroup, number> | undefined {
    return pooled(windows, (a, b) => this.waitIn(a, b));
  }

  private around(t0: number, t1: number): [Snapshot | undefined, Snapshot | undefined] {
    let a: Snapshot | undefined;
    let b: Snapshot | undefined;
    for (const s of this.snaps) {
      if (s.t <= t0) a = s;
      if (s.t >= t1) { b = s; break; }
    }
    return [a, b];
  }

  private sample(): void {
    const zero = (): Record<ThreadGroup, number> => ({ main: 0, shards: 0, gateways: 0, query: 0, background: 0, other: 0 });
    const ticks = zero();
    const waitNs = zero();
    let tids: string[];
    try { tids = readdirSync(`/proc/${this.pid}/task`); } catch { return; }
    for (const e of tids) {
      const tid = Number(e);
      try {
        const stat = readFileSync(`/proc/${this.pid}/task/${e}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        let g = this.names.get(tid);
        if (g === undefined) {
          g = groupOf(this.pid, tid, readFileSync(`/proc/${this.pid}/task/${e}/comm`, 'utf8').trim());
          // A thread names itself once it runs: keep looking until it has a sluice name.
          if (g !== 'other') this.names.set(tid, g);
        }
        ticks[g] += Number(f[11]) + Number(f[12]);
        // schedstat: ns on a CPU, ns runnable but waiting for one, timeslices.
        if (this.schedstat) waitNs[g] += Number(readFileSync(`/proc/${this.pid}/task/${e}/schedstat`, 'utf8').split(' ')[1]);
      } catch { /* exited */ }
    }
    this.snaps.push({ t: performance.timeOrigin + performance.now(), ticks, waitNs });
  }
}

/** pooled averages per-window rates over `windows`, weighted by length; undefined if any window has none. */
function pooled(windows: readonly [number, number][], f: (t0: number, t1: number) => Record<ThreadGroup, number> | undefined): Record<ThreadGroup, number> | undefined {
  const out: Record<ThreadGroup, number> = { main: 0, shards: 0, gateways: 0, query: 0, background: 0, other: 0 };
  let total = 0;
  for (const [t0, t1] of windows) {
    const r = f(t0, t1);
    if (r === undefined) return undefined;
    for (const g of THREAD_GROUPS) out[g] += r[g] * (t1 - t0);
    total += t1 - t0;
  }
  if (total <= 0) return undefined;
  for (const g of THREAD_GROUPS) out[g] /= total;
  return out;
}

/** ThreadRow is one line of threadTables: a window's CPU and run-queue wait, with the generator's. */
export interface ThreadRow { name: string; cpu: Record<ThreadGroup, number> | undefined; wait: Record<ThreadGroup, number> | undefined; genWait: number | undefined }

/**
 * threadTables renders, as markdown, the node's CPU per thread group and (where the kernel keeps
 * schedstat) how long each group, and the load generator, waited runnable for a CPU.
 */
export function threadTables(rows: readonly ThreadRow[]): string[] {
  const out: string[] = [];
  out.push(`| node CPU, cores (${THREAD_GROUPS.join(' / ')}) | ${THREAD_GROUPS.join(' | ')} | all |`, `|---|${THREAD_GROUPS.map(() => '--:|').join('')}--:|`);
  for (const r of rows) {
    const c = r.cpu;
    out.push(`| ${r.name} | ${THREAD_GROUPS.map((k) => (c ? c[k].toFixed(2) : '—')).join(' | ')} | ${c ? THREAD_GROUPS.reduce((a, k) => a + c[k], 0).toFixed(2) : '—'} |`);
  }
  out.push('');
  if (rows.some((r) => r.wait !== undefined)) {
    out.push(`| threads runnable without a CPU, ms/s (node: ${THREAD_GROUPS.join(' / ')}; the load generator) | ${THREAD_GROUPS.join(' | ')} | generator |`, `|---|${THREAD_GROUPS.map(() => '--:|').join('')}--:|`);
    for (const r of rows) {
      const w = r.wait;
      out.push(`| ${r.name} | ${THREAD_GROUPS.map((k) => (w ? w[k].toFixed(1) : '—')).join(' | ')} | ${r.genWait !== undefined ? r.genWait.toFixed(1) : '—'} |`);
    }
    out.push('');
  }
  return out;
}

/** sumGroups adds a per-group record up (undefined stays undefined). */
export function sumGroups(r: Record<ThreadGroup, number> | undefined): number | undefined {
  return r === undefined ? undefined : THREAD_GROUPS.reduce((a, g) => a + r[g], 0);
}
