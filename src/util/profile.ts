/**
 * workerExecArgv returns the execArgv of Sluice's worker threads. They never inherit the parent's
 * flags (preloads such as --import would run again in every thread); with SLUICE_CPU_PROFILE_DIR
 * set, each thread writes a V8 CPU profile there when it ends (see docs/benchmarks.md).
 */
export function workerExecArgv(): string[] {
  const dir = process.env['SLUICE_CPU_PROFILE_DIR'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
