/**
 * Per-thread identity and priority. Linux shows every thread of a process under its own name
 * (`top -H`, `ps -L`, `/proc/<pid>/task/<tid>/comm`); Node leaves them all "node": naming the
 * shard, gateway and query threads lets an operator see which of them uses the CPU. Priorities
 * are per thread on Linux too, which lets query threads yield to ingestion. Touches only the
 * calling thread's name and scheduling.
 */
import { readlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { setPriority } from 'node:os';

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
  if (want === 'normal') return 'normal';
  if (want === 'idle') {
    try {
      const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
      if (spawnSync('chrt', ['--idle', '-p', '0', tid], { stdio: 'ignore', timeout: 5000 }).status === 0) return 'idle';
    } catch {
      // No /proc or no chrt: fall back to nice.
    }
  }
  try {
    setPriority(LOW_NICE);
    return 'low';
  } catch {
    return 'normal';
  }
}
