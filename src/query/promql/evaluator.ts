/**
 * The evaluator: Prometheus' step-wise evaluation (promql/engine.go `evaluator`). Every
 * expression evaluates to a Matrix over the evaluator's steps [start, end] by `interval`; an
 * instant query is a range evaluation with one step. Subqueries and step-invariant subtrees run
 * in child evaluators with their own steps.
 *
 * Selector data is fetched before evaluation starts (engine.ts) and handed in as PreparedSeries:
 * the raw arrays plus a copy without stale markers for range windows.
 */
import type { Labels } from '../../model/labels.js';
import type { Call, Expr, MatrixSelector, Subquery, VectorSelector } from './ast.js';
import { unwrapParens } from './ast.js';
import type { SeriesData } from './storage.js';
import {
  Annotations, PromQLError, dropMetadata, mergeSeriesWithSameLabelset, newSeries, tooManySamples, totalSamples,
  type Matrix, type Series, type StringValue,
} from './value.js';
import { evalAggregate } from './aggregations.js';
import { evalBinary } from './binary.js';
import { evalInstantFunction, evalLabelFunction } from './functions.js';
import { evalInfo } from './info.js';
import { setOffsetForAtModifier } from './modifiers.js';
import { evalRangeCall } from './rangeEval.js';
import { extendFloats, interpolate } from './rangeFunctions.js';

/** PreparedSeries is a selected series with its stale markers located. */
export interface PreparedSeries {
  labels: Labels;
  /** Raw samples, stale markers included (for instant selectors). */
  t: Float64Array;
  v: Float64Array;
  /** stale[i] is 1 when v[i] is a stale marker; null when the series has none. */
  stale: Uint8Array | null;
  /** Samples without stale markers (for range selectors); the raw arrays when there are none. */
  ct: Float64Array;
  cv: Float64Array;
  /** Start timestamps of the clean samples (0 = unknown), when storage has them. */
  cst: Float64Array | undefined;
  /**
   * release, on a lazy series (src/query/seriesDecode.ts), gives its decoded samples up once a
   * reader is done with them; they are decoded again if read again.
   */
  release?(): void;
}

/** isPreparedSeries tells a series a querier handed over prepared already (a lazy one). */
export function isPreparedSeries(d: SeriesData | PreparedSeries): d is PreparedSeries {
  return typeof (d as PreparedSeries).release === 'function';
}

const staleProbe = new Float64Array(1);
const staleBits = new Uint32Array(staleProbe.buffer);

/** isStale tells Prometheus' stale marker (NaN with bits 0x7ff0000000000002). */
export function isStale(v: number): boolean {
  if (v === v) return false;
  staleProbe[0] = v;
  return staleBits[1] === 0x7ff00000 && staleBits[0] === 2;
}

/** prepareSeries locates the stale markers of a series once. */
export function prepareSeries(d: SeriesData): PreparedSeries {
  let stale: Uint8Array | null = null;
  let nStale = 0;
  const v = d.v;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x !== x && isStale(x)) {
      stale ??= new Uint8Array(v.length);
      stale[i] = 1;
      nStale++;
    }
  }
  if (!stale) return { labels: d.labels, t: d.t, v: d.v, stale: null, ct: d.t, cv: d.v, cst: d.st };
  const n = v.length - nStale;
  const ct = new Float64Array(n);
  const cv = new Float64Array(n);
  const cst = d.st ? new Float64Array(n) : undefined;
  for (let i = 0, j = 0; i < v.length; i++) {
    if (stale[i]) continue;
    ct[j] = d.t[i]!;
    cv[j] = v[i]!;
    if (cst) cst[j] = d.st![i]!;
    j++;
  }
  return { labels: d.labels, t: d.t, v: d.v, stale, ct, cv, cst };
}

