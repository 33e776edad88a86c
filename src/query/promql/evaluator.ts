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
import { inspect, unwrapParens } from './ast.js';
import type { SeriesData } from './storage.js';
import {
  Annotations, PromQLError, dropMetadata, getLabel, labelsKey, newSeries, totalSamples,
  type Matrix, type Series, type StringValue,
} from './value.js';
import { evalAggregate } from './aggregations.js';
import { evalBinary } from './binary.js';
import { evalInstantFunction } from './functions.js';
import { evalInfo } from './info.js';
import { RANGE_FUNCTIONS, ANCHORED_SAFE, SMOOTHED_SAFE, extendFloats, interpolate, type Window } from './rangeFunctions.js';
import { compileAnchored, expandTemplate } from './regex.js';
import { setLabel } from './value.js';

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

/** tooManySamples is Prometheus' ErrTooManySamples for the query-execution environment. */
export function tooManySamples(): PromQLError {
  return new PromQLError('query processing would load too many samples into memory in query execution');
}

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

  /** checkTimeout throws when the query ran past its deadline (checked every few calls). */
  checkTimeout(): void {
    if ((++this.ops & 63) === 0 && Date.now() > this.q.deadline) throw new PromQLError('query timed out in expression evaluation');
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
    if (Date.now() > this.q.deadline) throw new PromQLError('query timed out in expression evaluation');
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
  private subqueryEvaluator(sq: Subquery): Evaluator {
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
    if (name === 'label_replace' || name === 'label_join') return this.evalLabelFunction(e);
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
    return this.evalRangeCall(e, matrixArg);
  }

  private evalRangeCall(e: Call, argIndex: number): Matrix {
    const name = e.func.name;
    const fn = RANGE_FUNCTIONS.get(name);
    if (!fn) throw new PromQLError(`function ${JSON.stringify(name)} does not take a range vector`);
    const arg = e.args[argIndex]!;

    // The range selector's series, window and modifiers.
    let series: PreparedSeries[];
    let offset: number;
    let range: number;
    let fixedWindow: boolean;
    let anchored = false;
    let smoothed = false;
    let subqueryCost = 0;
    if (arg.type === 'Subquery') {
      const sqEv = this.subqueryEvaluator(arg);
      const mat = sqEv.evalMatrix(arg.expr);
      this.cur = sqEv.cur;
      subqueryCost = totalSamples(mat);
      series = mat.map((s) => {
        const t = Float64Array.from(s.t);
        const v = Float64Array.from(s.f);
        // A name the subquery's expression dropped stays dropped (Prometheus hands the
        // subquery's series to the function with their final labels).
        const labels = s.dropName ? dropMetadata(s.metric) : s.metric;
        return { labels, t, v, stale: null, ct: t, cv: v, cst: undefined };
      });
      offset = arg.at !== undefined ? arg.originalOffset + (this.start - arg.at) : arg.offset;
      range = arg.range;
      fixedWindow = arg.at !== undefined;
    } else {
      const ms = arg as MatrixSelector;
      series = this.selectorData(ms.vs);
      offset = ms.vs.offset;
      range = ms.range;
      fixedWindow = ms.vs.at !== undefined;
      anchored = ms.vs.anchored;
      smoothed = ms.vs.smoothed;
    }
    if (anchored && !ANCHORED_SAFE.has(name)) {
      throw new PromQLError(`anchored modifier can only be used with: ${[...ANCHORED_SAFE].sort().join(', ')} - not with ${name}`);
    }
    if (smoothed && !SMOOTHED_SAFE.has(name)) {
      throw new PromQLError(`smoothed modifier can only be used with: ${[...SMOOTHED_SAFE].sort().join(', ')} - not with ${name}`);
    }

    // Scalar arguments, evaluated over all steps.
    const scalarArgs: Matrix[] = [];
    for (let i = 0; i < e.args.length; i++) {
      if (i === argIndex) continue;
      scalarArgs.push(this.evalMatrix(e.args[i]!));
    }
    const params: number[] = new Array<number>(scalarArgs.length).fill(NaN);

    const lb = this.q.lookback;
    const dropName = name !== 'last_over_time' && name !== 'first_over_time';
    const out: Matrix = [];
    const w: Window = {
      t: new Float64Array(0), v: new Float64Array(0), st: undefined, lo: 0, hi: 0, ts: 0,
      rangeStart: 0, rangeEnd: 0, rangeMs: range, anchored, smoothed, params, metric: [], annos: this.annos,
      fnName: name, argPos: arg.pos, scratch: new Float64Array(64), aux: 0,
    };
    const isRateLike = name === 'rate' || name === 'increase';
    for (const s of series) {
      this.checkTimeout();
      const nm = this.named(s.labels, dropName);
      const ss = newSeries(nm.metric, nm.dropName);
      w.t = s.ct;
      w.v = s.cv;
      w.st = s.cst;
      w.metric = s.labels;
      const t = s.ct;
      const n = t.length;
      let lo = 0;
      let hi = 0;
      let step = -1;
      for (let ts = this.start; ts <= this.end; ts += this.interval) {
        step++;
        for (let j = 0; j < scalarArgs.length; j++) {
          const sa = scalarArgs[j]!;
          params[j] = sa.length > 0 ? (sa[0]!.f[step] ?? NaN) : NaN;
        }
        if (ts === this.start || !fixedWindow) {
          let maxt = ts - offset;
          let mint = maxt - range;
          w.rangeStart = mint;
          w.rangeEnd = maxt;
          if (anchored) mint -= lb;
          else if (smoothed) {
            mint -= lb;
            maxt += lb;
          }
          while (lo < n && t[lo]! <= mint) lo++;
          if (hi < lo) hi = lo;
          while (hi < n && t[hi]! <= maxt) hi++;
          w.lo = lo;
          w.hi = hi;
        }
        if (w.lo >= w.hi) continue;
        w.ts = ts;
        const r = fn(w);
        if (r !== undefined) {
          ss.t.push(ts);
          ss.f.push(r);
        }
      }
      if (ss.t.length > 0) {
        this.addSamples(ss.t.length);
        out.push(ss);
        if (isRateLike) {
          const metricName = getLabel(s.labels, '__name__');
          if (metricName !== '' && !/_(?:total|sum|count|bucket)$/.test(metricName)) {
            this.annos.info(`metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(metricName)}`);
          }
        }
      }
    }
    this.cur -= subqueryCost;
    if (!this.delayed && name !== 'absent_over_time') {
      const seen = new Set<string>();
      for (const s of out) {
        const k = labelsKey(s.metric);
        if (seen.has(k)) throw new PromQLError('vector cannot contain metrics with the same labelset');
        seen.add(k);
      }
    }

    if (name === 'absent_over_time') {
      const steps = this.numSteps;
      for (const s of out) if (s.t.length === steps) return [];
      const found = new Set<number>();
      for (const s of out) for (const ts of s.t) found.add(ts);
      const res = newSeries(absentLabels(arg), dropName);
      for (let ts = this.start; ts <= this.end; ts += this.interval) {
        if (!found.has(ts)) {
          res.t.push(ts);
          res.f.push(1);
        }
      }
      return res.t.length > 0 ? [res] : [];
    }
    return out;
  }

  private evalLabelFunction(e: Call): Matrix {
    const str = (i: number): { val: string; valid: boolean; quoted: string } => {
      const a = unwrapParens(e.args[i]!);
      if (a.type !== 'StringLiteral') throw new PromQLError('expected string literal');
      return { val: a.val, valid: a.validUtf8, quoted: a.quoted };
    };
    if (e.func.name === 'label_replace') {
      const dst = str(1);
      const repl = str(2).val;
      const src = str(3).val;
      const reStr = str(4).val;
      let re: RegExp;
      try {
        re = compileLabelRegex(reStr);
      } catch {
        throw new PromQLError(`invalid regular expression in label_replace(): ${reStr}`);
      }
      if (!dst.valid || dst.val === '') throw new PromQLError(`invalid destination label name in label_replace(): ${dst.val}`);
      const mat = this.evalMatrix(e.args[0]!);
      for (const s of mat) {
        const srcVal = getLabel(s.metric, src);
        const m = re.exec(srcVal);
        if (!m) continue;
        const res = expandTemplate(repl, m);
        s.metric = setLabelSorted(s.metric, dst.val, res);
        if (dst.val === '__name__') s.dropName = false;
      }
      return mergeSeriesWithSameLabelset(mat);
    }
    // label_join
    const dst = str(1);
    const sep = str(2).val;
    const srcs: string[] = [];
    for (let i = 3; i < e.args.length; i++) {
      const s = str(i);
      if (!s.valid) throw new PromQLError(`invalid source label name in label_join(): ${s.val}`);
      srcs.push(s.val);
    }
    if (!dst.valid || dst.val === '') throw new PromQLError(`invalid destination label name in label_join(): ${dst.val}`);
    const mat = this.evalMatrix(e.args[0]!);
    for (const s of mat) {
      const v = srcs.map((l) => getLabel(s.metric, l)).join(sep);
      s.metric = setLabelSorted(s.metric, dst.val, v);
      if (dst.val === '__name__') s.dropName = false;
    }
    return mergeSeriesWithSameLabelset(mat);
  }
}

