/**
 * Query worker (a piscina task): evaluates one PromQL query off the main thread, so a heavy query
 * neither stalls the admin endpoints (/metrics, probes) nor waits behind another query. The
 * engine's selects go back over the task's MessagePort to the main thread, which answers with the
 * heads' matching refs and the blocks' and peers' raw chunks (src/query/querier.ts TenantSource
 * gather); this thread copies the head series out of shared memory itself, through its feeds of
 * the shards' segment news (src/query/headSelect.ts); decoding, evaluation and the JSON
 * rendering of the answer happen here (a range query's points printed by WebAssembly:
 * src/query/render/). A series-local range query says so with its select; the main thread may
 * then split the selection (src/query/split.ts): this thread gets one part with the reply, other
 * threads get the other parts with their task, and each answers its series rendered one by one
 * for the main thread to merge. Touches its port and, read-only, the shards' shared memory.
 */
import type { MessagePort } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { lowerThreadPriority, nameThread, type CpuPriority } from '../util/thread.js';
import { BufferPool, type BufferLease } from '../util/bufferPool.js';
import { Engine } from './promql/engine.js';
import { parseExpr } from './promql/parse.js';
import { isSeriesLocal } from './promql/seriesLocal.js';
import { answerBytes, renderMatrixPart } from './render/matrixBytes.js';
import type { PartAnswer, PartInfo } from './split.js';
import { decodeSelection } from './seriesDecode.js';
import { assemble, type Gathered, type Subscriber } from './headSelect.js';
import { HeadFeeds } from '../sharedmem/headFeed.js';
import { queryFailure, type QueryFailure } from './httpApi.js';
import type { Matcher } from '../model/matchers.js';
import type { Querier, SelectHints, SeriesData } from './promql/storage.js';
import { warmUp } from './warmUp.js';

/**
 * Query threads run below ingestion (--query.cpu-priority, SCHED_IDLE by default), so that on a
 * busy machine a heavy query takes longer instead of delaying remote-write acknowledgements.
 */
nameThread('sluice-query');
lowerThreadPriority((workerData as QueryWorkerData | undefined)?.cpuPriority ?? 'idle');

/** QueryWorkerData is every query thread's workerData. */
export interface QueryWorkerData {
  cpuPriority: CpuPriority;
  /** warmUp: run the JIT warm-up (src/query/warmUp.ts) when the thread starts (--query.warm-up). */
  warmUp?: boolean;
}

/** active counts the tasks this thread is running: the warm-up waits while there are any. */
let active = 0;
if ((workerData as QueryWorkerData | undefined)?.warmUp === true) void warmUp({ busy: () => active > 0 });

/** QueryTask is what the main thread hands a worker. */
export interface QueryTask {
  query: string;
  start: number;
  end: number;
  step: number;
  lookbackDelta: number;
  maxSamples: number;
  timeoutMs: number;
  /** cancel is set (non-zero) by the main thread when the query's client went away. */
  cancel?: Int32Array;
  /** port carries the selects (and requests for head feeds) to the main thread. */
  port?: MessagePort;
  /** part is one part of a split query, gathered already (its one select is answered with it). */
  part?: { info: PartInfo; gathered: Gathered };
}

/**
 * SelectRequest asks the main thread for one selector's series; `splittable` says the query is a
 * series-local range query (src/query/promql/seriesLocal.ts), whose selection may be split.
 */
export interface SelectRequest {
  type: 'select'; id: number; matchers: Matcher[]; mint: number; maxt: number; splittable: boolean;
  /** deadline (epoch ms) of the query: the main thread stops waiting for peers then. */
  deadline?: number;
}

/** SubscribeRequest asks for feeds of the shards' segment news (src/query/headSelect.ts). */
export interface SubscribeRequest { type: 'subscribe'; id: number; shards: number[] }

/** TaskRequest is what a task's thread sends on its port. */
export type TaskRequest = SelectRequest | SubscribeRequest;

/**
 * SelectReply answers a SelectRequest with a gathered selection (head refs, blocks and peers
 * packed) or a failure already mapped to a status; `part` says it is one part of a split
 * selection (the other parts went to other threads).
 */
export type SelectReply =
  | { id: number; gathered: Gathered; part?: PartInfo }
  | { id: number; error: QueryFailure };

/** SubscribeReply answers a SubscribeRequest: a port per shard asked, and the generation it feeds. */
export type SubscribeReply =
  | { id: number; ports: MessagePort[]; generations: number[] }
  | { id: number; error: QueryFailure };

/**
 * QueryAnswer is a worker's answer: the whole response body (UTF-8), one part's series, or a
 * failure. Bodies and parts are transferred to the main thread, not copied.
 */
export type QueryAnswer = { body: Uint8Array } | { part: PartAnswer } | { error: QueryFailure };

/** moved has piscina transfer `buffers` with `answer` instead of copying them. */
function moved(answer: QueryAnswer, buffers: ArrayBufferLike[]): QueryAnswer {
  return move({ [transferableSymbol]: buffers, [valueSymbol]: answer }) as unknown as QueryAnswer;
}

