/**
 * The machine a benchmark ran on and the command that ran it, for the header of its report
 * (docs/benchmarks.md asks for machine and date with every figure). Reads os facts only.
 */
import os from 'node:os';

/** EnvInfo is a benchmark run's machine, date and command line. */
export interface EnvInfo { date: string; cpu: string; cores: number; ramGiB: string; os: string; node: string; command: string }

/** envInfo describes this machine now; `command` is the command line to print (shell-quoted here). */
export function envInfo(command: string[]): EnvInfo {
  const cpus = os.cpus();
  const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: os.availableParallelism(),
    ramGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    command: command.map(quote).join(' '),
  };
}
