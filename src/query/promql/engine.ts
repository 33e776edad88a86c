/**
 * The PromQL engine: parses a query, prepares the tree the way Prometheus' PreprocessExpr does
 * (duration expressions, `@ start()`/`@ end()`, step-invariant subtrees), works out each
 * selector's time range, awaits every `select`, then evaluates synchronously and returns the
 * result in the Prometheus HTTP API's JSON shape.
 *
 * The engine keeps no state between queries and touches no globals, so it can run in any
 * worker thread. Name removal is delayed to the end of evaluation (Prometheus'
 * `promql-delayed-name-removal`), which is what the conformance corpus expects.
 */
import { labelsToObject, type Labels } from '../../model/labels.js';
import {
  documentedType, exprType, inspect, unwrapParens,
  type Call, type Expr, type MatrixSelector, type VectorSelector,
} from './ast.js';
import { evalDuration, type DurationContext } from './durations.js';
import { Evaluator, isPreparedSeries, prepareSeries, type PreparedSeries, type QueryContext } from './evaluator.js';
import { setOffsetForAtModifier, timeRange } from './modifiers.js';
import { infoSelector } from './info.js';
import { parseExpr } from './parse.js';
import { labelProjection } from './projection.js';
import type { Querier, SelectHints, SeriesData } from './storage.js';
import { Annotations, PromQLError, cleanupMetricLabels, formatFloat, sortMatrix, type Matrix } from './value.js';

/** EngineOptions configures an Engine; all durations are milliseconds. */
export interface EngineOptions {
  /** lookbackDelta: how far back an instant selector looks for a sample (default 5m). */
  lookbackDelta?: number;
  /** maxSamples: the most samples a query may hold in memory at once (default 50,000,000). */
  maxSamples?: number;
  /** timeoutMs: the longest a query may run (default 2m). */
  timeoutMs?: number;
  /** noStepSubqueryIntervalMs: the step of subqueries written without one (default 1m). */
  noStepSubqueryIntervalMs?: number;
  /** cancel: a flag another thread sets (non-zero) to stop the query, its client gone (QueryContext.cancel). */
  cancel?: Int32Array;
  /**
   * delayedNameRemoval keeps metric names until the end of evaluation, as Prometheus does with
   * `--enable-feature=promql-delayed-name-removal` and in its own PromQL tests (default false,
   * as a stock Prometheus 3.x).
   */
  delayedNameRemoval?: boolean;
}

/**
 * asPrepared prepares one selected series (a lazy one prepares itself when decoded). Module-level:
 * a closure in the query would be compiled again in every query (rangeEval.ts SeriesSink).
 */
function asPrepared(d: SeriesData | PreparedSeries): PreparedSeries {
  return isPreparedSeries(d) ? d : prepareSeries(d);
}

/** QueryValue is an evaluation result before JSON formatting. */
export type QueryValue =
  | { type: 'vector'; series: { metric: Labels; t: number; v: number }[] }
  | { type: 'matrix'; series: { metric: Labels; t: number[]; v: number[] }[] }
  | { type: 'scalar'; t: number; v: number }
  | { type: 'string'; t: number; v: string };

/** RawResult is a result with its annotations, for callers that compare numbers (promqltest). */
export interface RawResult {
  value: QueryValue;
  warnings: string[];
  infos: string[];
}

/** ApiResult is the `data` of a Prometheus /api/v1/query(_range) response, plus annotations. */
export interface ApiResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: unknown;
  warnings: string[];
  infos: string[];
}

const AT_UNSAFE = new Set([
  'days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'hour', 'minute', 'month', 'year',
  'predict_linear', 'time', 'timestamp',
]);
const SORT_FUNCTIONS = new Set(['sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc']);

/** Engine runs PromQL queries against a Querier. */
export class Engine {
  readonly lookbackDelta: number;
  readonly maxSamples: number;
  readonly timeoutMs: number;
  readonly cancel?: Int32Array;
  readonly noStepSubqueryIntervalMs: number;
  readonly delayedNameRemoval: boolean;

  constructor(opts: EngineOptions = {}) {
    this.delayedNameRemoval = opts.delayedNameRemoval ?? false;
    this.lookbackDelta = opts.lookbackDelta ?? 5 * 60_000;
    this.maxSamples = opts.maxSamples ?? 50_000_000;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    if (opts.cancel !== undefined) this.cancel = opts.cancel;
    this.noStepSubqueryIntervalMs = opts.noStepSubqueryIntervalMs ?? 60_000;
  }

  /** instantQuery evaluates `expr` at time `t` (ms). */
  async instantQuery(q: Querier, expr: string, t: number): Promise<ApiResult> {
    return toApi(await this.exec(q, expr, t, t, 0));
  }

