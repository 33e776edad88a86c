/**
 * QueryPool runs PromQL queries in piscina worker threads (src/query/worker.ts). Each query gets a
 * MessageChannel: the worker sends its selects over it and this side, on the main thread, answers
 * them from a TenantSource: the heads' matching series as refs, which the worker reads from shared
 * memory itself (src/query/headSelect.ts; a worker without a feed of a shard asks for one on the
 * same port), and the blocks' and peers' series as raw chunks, transferred, not copied. A
 * series-local range query whose selection is large is split over the free threads
 * (src/query/split.ts) and its parts' answers merged here. Threads start on demand, warm their
 * compiled code up (src/query/warmUp.ts) and then stay: a thread that left after a minute idle
 * took its compiled code with it, and the next dashboard refresh ran cold (two to three times
 * slower). A task goes to an idle thread, or to a new one while the pool may grow, before it
 * shares a busy thread.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { queryFailure, type QueryFailure } from './httpApi.js';
import { QUERY_CANCELED } from './promql/evaluator.js';
import { gatheredTransfer, type Gathered } from './headSelect.js';
import { gatheredCount, mergeParts, partBudget, partitionGathered, splitWays, type PartAnswer } from './split.js';
import type { TenantSource } from './querier.js';
import type { QueryAnswer, QueryTask, QueryWorkerData, SelectReply, SelectRequest, SubscribeReply, TaskRequest } from './worker.js';
import type { CpuPriority } from '../util/thread.js';

/** QueryPoolOptions configures the pool and the engine in each worker. */
export interface QueryPoolOptions {
  /** threads: the most queries evaluated at once (piscina threads). */
  threads: number;
  /** splitThreads: the most threads one query is split over (1: none; --query.split-threads). */
  splitThreads: number;
  lookbackDelta: number;
  maxSamples: number;
  timeoutMs: number;
  /** --query.cpu-priority of the query threads. */
  cpuPriority: CpuPriority;
  /** --query.warm-up: each thread warms its compiled code up when it starts. */
  warmUp: boolean;
  /** onSplit is told of each query evaluated in parts: answered from them, or evaluated again whole. */
  onSplit?: (outcome: 'merged' | 'rerun') => void;
}

type Balancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

/**
 * spreadBalancer picks an idle thread; with none idle it has the pool start another (returns null)
 * while there are fewer than `maxThreads`; only then does it share the least busy thread.
 */
function spreadBalancer(maxThreads: number, perThread: number): Balancer {
  return (_task, workers) => {
    let best: (typeof workers)[number] | null = null;
    for (const w of workers) {
      if (w.currentUsage === 0) return w;
      if (best === null || w.currentUsage < best.currentUsage) best = w;
    }
    if (workers.length < maxThreads) return null;
    return best !== null && best.currentUsage < perThread ? best : null;
  };
}

/**
 * THREAD_IDLE_MS: a started thread stays this long idle (the longest timer Node keeps, ~24.8
 * days: in effect for the process' life; a thread holds its heap, some MB when idle).
 */
const THREAD_IDLE_MS = 2_147_483_647;

/** PoolAnswer is a query's answer: the whole response body (UTF-8), or a failure. */
export type PoolAnswer = { body: Uint8Array } | { error: QueryFailure };

/** QueryCall is one query as run() was given it, with its cancel flag (set when its client is gone). */
type QueryCall = Pick<QueryTask, 'query' | 'start' | 'end' | 'step'> & { cancel: Int32Array };

/** TOO_MANY_SAMPLES starts the engine's error for a query over --query.max-samples. */
const TOO_MANY_SAMPLES = 'query processing would load too many samples';

/**
 * serveTask answers one task's port: its selects (gathered from `source`, then handed to
 * `onSelect`, which replies) and its threads' requests for head feeds.
 */
function serveTask(port: MessagePort, source: TenantSource, cancel: Int32Array, onSelect: (m: SelectRequest, g: Gathered) => void): void {
  port.on('message', (m: TaskRequest) => {
    if (Atomics.load(cancel, 0) !== 0) {
      port.postMessage({ id: m.id, error: queryFailure(new Error(QUERY_CANCELED)) } satisfies SelectReply | SubscribeReply);
      return;
    }
    if (m.type === 'subscribe') {
      try {
        const { ports, generations } = source.subscribe(m.shards);
        port.postMessage({ id: m.id, ports, generations } satisfies SubscribeReply, ports);
      } catch (e) {
        port.postMessage({ id: m.id, error: queryFailure(e) } satisfies SubscribeReply);
      }
      return;
    }
    source.gather(m.matchers, m.mint, m.maxt, m.deadline).then(
      (g) => onSelect(m, g),
      (e: unknown) => port.postMessage({ id: m.id, error: queryFailure(e) } satisfies SelectReply),
    );
  });
}

/** QueryPool evaluates queries in worker threads. */
export class QueryPool {
  private readonly pool: Piscina<QueryTask, QueryAnswer>;
  private readonly opts: QueryPoolOptions;
  /** inFlight counts the tasks (whole queries and parts) given to the pool and not yet answered. */
  private inFlight = 0;
  /** running holds every query (all its parts and reruns) not yet answered, for drained(). */
  private readonly running = new Set<Promise<PoolAnswer>>();

  constructor(opts: QueryPoolOptions) {
    this.opts = opts;
    const maxThreads = Math.max(1, opts.threads);
    this.pool = new Piscina({
      filename: fileURLToPath(new URL('./worker.js', import.meta.url)),
      minThreads: 0,
      maxThreads,
      idleTimeout: THREAD_IDLE_MS,
      // A query mostly waits for its selects at first: a second one may evaluate meanwhile.
      concurrentTasksPerWorker: 2,
      loadBalancer: spreadBalancer(maxThreads, 2),
      atomics: 'disabled',
      workerData: { cpuPriority: opts.cpuPriority, warmUp: opts.warmUp } satisfies QueryWorkerData,
    });
  }

