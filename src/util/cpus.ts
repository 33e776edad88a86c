/**
 * availableCpus returns how many CPUs this process may use: the cgroup CPU quota when one is set
 * (a Kubernetes CPU limit), else os.availableParallelism(). Rounded up, at least 1.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** cgroupCpuLimit reads the cgroup v2 or v1 CPU quota in CPUs, or undefined when unlimited. */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  try {
    const [quota, period] = readFileSync(`${root}/cpu.max`, 'utf8').trim().split(/\s+/);
    if (quota !== undefined && quota !== 'max' && period !== undefined) return Number(quota) / Number(period);
    return undefined;
  } catch { /* not cgroup v2 */ }
  try {
    const quota = Number(readFileSync(`${root}/cpu/cpu.cfs_quota_us`, 'utf8').trim());
    const period = Number(readFileSync(`${root}/cpu/cpu.cfs_period_us`, 'utf8').trim());
    if (quota > 0 && period > 0) return quota / period;
  } catch { /* no cgroup v1 either */ }
  return undefined;
}

/** availableCpus is the default shard count. */
export function availableCpus(): number {
  const host = availableParallelism();
  const quota = cgroupCpuLimit();
  const n = quota === undefined ? host : Math.min(host, Math.ceil(quota));
  return Math.max(1, n);
}