class FailureError extends Error {
  readonly failure: QueryFailure;
  constructor(f: QueryFailure) {
    super(f.message);
    this.failure = f;
  }
}

/**
 * feeds are this thread's feeds of the shards' heads, kept from query to query (a thread opens
 * them on its first query and again after a shard restarts).
 */
const feeds = new HeadFeeds();

/**
 * buffers keeps this thread's large selection buffers from query to query, so that a query thread
 * (SCHED_IDLE) does not unmap hundreds of MB per query while ingestion waits on the memory-map
 * lock (src/util/bufferPool.ts). At most BUFFERS_KEPT_BYTES kept free, all let go after a minute
 * without queries.
 */
const BUFFERS_KEPT_BYTES = 512 << 20;
const buffers = new BufferPool({ maxBytes: BUFFERS_KEPT_BYTES, idleMs: 60_000 });

/** RemoteQuerier asks the main thread for selections over the task's port (or has its part already). */
class RemoteQuerier implements Querier {
  private readonly port: MessagePort | undefined;
  private readonly splittable: boolean;
  private given: Gathered | undefined;
  /** part is set when this thread evaluates one part of a split query. */
  part: PartInfo | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (m: SelectReply | SubscribeReply) => void>();
  /** Warnings the selections came with (peers that could not be read). */
  readonly warnings: string[] = [];
  private readonly subscribe: Subscriber = async (shards) => {
    const r = await this.ask({ type: 'subscribe', id: this.nextId++, shards }) as SubscribeReply;
    if ('error' in r) throw new FailureError(r.error);
    return r;
  };

  /** lease holds the large buffers of this query's selections until the query has answered. */
  private readonly lease: BufferLease;

  constructor(task: QueryTask, splittable: boolean, lease: BufferLease) {
    this.lease = lease;
    this.port = task.port;
    this.splittable = splittable;
    this.given = task.part?.gathered;
    this.part = task.part?.info;
    task.port?.on('message', (m: SelectReply | SubscribeReply) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      w(m);
    });
  }

  private ask(m: TaskRequest): Promise<SelectReply | SubscribeReply> {
    const port = this.port;
    if (port === undefined) return Promise.reject(new Error('query: no port to the main thread'));
    return new Promise((resolve) => {
      this.waiting.set(m.id, resolve);
      port.postMessage(m);
    });
  }

  /** maxSamples is the part's share of the sample budget when this is one part of a split query. */
  maxSamples(): number | undefined {
    return this.part?.maxSamples;
  }

  async select(matchers: Matcher[], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> {
    let g: Gathered;
    if (this.given !== undefined) {
      // A split query has one selector: its part came with the task.
      g = this.given;
      this.given = undefined;
    } else {
      const req: SelectRequest = { type: 'select', id: this.nextId++, matchers, mint, maxt, splittable: this.splittable };
      if (hints?.deadline !== undefined) req.deadline = hints.deadline;
      const r = await this.ask(req) as SelectReply;
      if ('error' in r) throw new FailureError(r.error);
      if (r.part) this.part = r.part;
      g = r.gathered;
    }
    const set = await assemble(feeds, g, mint, maxt, this.subscribe, this.lease);
    if (set.warnings) for (const w of set.warnings) if (!this.warnings.includes(w)) this.warnings.push(w);
    return decodeSelection(set, mint, maxt, hints);
  }
}

/** runQuery is the piscina entry: one query, answered as a response body or a failure. */
export default async function runQuery(task: QueryTask): Promise<QueryAnswer> {
  active++;
  // Released in `finally`: the engine has waited for every select by then (even a failed query's),
  // and the answer is rendered, so nothing reads the leased buffers any more.
  const lease = buffers.lease();
  try {
    const expr = parseExpr(task.query);
    const q = new RemoteQuerier(task, task.step > 0 && isSeriesLocal(expr), lease);
    const engine = new Engine({
      lookbackDelta: task.lookbackDelta, maxSamples: task.maxSamples, timeoutMs: task.timeoutMs,
      ...(task.cancel !== undefined ? { cancel: task.cancel } : {}),
    });
    const raw = await engine.execExpr(q, expr, task.start, task.end, task.step);
    raw.warnings.push(...q.warnings);
    if (q.part === undefined) {
      const body = answerBytes(raw);
      return moved({ body }, [body.buffer]);
    }
    const v = raw.value;
    if (v.type !== 'matrix') throw new Error(`query part: a ${v.type} result`);
    const { bytes, offs } = renderMatrixPart(v.series);
    const part: PartAnswer = { labels: v.series.map((s) => s.metric), bytes, offs, warnings: raw.warnings, infos: raw.infos };
    return moved({ part }, [bytes.buffer, offs.buffer]);
  } catch (e) {
    return { error: e instanceof FailureError ? e.failure : queryFailure(e) };
  } finally {
    lease.release();
    active--;
    task.port?.close();
  }
}