/** QueryContext is what every evaluator of one query shares. */
export interface QueryContext {
  /** The query's own start, end and step (ms; step 0 for instant queries). */
  start: number;
  end: number;
  step: number;
  lookback: number;
  maxSamples: number;
  deadline: number;
  /**
   * cancel, when set, is a flag another thread sets (to non-zero) when the query's client went
   * away: evaluation stops at its next deadline check, as it does at the deadline.
   */
  cancel?: Int32Array;
  noStepSubqueryInterval: (rangeMs: number) => number;
  data: Map<VectorSelector, PreparedSeries[]>;
  annos: Annotations;
  /** infoSelectors holds the selector of each info() call's candidate info series. */
  infoSelectors?: Map<Call, VectorSelector>;
  /**
   * delayedNameRemoval keeps metric names until the end of evaluation (Prometheus'
   * promql-delayed-name-removal); otherwise every operation drops them at once.
   */
  delayedNameRemoval: boolean;
}

/** QUERY_CANCELED is the error of a query whose client went away (Prometheus' wording). */
export const QUERY_CANCELED = 'query was canceled in expression evaluation';

/** Evaluator evaluates expressions over the steps start, start+interval, …, end. */
export class Evaluator {
  readonly q: QueryContext;
  readonly start: number;
  readonly end: number;
  readonly interval: number;
  /** cur is the number of samples held in memory (Prometheus' currentSamples). */
  cur: number;
  private ops = 0;

  constructor(q: QueryContext, start: number, end: number, interval: number, cur = 0) {
    this.q = q;
    this.start = start;
    this.end = end;
    this.interval = interval;
    this.cur = cur;
  }

  get numSteps(): number {
    return Math.floor((this.end - this.start) / this.interval) + 1;
  }

  get annos(): Annotations {
    return this.q.annos;
  }

  /** isInstant tells whether this evaluator has a single step. */
  get isInstant(): boolean {
    return this.start === this.end;
  }

  /** delayed tells whether name removal is delayed to the end of evaluation. */
  get delayed(): boolean {
    return this.q.delayedNameRemoval;
  }

  /**
   * named returns the labels and drop flag of a result whose metric name goes away: flagged when
   * name removal is delayed, dropped now otherwise.
   */
  named(metric: Labels, drop: boolean): { metric: Labels; dropName: boolean } {
    if (!drop) return { metric, dropName: false };
    return this.q.delayedNameRemoval ? { metric, dropName: true } : { metric: dropMetadata(metric), dropName: false };
  }

  /**
   * settle merges series that dropping names made identical when names are dropped at once
   * (Prometheus' rangeEval does this by series hash); the same labels at one step are an error.
   */
  settle(mat: Matrix): Matrix {
    return this.q.delayedNameRemoval ? mat : mergeSeriesWithSameLabelset(mat);
  }

  /** stepIndex maps a step timestamp to its index. */
  stepIndex(ts: number): number {
    return Math.round((ts - this.start) / this.interval);
  }

  /** checkNow throws Prometheus' errors for a query that was canceled or ran past its deadline. */
  checkNow(): void {
    const q = this.q;
    if (q.cancel !== undefined && Atomics.load(q.cancel, 0) !== 0) throw new PromQLError(QUERY_CANCELED);
    if (Date.now() > q.deadline) throw new PromQLError('query timed out in expression evaluation');
  }

  /** checkTimeout throws when the query was canceled or ran past its deadline (checked every few calls). */
  checkTimeout(): void {
    if ((++this.ops & 63) === 0) this.checkNow();
  }

  /** addSamples accounts for samples now held in memory. */
  addSamples(n: number): void {
    this.cur += n;
    if (this.cur > this.q.maxSamples) throw tooManySamples();
  }

  child(start: number, end: number, interval: number): Evaluator {
    return new Evaluator(this.q, start, end, interval, this.cur);
  }

  /** evalMatrix evaluates an expression that is not a string. */
  evalMatrix(e: Expr): Matrix {
    const v = this.eval(e);
    if (!Array.isArray(v)) throw new PromQLError(`unexpected string in ${e.type}`);
    return v;
  }

  eval(e: Expr): Matrix | StringValue {
    this.checkNow();
    if (this.end < this.start) return [];
    const before = this.cur;
    const out = this.evalNode(e);
    if (Array.isArray(out)) {
      this.cur = before + totalSamples(out);
      if (this.cur > this.q.maxSamples) throw tooManySamples();
    }
    return out;
  }

