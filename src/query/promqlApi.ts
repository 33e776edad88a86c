/**
 * The PromQL part of the Prometheus HTTP API on --http-address, GET or POST (form) as Grafana
 * sends them: /api/v1/query, /api/v1/query_range, /api/v1/format_query, /api/v1/metadata,
 * /api/v1/query_exemplars, /api/v1/status/buildinfo, /api/v1/status/tsdb. Answers and errors in
 * Prometheus' JSON shape: parse errors are 400 bad_data, evaluation errors 422 execution,
 * timeouts 503 timeout, queries their client left 499 canceled (evaluated in worker threads).
 * A query only sees the tenant named by the tenant header.
 */
import { ErrorCode, SluiceError } from '../errors.js';
import { resolveTenant } from '../gateway/tenant.js';
import { failureReply, formParams, jsonReply, parseStep, parseTime, queryFailure } from './httpApi.js';
import { answerBytes } from './render/matrixBytes.js';
import { Engine } from './promql/engine.js';
import { parseExpr } from './promql/parse.js';
import { documentedType, exprType, type Expr } from './promql/ast.js';
import { prettify } from './promql/format.js';
import { DEFAULT_STATUS_LIMIT, cardinalityStats } from './tsdbStatus.js';
import { TenantQuerier, TenantSource, type QuerierOptions } from './querier.js';
import type { QueryPool } from './workerPool.js';
import { StatSlot } from '../sharedmem/layout.js';
import type { HttpReply, HttpRequest, Route } from '../gateway/http.js';

const VERSION = '0.1.0';
const JSON_HEADERS = { 'content-type': 'application/json' };

/** PromqlApiOptions configures the PromQL endpoints. */
export interface PromqlApiOptions extends QuerierOptions {
  tenantHeader: string;
  defaultTenant: string;
  lookbackDeltaMs: number;
  maxSamples: number;
  timeoutMs: number;
  /** Worker threads to evaluate queries in; absent: in this thread. */
  workers?: QueryPool;
  /** Called once per answered query with its endpoint (query, query_range), status and duration. */
  observe?: (handler: string, code: number, seconds: number) => void;
}

/** Answered is a reply a handler built itself (a worker's rendered answer). */
class Answered {
  readonly reply: HttpReply;
  constructor(reply: HttpReply) {
    this.reply = reply;
  }
}

/** PromqlApi serves the query endpoints. */
export class PromqlApi {
  private readonly opts: PromqlApiOptions;
  private readonly engine: Engine;

  constructor(opts: PromqlApiOptions) {
    this.opts = opts;
    this.engine = new Engine({ lookbackDelta: opts.lookbackDeltaMs, maxSamples: opts.maxSamples, timeoutMs: opts.timeoutMs });
  }

