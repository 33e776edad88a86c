/**
 * Test helper: one real `sluice receive` child process on loopback whose ports and data dir
 * survive restarts, for end-to-end tests of what a process does across SIGTERM / SIGKILL (block
 * cuts, uploads, the shipper's state file). Reads its `/metrics` and calls its admin flush.
 *
 * Touches only the child it starts (killed at stop() and, as a last resort, when this process
 * exits), loopback sockets and the data dir it is given (never removed here: the caller owns it).
 * The child runs `bin/sluice.js` found above this file (see sluiceBin in cluster.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { freePort, waitReady } from './node.js';
import { exitOf, spawnSluice, trimLog } from './cluster.js';

/** DEFAULT_FLAGS keep a child small and quick on a 2-core machine; extra flags come after and win. */
const DEFAULT_FLAGS = [
  '--receive.shards=2', '--receive.gateways=1', '--query.workers=1', '--tsdb.wal.fsync=off',
  '--http-grace-period=2s', '--log.level=info',
];
/** ExitStatus is how a child ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** FlushAnswer is the answer of `POST /api/v1/admin/tsdb/flush`. */
export interface FlushAnswer {
  status: number;
  body: { status: string; data?: { ulids: string[] }; error?: string };
}

/**
 * ReceiverProcess is one `sluice receive` child. Create it with ReceiverProcess.start(); always
 * stop() it in a `finally`.
 */
export class ReceiverProcess {
  /** dir is --tsdb.path (kept across restarts, owned by the caller). */
  readonly dir: string;
  readonly writeUrl: string;
  readonly httpUrl: string;
  /** child is the running process, undefined while down. */
  child: ChildProcess | undefined;
  /** log is stderr of every run so far (the last 1 MiB). */
  log = '';
  /** died says how the child ended when it ended without stop() (a crash, a foreign signal). */
  died = '';
  private readonly args: string[];

  private constructor(dir: string, rw: number, http: number, flags: string[]) {
    this.dir = dir;
    this.writeUrl = `http://127.0.0.1:${rw}`;
    this.httpUrl = `http://127.0.0.1:${http}`;
    this.args = [
      'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`,
      `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', ...DEFAULT_FLAGS, ...flags,
    ];
  }

  /** start picks free ports, starts the child on `dir` with `flags` and waits for /-/ready. */
  static async start(dir: string, flags: string[] = []): Promise<ReceiverProcess> {
    const r = new ReceiverProcess(dir, await freePort(), await freePort(), flags);
    await r.restart();
    return r;
  }

  /** restart starts the child again (same ports, flags and data dir) and waits for /-/ready. */
  async restart(): Promise<void> {
    if (this.child !== undefined) throw new Error('the receiver is running');
    this.died = '';
    const child = spawnSluice(this.args, (s) => { this.log = trimLog(this.log, s); });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.died = `the receiver exited unexpectedly (code ${code}, signal ${signal})`;
    });
    this.child = child;
    try {
      await waitReady(`${this.httpUrl}/-/ready`, child, 30_000);
    } catch (e) {
      await this.stop('SIGKILL');
      throw new Error(`receiver did not start: ${e instanceof Error ? e.message : String(e)}\n${this.log.slice(-4000)}`);
    }
  }

  /**
   * stop sends `signal` and waits for the exit (SIGKILL after `ms` if it has not exited); returns
   * how it ended. Safe to call while down (returns nulls).
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', ms = 10_000): Promise<ExitStatus> {
    const c = this.child;
    this.child = undefined;
    if (c === undefined) return { code: null, signal: null };
    if (c.exitCode === null && c.signalCode === null) {
      c.kill(signal);
      if (!await exitOf(c, ms)) {
        c.kill('SIGKILL');
        await exitOf(c, 5_000);
      }
    }
    return { code: c.exitCode, signal: c.signalCode };
  }

  /** metrics returns the /metrics exposition text. */
  async metrics(): Promise<string> {
    const r = await this.fetch('/metrics', {});
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    return r.text();
  }

  /** metric returns the sum over every series of metric `name` (0 when absent). */
  async metric(name: string): Promise<number> {
    return metricSum(await this.metrics(), name);
  }

  /** flush calls POST /api/v1/admin/tsdb/flush. */
  async flush(): Promise<FlushAnswer> {
    const r = await this.fetch('/api/v1/admin/tsdb/flush', { method: 'POST' });
    return { status: r.status, body: await r.json() as FlushAnswer['body'] };
  }

  /** fetch calls the HTTP listener; a failure says whether the child died and shows its log. */
  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.httpUrl}${path}`, init);
    } catch (e) {
      const why = this.died !== '' ? this.died : 'the receiver is running';
      throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}; ${why}\n${this.log.slice(-3000)}`);
    }
  }
}

/** metricSum sums the samples of metric `name` (every label set) in an exposition text. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const c = line.charAt(name.length);
    if (c !== '{' && c !== ' ') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** waitUntil polls `check` every 50 ms until it says true; fails with `what` (and `detail()`) after `ms`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = 15_000, detail: () => string = () => ''): Promise<void> {
  const until = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * spawnReceiver starts a bare one-shard receiver on `dir` (no waiting for readiness, fsync off,
 * no query threads), for tests that watch its start or its log themselves.
 */
export function spawnReceiver(dir: string, rw: number, http: number): { p: ChildProcess; log: () => string } {
  let log = '';
  const p = spawnSluice(['receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`,
    `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', '--receive.shards=1', '--receive.gateways=1',
    '--query.workers=0', '--tsdb.wal.fsync=off', '--http-grace-period=5s'], (s) => { log = trimLog(log, s); });
  return { p, log: () => log };
}
