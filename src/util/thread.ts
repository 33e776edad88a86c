/**
 * Per-thread identity and priority. Linux shows every thread of a process under its own name
 * (`top -H`, `ps -L`, `/proc/<pid>/task/<tid>/comm`); Node leaves them all "node": naming the
 * shard, gateway and query threads lets an operator see which of them uses the CPU. Priorities
 * are per thread on Linux too, which lets query threads yield to ingestion. Touches only the
 * calling thread's name and scheduling, and on request the scheduling of V8's platform threads.
 */
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism, setPriority } from 'node:os';

/** nameThread sets the calling thread's name (at most 15 bytes are kept); silently a no-op off Linux. */
export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // No /proc (not Linux) or not permitted: names are cosmetic.
  }
}

/**
 * CpuPriority is how a background thread yields to ingestion: `idle` is Linux' SCHED_IDLE (it
 * runs only on CPU time no normal thread wants, and a waking normal thread preempts it at once),
 * `low` is nice 10 (a smaller share, but it can still delay a waking thread by a time slice),
 * `normal` leaves it as it is.
 */
export type CpuPriority = 'idle' | 'low' | 'normal';

/** QUERY_NICE is the nice value of `low`. */
const LOW_NICE = 10;

/**
 * lowerThreadPriority applies `want` to the calling thread and returns what it got: SCHED_IDLE is
 * set with util-linux' `chrt` on the thread's id (no privilege needed to lower one's own class);
 * where that fails (no chrt, not Linux) it falls back to `low`, and to `normal` where even nice
 * cannot be set.
 */
export function lowerThreadPriority(want: CpuPriority): CpuPriority {
  let tid = 0; // 0: the calling thread, for setPriority
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    // No /proc: nice only.
  }
  return lowerPriorityOf(tid, want);
}

/** lowerPriorityOf applies `want` to thread `tid` of this process (0: the calling thread), as lowerThreadPriority. */
function lowerPriorityOf(tid: number, want: CpuPriority): CpuPriority {
  if (want === 'normal') return 'normal';
  if (want === 'idle' && tid > 0) {
    try {
      if (spawnSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore', timeout: 5000 }).status === 0) return 'idle';
    } catch {
      // No chrt: fall back to nice.
    }
  }
  try {
    setPriority(tid, LOW_NICE);
    return 'low';
  } catch {
    return 'normal';
  }
}

/**
 * v8PoolSize is the number of V8 platform worker threads node starts (`--v8-pool-size`, 4 unless
 * set; 0 lets node choose one less than the CPUs, at least 1).
 */
function v8PoolSize(): number {
  let n = 4;
  for (const a of process.execArgv) {
    const m = /^--v8-pool-size=(\d+)$/.exec(a);
    if (m) n = Number(m[1]);
  }
  return n > 0 ? n : Math.max(1, availableParallelism() - 1);
}

/**
 * v8PlatformThreads returns the thread ids of V8's platform threads in this process, or undefined
 * where they cannot be told apart. Node starts them before anything else, right after the main
 * thread: its delayed-task thread, then `--v8-pool-size` workers; libuv's thread pool, the
 * inspector's thread and every Worker come later. Thread ids grow on Linux, so they are the
 * lowest ids after the main thread's; they are refused if an id is below the main thread's (the
 * id space wrapped) or a thread among them has a name of its own (not the main thread's).
 */
export function v8PlatformThreads(): number[] | undefined {
  const n = v8PoolSize() + 1;
  const pid = process.pid;
  try {
    const tids = readdirSync('/proc/self/task').map(Number).filter((t) => t !== pid).sort((a, b) => a - b);
    const first = tids.slice(0, n);
    if (first.length < n || first[0]! < pid) return undefined;
    const comm = (t: number): string => readFileSync(`/proc/self/task/${t}/comm`, 'utf8');
    const main = comm(pid);
    return first.every((t) => comm(t) === main) ? first : undefined;
  } catch {
    return undefined; // not Linux
  }
}

/**
 * lowerV8HelperPriority applies `want` to V8's platform threads (v8PlatformThreads) and returns
 * how many there were and the least lowering any of them got; undefined where they could not be
 * found. Under `--single-threaded-gc` these threads only compile JavaScript (TurboFan) in the
 * background, for every thread of the process; at normal priority, the compiling of the cut and
 * checkpoint threads' code (SCHED_IDLE threads themselves) competed with the shards and gateways
 * for the CPU during every cut (docs/benchmarks.md). Without it they also run the collector's
 * parallel work, which the heaps' own threads wait for: leave them alone then. Only the first
 * call lowers anything.
 */
export function lowerV8HelperPriority(want: CpuPriority): { threads: number; got: CpuPriority } | undefined {
  // The threads are the process', whatever calls: the first call decides (a test may start
  // several receivers in one process), later ones get its result.
  if (v8Lowered !== null) return v8Lowered;
  const tids = v8PlatformThreads();
  if (tids === undefined) return (v8Lowered = undefined);
  const rank: Record<CpuPriority, number> = { normal: 0, low: 1, idle: 2 };
  let got: CpuPriority = want;
  for (const t of tids) {
    const g = lowerPriorityOf(t, want);
    if (rank[g] < rank[got]) got = g;
  }
  return (v8Lowered = { threads: tids.length, got });
}

/** v8Lowered is the first lowerV8HelperPriority's result (null: not called yet). */
let v8Lowered: { threads: number; got: CpuPriority } | undefined | null = null;
