/**
 * Test helpers for multi-node tests with real processes: a ring of `sluice receive` children on
 * loopback sharing one hashrings file (start, wait ready, SIGKILL one, restart it on the same ports
 * and data dir, rewrite the ring atomically, stop), a Prometheus-like remote-write client that
 * retries the same request with backoff and goes to the next node like a Service would, and two
 * ways to read back what the ring holds: PromQL on one node (fans out to its peers) and StoreAPI
 * Series on one node (that node's own data only, as Thanos Receive serves it).
 *
 * Touches only its own temp dir, the children it starts (killed at stop and, as a last resort,
 * when this process exits) and loopback sockets. The children run `bin/sluice.js`, which loads the
 * compiled `dist/`: a change in src/ needs a rebuilt dist before these helpers see it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { encodeBody, freePort, series, waitReady, RW_HEADERS } from './node.js';
import { labelKey } from './heads.js';
import { StoreClient } from '../../src/query/storeapi/client.js';
import { XorIterator } from '../../src/chunkenc/xor.js';
import type { TimeSeriesMsg } from '../../src/proto/schema.js';
import type { Matcher } from '../../src/model/matchers.js';
import type { HashringAlgorithm } from '../../src/peer/ring.js';
import { NODE_FLAGS } from '../../src/util/nodeFlags.js';

/**
 * sluiceBin finds `bin/sluice.js` above this file (it runs from dist/ or from a private build dir),
 * or takes SLUICE_BIN.
 */
