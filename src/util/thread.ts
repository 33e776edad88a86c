/**
 * Thread names. Linux shows every thread of a process under its own name (`top -H`, `ps -L`,
 * `/proc/<pid>/task/<tid>/comm`); Node leaves them all "node". Naming the shard, gateway and query
 * threads lets an operator see which of them uses the CPU. Touches only the calling thread's comm.
 */
import { writeFileSync } from 'node:fs';

/** nameThread sets the calling thread's name (at most 15 bytes are kept); silently a no-op off Linux. */
export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // No /proc (not Linux) or not permitted: names are cosmetic.
  }
}