  /** rangeQuery evaluates `expr` at start, start+step, …, end (ms). */
  async rangeQuery(q: Querier, expr: string, start: number, end: number, step: number): Promise<ApiResult> {
    if (!(step > 0)) throw new PromQLError('zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (end < start) throw new PromQLError('end timestamp must not be before start time');
    return toApi(await this.exec(q, expr, start, end, step));
  }

  /**
   * exec runs a query and returns the unformatted result. `step` 0 means an instant query at
   * `start` (which must equal `end`).
   */
  async exec(q: Querier, exprText: string, start: number, end: number, step: number): Promise<RawResult> {
    return this.execExpr(q, parseExpr(exprText), start, end, step);
  }

  /**
   * execExpr is exec for an already parsed expression (which the query consumes: preparation
   * rewrites it in place).
   */
  async execExpr(q: Querier, root: Expr, start: number, end: number, step: number): Promise<RawResult> {
    const deadline = Date.now() + this.timeoutMs;
    const instant = step === 0;
    if (!instant) {
      const t = exprType(root);
      if (t !== 'vector' && t !== 'scalar') {
        throw new PromQLError(`invalid expression type ${JSON.stringify(documentedType(t))} for range query, must be Scalar or instant Vector`);
      }
    }
    const annos = new Annotations();
    const expr = preprocess(root, { stepMs: step, rangeMs: end - start }, start, end);
    if (!instant) {
      let sorts = false;
      inspect(expr, (n) => {
        if (n.type === 'Call' && SORT_FUNCTIONS.has(n.func.name)) sorts = true;
      });
      if (sorts) annos.warn('sort is ineffective for range queries since results are always ordered by labels');
    }

    // Every selector's time range, then all selects at once.
    const selectors: { vs: VectorSelector; mint: number; maxt: number; lazy: boolean }[] = [];
    const infoSelectors = new Map<Call, VectorSelector>();
    inspect(expr, (n, path) => {
      if (n.type === 'VectorSelector') {
        const parent = path[path.length - 1];
        const evalRange = parent && parent.type === 'MatrixSelector' ? parent.range : 0;
        const [mint, maxt] = timeRange(start, end, this.lookbackDelta, n, path, evalRange);
        selectors.push({ vs: n, mint, maxt, lazy: rangeFunctionArg(path) });
      } else if (n.type === 'Call' && n.func.name === 'info') {
        const vs = infoSelector(n);
        infoSelectors.set(n, vs);
        const [mint, maxt] = timeRange(start, end, this.lookbackDelta, vs, [...path, n], 0);
        selectors.push({ vs, mint, maxt, lazy: false });
      }
    });
    const projection = labelProjection(expr);
    // Every select is waited for, also when one fails: none may still be filling buffers the
    // querier takes back once the query returns (src/query/worker.ts).
    const settled = await Promise.allSettled(selectors.map((s) => {
      const labels = projection.get(s.vs);
      const hints: SelectHints = { deadline };
      if (labels !== undefined) hints.labels = labels;
      if (s.lazy) hints.lazy = true;
      return q.select(s.vs.matchers, s.mint, s.maxt, hints);
    }));
    const fetched = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    const data = new Map<VectorSelector, PreparedSeries[]>();
    // Lazy series (src/query/seriesDecode.ts) locate their stale markers when they are decoded.
    selectors.forEach((s, i) => data.set(s.vs, fetched[i]!.map(asPrepared)));

    setOffsetForAtModifier(start, expr);
    for (const vs of infoSelectors.values()) vs.offset = vs.at !== undefined ? vs.originalOffset + (start - vs.at) : vs.originalOffset;
    const ctx: QueryContext = {
      start, end, step, lookback: this.lookbackDelta, maxSamples: q.maxSamples?.() ?? this.maxSamples, deadline,
      ...(this.cancel !== undefined ? { cancel: this.cancel } : {}),
      noStepSubqueryInterval: () => this.noStepSubqueryIntervalMs, data, annos, infoSelectors,
      delayedNameRemoval: this.delayedNameRemoval,
    };
    const ev = new Evaluator(ctx, start, end, instant ? 1 : step);
    // Selects that waited on stores (peers) until the deadline leave an answer that is late.
    ev.checkNow();
    const res = ev.eval(expr);
    const warnings = annos.warnings;
    const infos = annos.infos;
    if (!Array.isArray(res)) return { value: { type: 'string', t: start, v: res.v }, warnings, infos };
    const mat = this.delayedNameRemoval ? cleanupMetricLabels(res, false) : res;
    const type = exprType(root);
    if (!instant || type === 'matrix') {
      return { value: { type: 'matrix', series: sortMatrix(mat).map((s) => ({ metric: s.metric, t: s.t, v: s.f })) }, warnings, infos };
    }
    if (type === 'scalar') {
      const s = mat[0];
      return { value: { type: 'scalar', t: start, v: s ? s.f[0]! : NaN }, warnings, infos };
    }
    return { value: { type: 'vector', series: vectorOf(mat, start) }, warnings, infos };
  }
}

/**
 * rangeFunctionArg tells, by its ancestors, a selector that is the range argument of a function
 * call (`rate(x[5m])`, also with `@`): the call reads its series one at a time and releases each
 * (src/query/promql/rangeEval.ts), so they may be decoded lazily.
 */
function rangeFunctionArg(path: readonly Expr[]): boolean {
  let k = path.length - 1;
  if (k < 1 || path[k]!.type !== 'MatrixSelector') return false;
  k--;
  if (path[k]!.type === 'StepInvariant') k--;
  return k >= 0 && path[k]!.type === 'Call';
}

function vectorOf(mat: Matrix, t: number): { metric: Labels; t: number; v: number }[] {
  return mat.map((s) => ({ metric: s.metric, t, v: s.f[0]! }));
}

/** toApi formats a result as Prometheus' HTTP API does. */
export function toApi(r: RawResult): ApiResult {
  const v = r.value;
  const ts = (t: number): number => t / 1000;
  switch (v.type) {
    case 'vector':
      return {
        resultType: 'vector',
        result: v.series.map((s) => ({ metric: labelsToObject(s.metric), value: [ts(s.t), formatFloat(s.v)] })),
        warnings: r.warnings, infos: r.infos,
      };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: v.series.map((s) => ({ metric: labelsToObject(s.metric), values: s.t.map((t, i) => [ts(t), formatFloat(s.v[i]!)]) })),
        warnings: r.warnings, infos: r.infos,
      };
    case 'scalar':
      return { resultType: 'scalar', result: [ts(v.t), formatFloat(v.v)], warnings: r.warnings, infos: r.infos };
    case 'string':
      return { resultType: 'string', result: [ts(v.t), v.v], warnings: r.warnings, infos: r.infos };
  }
}