export function sluiceBin(): string {
  const env = process.env['SLUICE_BIN'];
  if (env !== undefined && env !== '') return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'bin', 'sluice.js');
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) throw new Error('bin/sluice.js not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** ClusterOptions configure a ProcessCluster. */
export interface ClusterOptions {
  /** size: receivers started. */
  size: number;
  /** ring: indices of the receivers the initial hashrings file lists (default: all). */
  ring?: number[];
  replicationFactor: number;
  algorithm: HashringAlgorithm;
  /** flags: extra flags for every receiver (they come last, so they win). */
  flags?: string[];
}

/** ClusterNode is one receiver of the cluster; its ports and data dir survive restarts. */
export interface ClusterNode {
  readonly index: number;
  /** address: the remote-write host:port, as the hashring lists it. */
  readonly address: string;
  readonly writeUrl: string;
  readonly httpUrl: string;
  /** grpcAddress: the StoreAPI host:port. */
  readonly grpcAddress: string;
  /** dir: the data dir (--tsdb.path). */
  readonly dir: string;
  /** child: the running process, undefined while down. */
  child: ChildProcess | undefined;
  /** log: stderr of every run of this node so far (the last 1 MiB). */
  log: string;
}

/** LOG_LIMIT: the most characters of a child's stderr kept (the end of it). */
const LOG_LIMIT = 1 << 20;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** installExitHook kills children left running if the test process exits without stop(). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

/**
 * spawnSluice starts `node bin/sluice.js ...args`, SIGKILLed if the test process exits without
 * stopping it; `log` receives its stderr, kept to the last LOG_LIMIT characters by the caller's
 * `keep` (the log so far plus the new text, trimmed).
 */
export function spawnSluice(args: string[], log: (text: string) => void): ChildProcess {
  installExitHook();
  const child = spawn(process.execPath, [...NODE_FLAGS, sluiceBin(), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => log(s));
  return child;
}

/** trimLog appends `s` to `log`, keeping the last LOG_LIMIT characters. */
export function trimLog(log: string, s: string): string {
  const out = log + s;
  return out.length > LOG_LIMIT ? out.slice(-LOG_LIMIT) : out;
}

/** exitOf resolves when `c` has exited (at once if it already has), or false after `ms`. */
export function exitOf(c: ChildProcess, ms: number): Promise<boolean> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    c.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** ringJson renders a one-hashring file over `addresses`. */
export function ringJson(addresses: string[]): string {
  return JSON.stringify([{ hashring: 'default', endpoints: addresses }]);
}

/**
 * ProcessCluster is N `sluice receive` processes sharing a hashrings file. Create with
 * ProcessCluster.start(); always stop() it in a `finally`.
 */
export class ProcessCluster {
  readonly nodes: ClusterNode[];
  /** file: the hashrings file every node watches. */
  readonly file: string;
  /** dir: temp dir holding the file and the nodes' data dirs (removed by stop()). */
  readonly dir: string;
  private readonly opts: ClusterOptions;

  private constructor(opts: ClusterOptions, dir: string, nodes: ClusterNode[]) {
    this.opts = opts;
    this.dir = dir;
    this.file = join(dir, 'hashrings.json');
    this.nodes = nodes;
  }

  /** start picks ports, writes the ring and starts every node; resolves once all are ready. */
  static async start(opts: ClusterOptions): Promise<ProcessCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'));
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < opts.size; i++) {
      const [rw, http, grpc] = [await freePort(), await freePort(), await freePort()];
      const nodeDir = join(dir, `node${i}`);
      mkdirSync(nodeDir);
      nodes.push({
        index: i, address: `127.0.0.1:${rw}`, writeUrl: `http://127.0.0.1:${rw}`, httpUrl: `http://127.0.0.1:${http}`,
        grpcAddress: `127.0.0.1:${grpc}`, dir: nodeDir, child: undefined, log: '',
      });
    }
    const c = new ProcessCluster(opts, dir, nodes);
    writeFileSync(c.file, ringJson((opts.ring ?? nodes.map((n) => n.index)).map((i) => nodes[i]!.address)));
    try {
      await Promise.all(nodes.map((n) => c.restart(n.index)));
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /**
   * args are the flags of node `i` (the same on every restart). --query.timeout is long: these
   * tests check what queries return, not how fast. Five receivers, the load writer and the test
   * share the CPUs, and query threads run at SCHED_IDLE, so a node's first fan-out queries (cold
   * code, new peer connections) took up to ~7 s on 2 CPUs; latency is bench:query's to measure.
   */
  private args(n: ClusterNode): string[] {
    const o = this.opts;
    return [
      'receive', `--tsdb.path=${n.dir}`, `--remote-write.address=${n.address}`,
      `--http-address=${n.httpUrl.slice('http://'.length)}`, `--grpc-address=${n.grpcAddress}`,
      '--receive.shards=1', '--receive.gateways=1', '--query.workers=1', '--tsdb.wal.fsync=off',
      `--receive.hashrings-file=${this.file}`, `--receive.hashrings-algorithm=${o.algorithm}`,
      `--receive.replication-factor=${o.replicationFactor}`, `--receive.local-endpoint=${n.address}`,
      '--receive.hashrings-file-refresh-interval=200ms', '--receive-forward-timeout=2s',
      '--receive-forward-max-backoff=500ms', '--query.timeout=15s', '--http-grace-period=2s', '--log.level=info',
      ...(o.flags ?? []),
    ];
  }

  /**
   * restart starts node `i` (again) on its ports and data dir, so it replays its WAL, and waits
   * for /-/ready. The node must be down.
   */
  async restart(i: number): Promise<void> {
    const n = this.nodes[i]!;
    if (n.child !== undefined) throw new Error(`node ${i} is running`);
    const child = spawnSluice(this.args(n), (s) => { n.log = trimLog(n.log, s); });
    n.child = child;
    try {
      await waitReady(`${n.httpUrl}/-/ready`, child, 30_000);
    } catch (e) {
      throw new Error(`node ${i}: ${e instanceof Error ? e.message : String(e)}\n${n.log.slice(-4000)}`);
    }
  }

  /** kill SIGKILLs node `i` and resolves once it has exited. */
  async kill(i: number): Promise<void> {
    const n = this.nodes[i]!;
    const c = n.child;
    if (c === undefined) throw new Error(`node ${i} is not running`);
    c.kill('SIGKILL');
    await exitOf(c, 10_000);
    if (c.signalCode !== 'SIGKILL') throw new Error(`node ${i} ended with ${c.exitCode ?? c.signalCode} before the kill\n${n.log.slice(-4000)}`);
    n.child = undefined;
  }

  /** setRing atomically replaces the hashrings file (write a temp file, rename over) to list `indices`. */
  setRing(indices: number[]): void {
    const tmp = join(this.dir, `hashrings.${Date.now()}.tmp`);
    writeFileSync(tmp, ringJson(indices.map((i) => this.nodes[i]!.address)));
    renameSync(tmp, this.file);
  }

  /**
   * waitLog waits until node `i` has logged a line matching `re` after position `from` of its log
   * (take `from` as `nodes[i].log.length` before the action); fails after `ms`.
   */
  async waitLog(i: number, re: RegExp, from: number, ms = 10_000): Promise<void> {
    const n = this.nodes[i]!;
    const until = Date.now() + ms;
    while (!re.test(n.log.slice(from))) {
      if (Date.now() > until) throw new Error(`node ${i}: no log line matching ${re} within ${ms} ms\n${n.log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** stop ends every node (SIGTERM, SIGKILL after 5 s) and removes the temp dir; safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => {
      const c = n.child;
      if (c === undefined) return;
      n.child = undefined;
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      if (!await exitOf(c, 5_000)) {
        c.kill('SIGKILL');
        await exitOf(c, 5_000);
      }
    }));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Attempt is one HTTP try of a request: where it went and what came back. */
export interface Attempt {
  lane: number;
  /** seq: the request's number within its lane (retries keep it). */
  seq: number;
  /** target: index into LoadOptions.targets. */
  target: number;
  /** status: the HTTP status, 0 for a connection error or timeout. */
  status: number;
  error: string;
  start: number;
  end: number;
}

/** LoadOptions configure a LoadWriter. */
export interface LoadOptions {
  /** targets: remote-write base URLs, used round-robin like pods behind a Service. */
  targets: string[];
  /** lanes: concurrent senders; each sends its requests one after the other (a Prometheus shard). */
  lanes: number;
  tenant: string;
  /** build returns the series of request `seq` of `lane`; called once, the body is reused on retries. */
  build: (lane: number, seq: number) => TimeSeriesMsg[];
  /** onAck is called once when request (lane, seq) got a 2xx. */
  onAck?: (lane: number, seq: number) => void;
  /** pauseMs between two requests of a lane (default 5). */
  pauseMs?: number;
  /** first and longest retry backoff (defaults 20 ms and 500 ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * LoadWriter sends remote-write requests the way Prometheus does: each lane sends its requests in
 * order and retries a request on 5xx, 429, connection errors and timeouts with doubling backoff,
 * resending the same body; a 4xx other than 429 drops the request (recorded). Every try goes to
 * the next target in turn, so a dead node's share is rerouted to the others.
 */
export class LoadWriter {
  /** attempts: every try, in the order they ended. */
  readonly attempts: Attempt[] = [];
  /** acked: requests answered 2xx. */
  acked = 0;
  /** retries: tries beyond the first of each request. */
  retries = 0;
  /** dropped: requests given up on a non-retryable answer. */
  readonly dropped: Attempt[] = [];
  private readonly opts: LoadOptions;
  private readonly agent = new Agent({ connections: 8, keepAliveTimeout: 10_000 });
  private next = 0;
  private stopping = false;
  private stopAt = 0;
  private stopped: Promise<void> | undefined;
  private lanes: Promise<void>[] = [];

  constructor(opts: LoadOptions) {
    this.opts = opts;
  }

  /** start begins the lanes. */
  start(): void {
    for (let l = 0; l < this.opts.lanes; l++) this.lanes.push(this.lane(l));
  }

  /**
   * stop ends the load: no lane starts a new request. With `drainMs` 0 a lane gives up its current
   * request after the try in flight (it may stay unacked); otherwise it keeps retrying it for up to
   * `drainMs`. Closes the client; safe to call twice.
   */
  stop(drainMs = 0): Promise<void> {
    if (this.stopAt === 0) {
      this.stopping = true;
      this.stopAt = Date.now() + drainMs;
    }
    this.stopped ??= Promise.all(this.lanes).then(() => this.agent.close());
    return this.stopped;
  }

  /**
   * waitAcks waits until `n` requests have been acked in total, or until `giveUp()` says true;
   * fails after `ms`.
   */
  async waitAcks(n: number, ms = 15_000, giveUp: () => boolean = () => false): Promise<void> {
    const until = Date.now() + ms;
    while (this.acked < n && !giveUp()) {
      if (Date.now() > until) throw new Error(`only ${this.acked} of ${n} requests acked within ${ms} ms; last tries: ${JSON.stringify(this.attempts.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async lane(lane: number): Promise<void> {
    const o = this.opts;
    const headers = { ...RW_HEADERS, 'thanos-tenant': o.tenant };
    for (let seq = 0; !this.stopping; seq++) {
      const body = encodeBody({ timeseries: o.build(lane, seq) });
      let backoff = o.minBackoffMs ?? 20;
      for (let tries = 0; ; tries++) {
        if (tries > 0) this.retries++;
        const target = this.next++ % o.targets.length;
        const a: Attempt = { lane, seq, target, status: 0, error: '', start: Date.now(), end: 0 };
        try {
          const r = await request(`${o.targets[target]}/api/v1/receive`, {
            method: 'POST', headers, body, dispatcher: this.agent, headersTimeout: 10_000, bodyTimeout: 10_000,
          });
          a.status = r.statusCode;
          const text = await r.body.text();
          if (r.statusCode >= 300) a.error = text.slice(0, 300);
        } catch (e) {
          a.error = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
        }
        a.end = Date.now();
        this.attempts.push(a);
        if (a.status >= 200 && a.status < 300) {
          this.acked++;
          o.onAck?.(lane, seq);
          break;
        }
        if (a.status >= 400 && a.status < 500 && a.status !== 429) {
          this.dropped.push(a);
          break;
        }
        if (this.stopping && Date.now() >= this.stopAt) return;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 500);
      }
      await new Promise((r) => setTimeout(r, o.pauseMs ?? 5));
    }
  }
}

/** is2xx says whether a try was acknowledged. */
export function is2xx(a: Attempt): boolean {
  return a.status >= 200 && a.status < 300;
}

/** Sample is one sent sample: series label key, timestamp, value. */
export type Sample = [key: string, t: number, v: number];

/**
 * LoadBook builds the requests of a LoadWriter and keeps the books: request (lane, seq) carries
 * `laneSeries` series its lane repeats with increasing timestamps (`<prefix>_lane{lane,i}`) and
 * `newSeries` series of its own (`<prefix>_req{lane,seq,i}`), all at one timestamp, with values
 * that say which request sent them. Pass `build` and `ack` to the LoadWriter.
 */
export class LoadBook {
  /** sent: label key → timestamp → value of every sample built (acked or not). */
  readonly sent = new Map<string, Map<number, number>>();
  /** requests: `lane/seq` → its samples. */
  readonly requests = new Map<string, Sample[]>();
  /** acked: every sample of an acknowledged request, in ack order. */
  readonly acked: Sample[] = [];
  readonly ackedSeries = new Set<string>();
  /** labelsOf: label key → sorted label pairs. */
  readonly labelsOf = new Map<string, [string, string][]>();
  private readonly prefix: string;
  private readonly laneSeries: number;
  private readonly newSeries: number;
  private readonly lastT: number[] = [];

  constructor(prefix: string, laneSeries: number, newSeries: number) {
    this.prefix = prefix;
    this.laneSeries = laneSeries;
    this.newSeries = newSeries;
  }

  /** build returns the series of request `seq` of `lane` and records them as sent. */
  readonly build = (lane: number, seq: number): TimeSeriesMsg[] => {
    const t = this.lastT[lane] = Math.max((this.lastT[lane] ?? 0) + 1, Date.now());
    const out: TimeSeriesMsg[] = [];
    const samples: Sample[] = [];
    const add = (labels: Record<string, string>, v: number): void => {
      out.push(series(labels, [[t, v]]));
      const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const key = labelKey(pairs);
      samples.push([key, t, v]);
      let m = this.sent.get(key);
      if (m === undefined) {
        this.sent.set(key, m = new Map());
        this.labelsOf.set(key, pairs);
      }
      m.set(t, v);
    };
    for (let i = 0; i < this.laneSeries; i++) add({ __name__: `${this.prefix}_lane`, lane: String(lane), i: String(i) }, seq + i / 4);
    for (let i = 0; i < this.newSeries; i++) add({ __name__: `${this.prefix}_req`, lane: String(lane), seq: String(seq), i: String(i) }, lane * 1e6 + seq * 10 + i);
    this.requests.set(`${lane}/${seq}`, samples);
    return out;
  };

  /** ack records request (lane, seq) as acknowledged. */
  readonly ack = (lane: number, seq: number): void => {
    for (const s of this.requests.get(`${lane}/${seq}`)!) {
      this.acked.push(s);
      this.ackedSeries.add(s[0]);
    }
  };
}

/** QueryAnswer is an instant vector: label key → value, with the answer's warnings. */
export interface QueryAnswer { series: Map<string, number>; warnings: string[] }

/**
 * queryVector runs an instant PromQL query on one node (which fans out to its hashring peers) at
 * `timeMs` and returns each result series by labelKey, without the tenant label the read API adds;
 * throws unless the answer is 200 success.
 */
export async function queryVector(httpUrl: string, tenant: string, q: string, timeMs: number, tenantLabel = 'tenant_id'): Promise<QueryAnswer> {
  const r = await request(`${httpUrl}/api/v1/query?query=${encodeURIComponent(q)}&time=${timeMs / 1000}`, {
    headers: { 'thanos-tenant': tenant }, headersTimeout: 20_000, bodyTimeout: 20_000,
  });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`query ${q} on ${httpUrl}: ${r.statusCode} ${text.slice(0, 500)}`);
  const body = JSON.parse(text) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] }; warnings?: string[] };
  const series = new Map<string, number>();
  for (const s of body.data.result) {
    const labels = Object.entries(s.metric).filter(([n]) => n !== tenantLabel).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    series.set(labelKey(labels), Number(s.value[1]));
  }
  return { series, warnings: body.warnings ?? [] };
}

/**
 * ownSamples reads one node's own data over its StoreAPI (a receiver's Series answers from its
 * own heads and blocks, never from peers): label key (tenant label dropped) → timestamp → value.
 */
export async function ownSamples(grpcAddress: string, tenant: string, matchers: Matcher[], tenantLabel = 'tenant_id'): Promise<Map<string, Map<number, number>>> {
  const c = new StoreClient(grpcAddress, { timeoutMs: 15_000 });
  const out = new Map<string, Map<number, number>>();
  const it = new XorIterator();
  try {
    const req = { minTime: -9e15, maxTime: 9e15, matchers: [...matchers, { type: '=' as const, name: tenantLabel, value: tenant }] };
    for await (const x of c.series(req)) {
      if ('warning' in x) throw new Error(`${grpcAddress}: ${x.warning}`);
      const key = labelKey(x.labels.filter(([n]) => n !== tenantLabel));
      let samples = out.get(key);
      if (samples === undefined) out.set(key, samples = new Map());
      for (const ch of x.chunks) {
        it.reset(ch.data, 0, ch.data.length);
        while (it.next()) samples.set(it.t, it.v);
      }
    }
  } finally {
    c.close();
  }
  return out;
}
