/**
 * Child processes of the benchmarks (compare.ts, query.ts): servers started in their own process
 * group with a log file, always killed on exit, readiness polling, free ports, and the RSS and
 * CPU time of a process tree from /proc. Linux only (reads /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { request } from 'undici';

/** freePort asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// RSS of a process tree, from /proc

function readPpids(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return children; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try { stat = readFileSync(`/proc/${e}/stat`, 'utf8'); } catch { continue; }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const list = children.get(ppid);
    if (list) list.push(Number(e)); else children.set(ppid, [Number(e)]);
  }
  return children;
}

/** processTree lists pid and all its descendants. */
export function processTree(pid: number): number[] {
  const children = readPpids();
  const out: number[] = [];
  const stack = [pid];
  while (stack.length && out.length < 10_000) {
    const p = stack.pop() as number;
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** treeRssBytes sums VmRSS over pid and its descendants (0 when gone). */
export function treeRssBytes(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* exited */ }
  }
  return kb * 1024;
}

/** USER_HZ: /proc reports CPU times in clock ticks, 100 per second on Linux. */
const CLK_TCK = 100;

/**
 * treeCpuSeconds sums utime+stime over pid and its live descendants, plus the CPU time of
 * children the root has already reaped (cutime+cstime).
 */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      if (p === pid) ticks += Number(f[13]) + Number(f[14]);
    } catch { /* exited */ }
  }
  return ticks / CLK_TCK;
}

// ---------------------------------------------------------------------------------------------
// Child processes: started in their own process group, always killed on exit.

/** Running is a started child: its process, when it exited, and its log file. */
export interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: () => boolean;
  logFile: string;
}
/** live: the children not stopped yet; tempDirs: directories to remove on exit. */
export const live = new Set<Running>();
export const tempDirs = new Set<string>();

/** killTree signals a child's process group and every descendant. */
export function killTree(r: Running, sig: NodeJS.Signals): void {
  const pid = r.child.pid;
  if (pid === undefined || r.hasExited()) return;
  const pids = processTree(pid);
  try { process.kill(-pid, sig); } catch { /* group gone */ }
  for (const p of pids) { try { process.kill(p, sig); } catch { /* gone */ } }
}

/** cleanupAllSync SIGKILLs every live child and removes the temp dirs (for exit paths). */
export function cleanupAllSync(): void {
  for (const r of live) killTree(r, 'SIGKILL');
  live.clear();
  for (const d of tempDirs) { try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ } }
  tempDirs.clear();
}

/**
 * Session is where a child runs: `own` is a new session and process group (setsid); `shared` is
 * this process' session. The kernel's autogroup scheduling gives every session one fair share of
 * the CPUs: a server in its own session that keeps the CPUs busy with SCHED_IDLE work (Sluice's
 * query and cut threads) then takes half of them away from the load generator at the group level,
 * although its idle work yields to every normal thread of its own session. A client on another
 * machine never waits for that, so the latency benchmarks run Sluice in `shared` by default
 * (docs/benchmarks.md has both).
 */
export type Session = 'own' | 'shared';

/** startChild spawns `cmd` (in its own session and process group by default), output appended to `logFile`. */
export function startChild(cmd: string, args: string[], logFile: string, cwd: string, session: Session = 'own'): Running {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, detached: session === 'own', stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => { done = true; resolve(); });
    child.once('error', () => { done = true; resolve(); });
  });
  const r: Running = { child, exited, hasExited: () => done, logFile };
  live.add(r);
  return r;
}

/** stopChild sends SIGTERM, SIGKILL after `graceMs`, and waits for the exit. */
export async function stopChild(r: Running, graceMs = 15_000): Promise<void> {
  killTree(r, 'SIGTERM');
  const t = setTimeout(() => killTree(r, 'SIGKILL'), graceMs);
  await r.exited;
  clearTimeout(t);
  // Descendants that outlived their parent.
  const pid = r.child.pid;
  if (pid !== undefined) { try { process.kill(-pid, 'SIGKILL'); } catch { /* none left */ } }
  live.delete(r);
}

/** logTail returns the last lines of a log file. */
export function logTail(file: string, lines = 25): string {
  try { return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; }
}

/** sleep resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** waitReady polls `url` until it answers 200; fails early, with the log's tail, if the child exits. */
export async function waitReady(r: Running, url: string, timeoutMs: number, name = 'server'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (r.hasExited()) throw new Error(`${name} exited before becoming ready (code ${String(r.child.exitCode)}):\n${logTail(r.logFile, 20)}`);
    try {
      const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch { /* not listening yet */ }
    await sleep(200);
  }
  throw new Error(`${name} not ready after ${timeoutMs / 1000} s (${url})`);
}

/**
 * stopOnSignals makes SIGINT/SIGTERM abort `ac`, SIGKILL every child still running, remove the
 * temp dirs and exit 130; the dirs are also removed on any exit. `what` names what is stopped.
 */
export function stopOnSignals(ac: AbortController, what: string): void {
  const onSignal = (sig: NodeJS.Signals): void => {
    console.error(`\n${sig}: stopping ${what}`);
    ac.abort();
    const waits = [...live].map((r) => r.exited);
    for (const r of live) killTree(r, 'SIGKILL');
    void Promise.race([Promise.all(waits), sleep(3000)]).then(() => { cleanupAllSync(); process.exit(130); });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanupAllSync);
}

/** intFlag parses flag `--name`'s value `s` as an integer in [min, max], or throws naming it. */
export function intFlag(name: string, s: string, min: number, max: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${s}`);
  return n;
}