function compileLabelRegex(re: string): RegExp {
  return compileAnchored(re);
}

function setLabelSorted(ls: Labels, name: string, value: string): Labels {
  return setLabel(ls, name, value);
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

/**
 * absentLabels returns the labels absent() and absent_over_time() report: the equality matchers
 * of a selector argument, except names matched more than once.
 */
export function absentLabels(arg: Expr): Labels {
  const a = unwrapParens(arg);
  let vs: VectorSelector | null = null;
  if (a.type === 'VectorSelector') vs = a;
  else if (a.type === 'MatrixSelector') vs = a.vs;
  else if (a.type === 'StepInvariant') return absentLabels(a.expr);
  if (!vs) return [];
  const out = new Map<string, string>();
  const has = new Set<string>();
  for (const m of vs.matchers) {
    if (m.name === '__name__') continue;
    if (m.type === '=' && !has.has(m.name)) {
      out.set(m.name, m.value);
      has.add(m.name);
    } else {
      out.delete(m.name);
    }
  }
  return [...out.entries()].filter(([, v]) => v !== '').sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * mergeSeriesWithSameLabelset merges series that ended up with the same labels (after a
 * relabeling or name removal); samples at the same timestamp are an error.
 */
export function mergeSeriesWithSameLabelset(mat: Matrix): Matrix {
  if (mat.length <= 1) return mat;
  const byKey = new Map<string, Series[]>();
  let dup = false;
  for (const s of mat) {
    const k = labelsKey(s.metric);
    const g = byKey.get(k);
    if (g) {
      g.push(s);
      dup = true;
    } else byKey.set(k, [s]);
  }
  if (!dup) return mat;
  const out: Matrix = [];
  for (const g of byKey.values()) {
    if (g.length === 1) {
      out.push(g[0]!);
      continue;
    }
    const base = g[0]!;
    const pts: [number, number][] = [];
    for (const s of g) for (let i = 0; i < s.t.length; i++) pts.push([s.t[i]!, s.f[i]!]);
    pts.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < pts.length; i++) {
      if (pts[i]![0] === pts[i - 1]![0]) throw new PromQLError('vector cannot contain metrics with the same labelset');
    }
    base.t = pts.map((p) => p[0]);
    base.f = pts.map((p) => p[1]);
    out.push(base);
  }
  return out;
}

/** cleanupMetricLabels drops the names marked for dropping, then merges duplicates. */
export function cleanupMetricLabels(mat: Matrix, instant: boolean): Matrix {
  for (const s of mat) if (s.dropName) s.metric = dropMetadata(s.metric);
  if (instant) {
    const seen = new Set<string>();
    for (const s of mat) {
      const k = labelsKey(s.metric);
      if (seen.has(k)) throw new PromQLError('vector cannot contain metrics with the same labelset');
      seen.add(k);
    }
    return mat;
  }
  return mergeSeriesWithSameLabelset(mat);
}

/** subqueryTimes sums the offsets and ranges of the subqueries on a path, as Prometheus does. */
export function subqueryTimes(path: Expr[]): { offset: number; range: number; at: number | undefined } {
  let offset = 0;
  let range = 0;
  let at: number | undefined;
  for (const n of path) {
    if (n.type !== 'Subquery') continue;
    offset += n.originalOffset;
    range += n.range;
    if (n.at !== undefined) {
      offset = n.originalOffset;
      range = n.range;
      at = n.at;
    }
  }
  return { offset, range, at };
}

/**
 * setOffsetForAtModifier sets the working offset of every selector and subquery under `expr` so
 * that an `@` timestamp is reached from the evaluation time `evalTime`.
 */
export function setOffsetForAtModifier(evalTime: number, expr: Expr): void {
  const getOffset = (at: number | undefined, original: number, path: Expr[]): number => {
    if (at === undefined) return original;
    const sq = subqueryTimes(path);
    let subqOffset = sq.offset;
    if (sq.at !== undefined) subqOffset += evalTime - sq.at;
    return original + (evalTime - at) - subqOffset;
  };
  inspect(expr, (n, path) => {
    if (n.type === 'VectorSelector') n.offset = getOffset(n.at, n.originalOffset, path);
    else if (n.type === 'MatrixSelector') n.vs.offset = getOffset(n.vs.at, n.vs.originalOffset, path);
    else if (n.type === 'Subquery') n.offset = getOffset(n.at, n.originalOffset, path);
  });
}
