/**
 * Query worker (a piscina task): evaluates one PromQL query off the main thread, so a heavy query
 * neither stalls the admin endpoints (/metrics, probes) nor waits behind another query. The
 * engine's selects go back over the task's MessagePort to the main thread, which gathers the raw
 * chunks (src/query/querier.ts TenantSource) and transfers them; decoding, evaluation and the JSON
 * rendering of the answer happen here. Touches nothing but its port.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'piscina';
import { lowerThreadPriority, nameThread, type CpuPriority } from '../util/thread.js';
import { Engine } from './promql/engine.js';
import { answerJson } from './answerJson.js';
import { parseExpr } from './promql/parse.js';
import { decodeSeriesSet, type RawSeriesSet } from './seriesSet.js';
import { queryFailure, type QueryFailure } from './httpApi.js';
import type { Matcher } from '../model/matchers.js';
import type { Querier, SelectHints, SeriesData } from './promql/storage.js';

/**
 * Query threads run below ingestion (--query.cpu-priority, SCHED_IDLE by default), so that on a
 * busy machine a heavy query takes longer instead of delaying remote-write acknowledgements.
 */
nameThread('sluice-query');
lowerThreadPriority((workerData as QueryWorkerData | undefined)?.cpuPriority ?? 'idle');

/** QueryWorkerData is every query thread's workerData. */
export interface QueryWorkerData {
  cpuPriority: CpuPriority;
}

/** QueryTask is what the main thread hands a worker. */
export interface QueryTask {
  query: string;
  start: number;
  end: number;
  step: number;
  lookbackDelta: number;
  maxSamples: number;
  timeoutMs: number;
  port: MessagePort;
}

/** SelectRequest asks the main thread for one selector's series. */
export interface SelectRequest { id: number; matchers: Matcher[]; mint: number; maxt: number }

/** SelectReply answers a SelectRequest with a set or a failure already mapped to a status. */
export type SelectReply =
  | { id: number; set: RawSeriesSet }
  | { id: number; error: QueryFailure };

/** QueryAnswer is a worker's answer: the whole response body, or a failure. */
export type QueryAnswer = { body: string } | { error: QueryFailure };

class FailureError extends Error {
  readonly failure: QueryFailure;
  constructor(f: QueryFailure) {
    super(f.message);
    this.failure = f;
  }
}

/** RemoteQuerier asks the main thread for selections over the task's port. */
class RemoteQuerier implements Querier {
  private readonly port: MessagePort;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (s: RawSeriesSet) => void; reject: (e: Error) => void }>();
  /** Warnings the selections came with (peers that could not be read). */
  readonly warnings: string[] = [];

  constructor(port: MessagePort) {
    this.port = port;
    port.on('message', (m: SelectReply) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if ('error' in m) w.reject(new FailureError(m.error));
      else w.resolve(m.set);
    });
  }

  async select(matchers: Matcher[], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> {
    const id = this.nextId++;
    const set = await new Promise<RawSeriesSet>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ id, matchers, mint, maxt } satisfies SelectRequest);
    });
    if (set.warnings) for (const w of set.warnings) if (!this.warnings.includes(w)) this.warnings.push(w);
    return decodeSeriesSet(set, mint, maxt, undefined, hints?.labels);
  }
}

/** runQuery is the piscina entry: one query, answered as a response body or a failure. */
export default async function runQuery(task: QueryTask): Promise<QueryAnswer> {
  const q = new RemoteQuerier(task.port);
  try {
    const engine = new Engine({ lookbackDelta: task.lookbackDelta, maxSamples: task.maxSamples, timeoutMs: task.timeoutMs });
    const raw = await engine.execExpr(q, parseExpr(task.query), task.start, task.end, task.step);
    raw.warnings.push(...q.warnings);
    return { body: answerJson(raw) };
  } catch (e) {
    return { error: e instanceof FailureError ? e.failure : queryFailure(e) };
  } finally {
    task.port.close();
  }
}