  private evalNode(e: Expr): Matrix | StringValue {
    switch (e.type) {
      case 'NumberLiteral': {
        const s = newSeries([]);
        for (let ts = this.start; ts <= this.end; ts += this.interval) {
          s.t.push(ts);
          s.f.push(e.val);
        }
        return [s];
      }
      case 'StringLiteral':
        return { kind: 'string', v: e.val };
      case 'Paren':
        return this.eval(e.expr);
      case 'VectorSelector':
        return e.smoothed ? this.smoothSeries(e) : this.evalSeries(e);
      case 'MatrixSelector':
        if (this.start !== this.end) throw new PromQLError('cannot do range evaluation of matrix selector');
        return this.matrixSelector(e);
      case 'Subquery':
        return this.evalSubqueryMatrix(e);
      case 'StepInvariant':
        return this.evalStepInvariant(e.expr);
      case 'Unary': {
        const m = this.evalMatrix(e.expr);
        if (e.op === '-') {
          for (const s of m) {
            if (this.delayed) s.dropName = true;
            else s.metric = dropMetadata(s.metric);
            for (let i = 0; i < s.f.length; i++) s.f[i] = -s.f[i]!;
          }
          return this.settle(m);
        }
        return m;
      }
      case 'Binary':
        return evalBinary(this, e);
      case 'Aggregate':
        return evalAggregate(this, e);
      case 'Call':
        return this.evalCall(e);
    }
  }

  // --- selectors -----------------------------------------------------------------------------

  selectorData(vs: VectorSelector): PreparedSeries[] {
    const d = this.q.data.get(vs);
    if (!d) throw new PromQLError('internal error: selector data was not fetched');
    return d;
  }

  /** evalSeries evaluates an instant vector selector: the newest sample within the lookback. */
  evalSeries(vs: VectorSelector): Matrix {
    const data = this.selectorData(vs);
    const out: Matrix = [];
    const lb = this.q.lookback;
    const off = vs.offset;
    for (const s of data) {
      this.checkTimeout();
      const t = s.t;
      const n = t.length;
      let series: Series | null = null;
      let j = 0;
      for (let ts = this.start; ts <= this.end; ts += this.interval) {
        const ref = ts - off;
        while (j < n && t[j]! <= ref) j++;
        if (j === 0) continue;
        const k = j - 1;
        if (t[k]! <= ref - lb) continue;
        if (s.stale !== null && s.stale[k] === 1) continue;
        series ??= newSeries(s.labels);
        series.t.push(ts);
        series.f.push(s.v[k]!);
        this.addSamples(1);
      }
      if (series) out.push(series);
    }
    return out;
  }

  /** smoothSeries evaluates `metric smoothed`: values interpolated between neighbouring samples. */
  private smoothSeries(vs: VectorSelector): Matrix {
    const data = this.selectorData(vs);
    const out: Matrix = [];
    const lb = this.q.lookback;
    for (const s of data) {
      const t = s.ct;
      const v = s.cv;
      const series = newSeries(s.labels);
      for (let ts = this.start; ts <= this.end; ts += this.interval) {
        const ref = ts - vs.offset;
        // Samples in (ref-lb, ref+lb].
        let lo = lowerBoundGt(t, ref - lb);
        const hi = lowerBoundGt(t, ref + lb);
        if (lo >= hi) continue;
        // First index with T >= ref.
        let i = lo;
        while (i < hi && t[i]! < ref) i++;
        if (i < hi && t[i] === ref) {
          series.t.push(ts);
          series.f.push(v[i]!);
        } else if (i > lo && i < hi) {
          series.t.push(ts);
          series.f.push(interpolate(t[i - 1]!, v[i - 1]!, t[i]!, v[i]!, ref, false));
        } else if (i > lo) {
          series.t.push(ts);
          series.f.push(v[i - 1]!);
        }
        lo = i;
      }
      if (series.t.length > 0) {
        this.addSamples(series.t.length);
        out.push(series);
      }
    }
    return out;
  }