  routes(): Route[] {
    const maxBodyBytes = 8 << 20;
    const wrap = (f: (req: HttpRequest, p: URLSearchParams) => Promise<unknown>) => async (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => {
      try {
        const data = await f(req, formParams(req, body));
        if (data instanceof Answered) return data.reply;
        return jsonReply(200, { status: 'success', data });
      } catch (e) {
        return failureReply(queryFailure(e));
      }
    };
    const both = (path: string, f: (req: HttpRequest, p: URLSearchParams) => Promise<unknown>): Route[] => {
      const handler = wrap(f);
      return [{ method: 'GET', path, handler, maxBodyBytes }, { method: 'POST', path, handler, maxBodyBytes }];
    };
    const timed = (handler: string, f: (req: HttpRequest, p: URLSearchParams) => Promise<unknown>): Route[] => {
      const observe = this.opts.observe;
      if (observe === undefined) return both(`/api/v1/${handler}`, f);
      return both(`/api/v1/${handler}`, f).map((r) => ({
        ...r,
        handler: async (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => {
          const started = performance.now();
          const reply = await r.handler(req, body);
          observe(handler, reply.status, (performance.now() - started) / 1000);
          return reply;
        },
      }));
    };
    return [
      ...timed('query', (req, p) => this.query(req, p)),
      ...timed('query_range', (req, p) => this.queryRange(req, p)),
      ...both('/api/v1/format_query', async (_req, p) => this.formatQuery(p)),
      ...both('/api/v1/metadata', async () => ({})),
      ...both('/api/v1/query_exemplars', async () => []),
      ...both('/api/v1/status/buildinfo', async () => ({
        version: VERSION, revision: '', branch: '', buildUser: '', buildDate: '', goVersion: `node ${process.version}`,
      })),
      ...both('/api/v1/status/tsdb', (req, p) => this.tsdbStatus(req, p)),
    ];
  }

  private parse(text: string | null): Expr {
    if (text === null || text === '') throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "query": unknown position: parse error: no expression found in input');
    try {
      return parseExpr(text);
    } catch (e) {
      throw new SluiceError(ErrorCode.BadRequest, `invalid parameter "query": ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private tenant(req: HttpRequest): string {
    return resolveTenant(req.headers, this.opts.tenantHeader, this.opts.defaultTenant);
  }

  /** evaluate runs a checked query in a worker thread when there are any, else here. */
  private async evaluate(req: HttpRequest, text: string, expr: Expr, start: number, end: number, step: number): Promise<unknown> {
    const tenant = this.tenant(req);
    const workers = this.opts.workers;
    if (workers === undefined) {
      const q = new TenantQuerier(this.opts, tenant);
      const raw = await this.engine.execExpr(q, expr, start, end, step);
      for (const w of q.warnings) if (!raw.warnings.includes(w)) raw.warnings.push(w);
      return new Answered({ status: 200, headers: JSON_HEADERS, body: answerBytes(raw) });
    }
    // A query whose client went away stops (Grafana cancels a panel's query when its range moves).
    const a = await workers.run(new TenantSource(this.opts, tenant), text, start, end, step, req.abortSignal?.());
    if ('error' in a) return new Answered(failureReply(a.error));
    return new Answered({ status: 200, headers: JSON_HEADERS, body: a.body });
  }

  private async query(req: HttpRequest, p: URLSearchParams): Promise<unknown> {
    const text = p.get('query');
    const expr = this.parse(text);
    const t = parseTime(p.get('time'), Date.now(), 'time');
    return this.evaluate(req, text!, expr, t, t, 0);
  }

  private async queryRange(req: HttpRequest, p: URLSearchParams): Promise<unknown> {
    const start = parseTime(p.get('start'), NaN, 'start');
    const end = parseTime(p.get('end'), NaN, 'end');
    if (Number.isNaN(start)) throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "start": cannot parse "" to a valid timestamp');
    if (Number.isNaN(end)) throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "end": cannot parse "" to a valid timestamp');
    if (end < start) throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "end": end timestamp must not be before start time');
    const step = parseStep(p.get('step'), 'step');
    if (step <= 0) throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer');
    if ((end - start) / step > 11000) throw new SluiceError(ErrorCode.BadRequest, 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    const text = p.get('query');
    const expr = this.parse(text);
    const type = exprType(expr);
    if (type !== 'vector' && type !== 'scalar') {
      throw new SluiceError(ErrorCode.BadRequest, `invalid parameter "query": invalid expression type ${JSON.stringify(documentedType(type))} for range query, must be Scalar or instant Vector`);
    }
    return this.evaluate(req, text!, expr, start, end, step);
  }

  private async formatQuery(p: URLSearchParams): Promise<string> {
    // Prometheus answers parser.Prettify of the parsed expression (promql/format.ts).
    return prettify(this.parse(p.get('query')));
  }

  /**
   * tsdbStatus is Prometheus' head cardinality page for the request's tenant: the head's series
   * (all shards) counted by metric name, label name and label pair (src/query/tsdbStatus.ts).
   * The time range and the chunk count are the whole head's (shared by all tenants).
   */
  private async tsdbStatus(req: HttpRequest, p: URLSearchParams): Promise<unknown> {
    const limitParam = p.get('limit');
    const limit = limitParam === null || limitParam === '' ? DEFAULT_STATUS_LIMIT : Number(limitParam);
    const labels = await this.opts.pool.series({
      tenant: this.tenant(req), matcherSets: [[{ type: '=~', name: '__name__', value: '.+' }]], mint: -Infinity, maxt: Infinity,
    });
    const c = cardinalityStats(labels, limit);
    let minT = Infinity;
    let maxT = -Infinity;
    for (const s of this.opts.pool.shards) {
      minT = Math.min(minT, s.stat(StatSlot.MIN_T));
      maxT = Math.max(maxT, s.stat(StatSlot.MAX_T));
    }
    return {
      headStats: {
        numSeries: c.numSeries, numLabelPairs: c.numLabelPairs, chunkCount: 0,
        minTime: Number.isFinite(minT) ? minT : 0, maxTime: Number.isFinite(maxT) ? maxT : 0,
      },
      seriesCountByMetricName: c.seriesCountByMetricName, labelValueCountByLabelName: c.labelValueCountByLabelName,
      memoryInBytesByLabelName: c.memoryInBytesByLabelName, seriesCountByLabelValuePair: c.seriesCountByLabelValuePair,
    };
  }
}

