/**
 * QueryPool runs PromQL queries in piscina worker threads (src/query/worker.ts). Each query gets a
 * MessageChannel: the worker sends its selects over it and this side, on the main thread, answers
 * them from a TenantSource (shared-memory heads and blocks) with raw chunks transferred, not
 * copied. Threads start on demand and leave after a minute idle.
 */
import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { queryFailure } from './httpApi.js';
import { transferList } from './seriesSet.js';
import type { TenantSource } from './querier.js';
import type { QueryAnswer, QueryTask, QueryWorkerData, SelectReply, SelectRequest } from './worker.js';
import type { CpuPriority } from '../util/thread.js';

/** QueryPoolOptions configures the pool and the engine in each worker. */
export interface QueryPoolOptions {
  /** threads: the most queries evaluated at once (piscina threads). */
  threads: number;
  lookbackDelta: number;
  maxSamples: number;
  timeoutMs: number;
  /** --query.cpu-priority of the query threads. */
  cpuPriority: CpuPriority;
}

/** QueryPool evaluates queries in worker threads. */
export class QueryPool {
  private readonly pool: Piscina<QueryTask, QueryAnswer>;
  private readonly opts: QueryPoolOptions;

  constructor(opts: QueryPoolOptions) {
    this.opts = opts;
    this.pool = new Piscina({
      filename: fileURLToPath(new URL('./worker.js', import.meta.url)),
      minThreads: 0,
      maxThreads: Math.max(1, opts.threads),
      idleTimeout: 60_000,
      // A query mostly waits for its selects at first: a second one may evaluate meanwhile.
      concurrentTasksPerWorker: 2,
      atomics: 'disabled',
      workerData: { cpuPriority: opts.cpuPriority } satisfies QueryWorkerData,
    });
  }

  /** run evaluates `query` over `source`; step 0 means an instant query at `start`. */
  async run(source: TenantSource, query: string, start: number, end: number, step: number): Promise<QueryAnswer> {
    const { port1, port2 } = new MessageChannel();
    port2.on('message', (m: SelectRequest) => {
      source.select(m.matchers, m.mint, m.maxt).then(
        (set) => port2.postMessage({ id: m.id, set } satisfies SelectReply, transferList(set)),
        (e: unknown) => port2.postMessage({ id: m.id, error: queryFailure(e) } satisfies SelectReply),
      );
    });
    try {
      const task: QueryTask = { query, start, end, step, port: port1, ...this.engineOptions() };
      return await this.pool.run(task, { transferList: [port1] });
    } finally {
      port2.close();
    }
  }

  private engineOptions(): Pick<QueryTask, 'lookbackDelta' | 'maxSamples' | 'timeoutMs'> {
    return { lookbackDelta: this.opts.lookbackDelta, maxSamples: this.opts.maxSamples, timeoutMs: this.opts.timeoutMs };
  }

  /** close ends the worker threads (queries still running are cut off). */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