function resolveDurations(e: Expr, ctx: DurationContext): void {
  const dur = (x: Parameters<typeof evalDuration>[0], neg: boolean): number => {
    try {
      return evalDuration(x, ctx, neg);
    } catch (err) {
      throw new PromQLError((err as Error).message);
    }
  };
  inspect(e, (n) => {
    if (n.type === 'VectorSelector' && n.originalOffsetExpr) {
      n.originalOffset = dur(n.originalOffsetExpr, true);
      n.offset = n.originalOffset;
    } else if (n.type === 'MatrixSelector' && n.rangeExpr) {
      n.range = dur(n.rangeExpr, false);
    } else if (n.type === 'Subquery') {
      if (n.originalOffsetExpr) {
        n.originalOffset = dur(n.originalOffsetExpr, true);
        n.offset = n.originalOffset;
      }
      if (n.stepExpr) n.step = dur(n.stepExpr, false);
      if (n.rangeExpr) n.range = dur(n.rangeExpr, false);
    }
  });
}

/**
 * preprocess resolves durations and `@ start()`/`@ end()`, strips parentheses around function and
 * aggregation arguments, and wraps the largest step-invariant subtrees in StepInvariant nodes so
 * that they are evaluated once (Prometheus' PreprocessExpr).
 */
export function preprocess(root: Expr, ctx: DurationContext, start: number, end: number): Expr {
  resolveDurations(root, ctx);
  const wrap = (e: Expr): Expr => ({ type: 'StepInvariant', expr: e, pos: e.pos });
  const helper = (e: Expr): { inv: boolean; wrap: boolean } => {
    switch (e.type) {
      case 'VectorSelector':
        if (e.atMode) e.at = e.atMode === 'start' ? start : end;
        return { inv: e.at !== undefined, wrap: e.at !== undefined };
      case 'Aggregate':
        e.expr = unwrapParens(e.expr);
        if (e.param) e.param = unwrapParens(e.param);
        return helper(e.expr);
      case 'Binary': {
        const l = helper(e.lhs);
        const r = helper(e.rhs);
        if (l.inv && r.inv) return { inv: true, wrap: true };
        if (l.wrap) e.lhs = wrap(e.lhs);
        if (r.wrap) e.rhs = wrap(e.rhs);
        return { inv: false, wrap: false };
      }
      case 'Call': {
        let inv = !AT_UNSAFE.has(e.func.name);
        const wraps: boolean[] = [];
        for (let i = 0; i < e.args.length; i++) {
          e.args[i] = unwrapParens(e.args[i]!);
          const h = helper(e.args[i]!);
          inv = inv && h.inv;
          wraps.push(h.wrap);
        }
        if (inv) return { inv: true, wrap: true };
        for (let i = 0; i < e.args.length; i++) if (wraps[i]) e.args[i] = wrap(e.args[i]!);
        return { inv: false, wrap: false };
      }
      case 'MatrixSelector':
        return { inv: helper(e.vs).inv, wrap: false };
      case 'Subquery': {
        const h = helper(e.expr);
        if (h.inv) e.expr = wrap(e.expr);
        if (e.atMode) e.at = e.atMode === 'start' ? start : end;
        return { inv: e.at !== undefined, wrap: e.at !== undefined };
      }
      case 'Paren':
      case 'Unary':
        return helper(e.expr);
      case 'StringLiteral':
      case 'NumberLiteral':
        return { inv: true, wrap: false };
      case 'StepInvariant':
        return { inv: true, wrap: false };
    }
  };
  const h = helper(root);
  return h.wrap ? wrap(root) : root;
}

export type { MatrixSelector };