  /**
   * run evaluates `query` over `source`; step 0 means an instant query at `start`. When `signal`
   * aborts (the client went away), the query stops at its thread's next deadline check and
   * answers Prometheus' canceled error; one not started yet stops before its selects.
   */
  run(source: TenantSource, query: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<PoolAnswer> {
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const onAbort = (): void => { Atomics.store(cancel, 0, 1); };
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const p = this.runWhole(source, { query, start, end, step, cancel });
    this.running.add(p);
    const done = (): void => {
      this.running.delete(p);
      signal?.removeEventListener('abort', onAbort);
    };
    p.then(done, done);
    return p;
  }

  /**
   * drained resolves once every query running now has been answered (queries started later are
   * not waited for). A block cut waits for it before the heads drop the cut range: a query thread
   * reads its head series after the main thread listed the blocks for it, so a query that listed
   * them before the cut's blocks were visible must read the heads before they lose the range
   * (as Prometheus' head truncation waits for the readers of the range it drops).
   */
  drained(): Promise<void> {
    return Promise.allSettled([...this.running]).then(() => undefined);
  }

  private async runWhole(source: TenantSource, call: QueryCall): Promise<PoolAnswer> {
    const answer = await this.runOnce(source, call, true);
    // A part that ran out of its share of the samples: the whole query again, in one thread, with
    // the whole budget, so that the answer is the one an unsplit query gives.
    if ('error' in answer && answer.error.message.startsWith(TOO_MANY_SAMPLES) && answer.split === true) {
      this.opts.onSplit?.('rerun');
      return this.runOnce(source, call, false);
    }
    return 'error' in answer ? { error: answer.error } : answer;
  }

  private async runOnce(
    source: TenantSource, call: QueryCall, mayPart: boolean,
  ): Promise<{ body: Uint8Array } | { error: QueryFailure; split?: boolean }> {
    const began = performance.now();
    const { port1, port2 } = new MessageChannel();
    const parts: Promise<QueryAnswer>[] = [];
    const opened: MessagePort[] = [port2];
    const onSelect = (m: SelectRequest, g: Gathered): void => {
      const ways = mayPart && m.splittable && parts.length === 0 ? splitWays(g, this.freeThreads()) : 1;
      if (ways < 2) {
        port2.postMessage({ id: m.id, gathered: g } satisfies SelectReply, gatheredTransfer(g));
        return;
      }
      const split = partitionGathered(g, ways, (shard, ref, f) => source.blobOf(shard, ref, f));
      const all = gatheredCount(g);
      const info = (w: number) => ({ index: w, count: ways, maxSamples: partBudget(this.opts.maxSamples, gatheredCount(split[w]!), all) });
      for (let w = 1; w < ways; w++) {
        const timeoutMs = Math.max(1, this.opts.timeoutMs - (performance.now() - began));
        // A part's thread reads its head series itself and may need feeds: it asks on its own port.
        const { port1: partPort, port2: partServe } = new MessageChannel();
        opened.push(partServe);
        serveTask(partServe, source, call.cancel, (pm) => {
          partServe.postMessage({ id: pm.id, error: queryFailure(new Error('query part: a second select')) } satisfies SelectReply);
        });
        const gw = split[w]!;
        const task: QueryTask = { ...call, ...this.engineOptions(), timeoutMs, port: partPort, part: { info: info(w), gathered: gw } };
        parts.push(this.task(task, [...gatheredTransfer(gw), partPort]).catch((e: unknown) => ({ error: queryFailure(e) })));
      }
      const g0 = split[0]!;
      port2.postMessage({ id: m.id, gathered: g0, part: info(0) } satisfies SelectReply, gatheredTransfer(g0));
    };
    serveTask(port2, source, call.cancel, onSelect);
    let first: QueryAnswer;
    try {
      first = await this.task({ ...call, port: port1, ...this.engineOptions() }, [port1]);
    } finally {
      port2.close();
    }
    if (parts.length === 0) {
      if ('part' in first) return { error: queryFailure(new Error('query part: a part answer from a whole query')) };
      return first;
    }
    let answers: QueryAnswer[];
    try {
      answers = [first, ...(await Promise.all(parts))];
    } finally {
      for (const p of opened) p.close();
    }
    const got: PartAnswer[] = [];
    for (const a of answers) {
      if ('error' in a) return { ...a, split: true };
      if (!('part' in a)) return { error: queryFailure(new Error('query part: a whole answer from a part')) };
      got.push(a.part);
    }
    this.opts.onSplit?.('merged');
    return { body: mergeParts(got) };
  }

  /** task gives one task to the pool, counted in inFlight while it runs. */
  private async task(task: QueryTask, transfer: (ArrayBuffer | MessagePort)[]): Promise<QueryAnswer> {
    this.inFlight++;
    try {
      return await this.pool.run(task, { transferList: transfer });
    } finally {
      this.inFlight--;
    }
  }

  /** freeThreads is how many threads a query that is running could split over (itself included, at most splitThreads). */
  private freeThreads(): number {
    return Math.max(1, Math.min(this.opts.splitThreads, this.opts.threads - this.inFlight + 1));
  }

  private engineOptions(): Pick<QueryTask, 'lookbackDelta' | 'maxSamples' | 'timeoutMs'> {
    return { lookbackDelta: this.opts.lookbackDelta, maxSamples: this.opts.maxSamples, timeoutMs: this.opts.timeoutMs };
  }

  /** close ends the worker threads (queries still running are cut off). */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