  /** matrixSelector evaluates a range selector at the (single) evaluation time. */
  private matrixSelector(ms: MatrixSelector): Matrix {
    const vs = ms.vs;
    const data = this.selectorData(vs);
    const maxt = this.start - vs.offset;
    const mint = maxt - ms.range;
    const lb = this.q.lookback;
    const out: Matrix = [];
    for (const s of data) {
      let lo: number;
      let hi: number;
      if (vs.anchored) {
        lo = lowerBoundGt(s.ct, mint - lb);
        hi = lowerBoundGt(s.ct, maxt);
      } else if (vs.smoothed) {
        lo = lowerBoundGt(s.ct, mint - lb);
        hi = lowerBoundGt(s.ct, maxt + lb);
      } else {
        lo = lowerBoundGt(s.ct, mint);
        hi = lowerBoundGt(s.ct, maxt);
      }
      const series = newSeries(s.labels);
      if (vs.anchored || vs.smoothed) {
        const ext = extendFloats(s.ct, s.cv, lo, hi, mint, maxt, vs.smoothed);
        series.t = ext.t;
        series.f = ext.f;
      } else {
        for (let i = lo; i < hi; i++) {
          series.t.push(s.ct[i]!);
          series.f.push(s.cv[i]!);
        }
      }
      if (series.t.length > 0) {
        this.addSamples(series.t.length);
        out.push(series);
      }
    }
    return out;
  }

  // --- subqueries and step invariance --------------------------------------------------------

  /** subqueryEvaluator makes the child evaluator of a subquery. */
  subqueryEvaluator(sq: Subquery): Evaluator {
    const interval = sq.step !== 0 ? sq.step : this.q.noStepSubqueryInterval(sq.range);
    const lower = this.start - sq.offset - sq.range;
    let start = interval * Math.trunc(lower / interval);
    if (start <= lower) start += interval;
    const ev = this.child(start, this.end - sq.offset, interval);
    if (start !== this.start) setOffsetForAtModifier(start, sq.expr);
    return ev;
  }

  private evalSubqueryMatrix(sq: Subquery): Matrix {
    const ev = this.subqueryEvaluator(sq);
    const res = ev.evalMatrix(sq.expr);
    this.cur = ev.cur;
    return res;
  }

  private evalStepInvariant(inner: Expr): Matrix | StringValue {
    const ev = this.child(this.start, this.start, this.interval);
    const res = ev.eval(inner);
    this.cur = ev.cur;
    const u = unwrapParens(inner);
    if (!Array.isArray(res) || u.type === 'MatrixSelector' || u.type === 'Subquery') return res;
    if (this.start === this.end) return res;
    for (const s of res) {
      if (s.t.length !== 1) throw new PromQLError('unexpected number of samples');
      const v = s.f[0]!;
      for (let ts = this.start + this.interval; ts <= this.end; ts += this.interval) {
        s.t.push(ts);
        s.f.push(v);
      }
      this.addSamples(s.t.length - 1);
    }
    return res;
  }

  // --- function calls ------------------------------------------------------------------------

  private evalCall(e: Call): Matrix {
    const name = e.func.name;
    if (name === 'label_replace' || name === 'label_join') return evalLabelFunction(this, e);
    if (name === 'info') return evalInfo(this, e);
    let matrixArg = -1;
    for (let i = 0; i < e.args.length; i++) {
      let a = e.args[i]!;
      // A range argument with @ may have been wrapped as step invariant; range functions read it
      // directly.
      if (a.type === 'StepInvariant' && (a.expr.type === 'MatrixSelector' || a.expr.type === 'Subquery')) {
        a = a.expr;
        e.args[i] = a;
      }
      if (a.type === 'MatrixSelector' || a.type === 'Subquery') {
        matrixArg = i;
        break;
      }
    }
    if (matrixArg < 0) return evalInstantFunction(this, e);
    return evalRangeCall(this, e, matrixArg);
  }
}

/** lowerBoundGt returns the first index i with a[i] > x. */
export function lowerBoundGt(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

