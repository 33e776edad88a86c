/**
 * The driver of range-vector functions: for each series of a range selector or subquery, it
 * slides the window (start, end] along the steps with two cursors and calls the function on the
 * window in place (rangeFunctions.ts), as Prometheus' evaluator does for calls with a matrix
 * argument. `anchored`/`smoothed` selectors widen the window by the lookback delta.
 */
import type { Call, MatrixSelector } from './ast.js';
import type { Evaluator, PreparedSeries } from './evaluator.js';
import { absentLabels } from './functions.js';
import { ANCHORED_SAFE, RANGE_FUNCTIONS, SMOOTHED_SAFE, type Window } from './rangeFunctions.js';
import { PromQLError, dropMetadata, getLabel, isMetadataLabel, labelsKey, newSeries, tooManySamples, totalSamples, type Matrix, type Series } from './value.js';
import type { Labels } from '../../model/labels.js';

/** metadataKey is a series' metadata labels (those dropMetadata removes), as one string. */
function metadataKey(ls: Labels): string {
  let k = '';
  for (const l of ls) if (isMetadataLabel(l[0])) k += l[0] + '\xff' + l[1] + '\xff';
  return k;
}

/**
 * evalRangeCall evaluates a call with a range-vector argument (argument `argIndex`): its series
 * one by one (rangeCallSeries), then the checks that need them all.
 */
export function evalRangeCall(ev: Evaluator, e: Call, argIndex: number): Matrix {
  const rc = prepareRangeCall(ev, e, argIndex);
  const out: Matrix = [];
  rangeCallSeries(ev, rc, out);
  ev.cur -= rc.subqueryCost;
  const name = rc.name;
  if (rc.mayCollide && !ev.delayed && name !== 'absent_over_time') {
    const seen = new Set<string>();
    for (const s of out) {
      const k = labelsKey(s.metric);
      if (seen.has(k)) throw new PromQLError('vector cannot contain metrics with the same labelset');
      seen.add(k);
    }
  }

  if (name === 'absent_over_time') {
    const steps = ev.numSteps;
    for (const s of out) if (s.t.length === steps) return [];
    const found = new Set<number>();
    for (const s of out) for (const ts of s.t) found.add(ts);
    const res = newSeries(absentLabels(rc.arg), rc.dropName);
    for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
      if (!found.has(ts)) {
        res.t.push(ts);
        res.f.push(1);
      }
    }
    return res.t.length > 0 ? [res] : [];
  }
  return out;
}

/**
 * streamRangeCall returns, when a call's result series can be consumed one at a time without
 * changing the answer, a function that evaluates them and hands each to `sink` (in the order
 * evalRangeCall would return them, with the same sample accounting); undefined otherwise
 * (subqueries, absent_over_time, and series that may collide once their names are dropped, which
 * is checked over the whole result). An aggregation over `rate(x[5m])` then never holds the 100k
 * intermediate series: src/query/promql/aggregations.ts.
 */
export function streamRangeCall(ev: Evaluator, e: Call, argIndex: number): { series: readonly PreparedSeries[]; dropName: boolean; run: (sink: SeriesSink) => void } | undefined {
  const arg = e.args[argIndex]!;
  if (arg.type !== 'MatrixSelector' || e.func.name === 'absent_over_time') return undefined;
  const rc = prepareRangeCall(ev, e, argIndex);
  if (rc.mayCollide && !ev.delayed) return undefined;
  return { series: rc.series, dropName: rc.dropName, run: (sink) => rangeCallSeries(ev, rc, sink) };
}

/**
 * RangeCall is a prepared call: its series and window. Preparing has no effect on the evaluator
 * (for a selector argument), so a caller may still decline to stream; the scalar arguments are
 * evaluated when the series are.
 */
interface RangeCall {
  call: Call;
  argIndex: number;
  name: string;
  fn: NonNullable<ReturnType<typeof RANGE_FUNCTIONS.get>>;
  arg: Call['args'][number];
  series: PreparedSeries[];
  offset: number;
  range: number;
  fixedWindow: boolean;
  anchored: boolean;
  smoothed: boolean;
  subqueryCost: number;
  dropName: boolean;
  /** mayCollide: the series differ in the labels the call drops, so results may coincide. */
  mayCollide: boolean;
}

function prepareRangeCall(ev: Evaluator, e: Call, argIndex: number): RangeCall {
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
    const sqEv = ev.subqueryEvaluator(arg);
    const mat = sqEv.evalMatrix(arg.expr);
    ev.cur = sqEv.cur;
    subqueryCost = totalSamples(mat);
    series = mat.map((s) => {
      const t = Float64Array.from(s.t);
      const v = Float64Array.from(s.f);
      // A name the subquery's expression dropped stays dropped (Prometheus hands the
      // subquery's series to the function with their final labels).
      const labels = s.dropName ? dropMetadata(s.metric) : s.metric;
      return { labels, t, v, stale: null, ct: t, cv: v, cst: undefined };
    });
    offset = arg.at !== undefined ? arg.originalOffset + (ev.start - arg.at) : arg.offset;
    range = arg.range;
    fixedWindow = arg.at !== undefined;
  } else {
    const ms = arg as MatrixSelector;
    series = ev.selectorData(ms.vs);
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

  const dropName = name !== 'last_over_time' && name !== 'first_over_time';
  // The series given are distinct; dropping the same metadata labels (the same metric name, say)
  // from all of them keeps them distinct. Only series whose dropped labels differ may collide.
  let mayCollide = false;
  if (dropName && series.length > 1) {
    const first = metadataKey(series[0]!.labels);
    for (let i = 1; i < series.length && !mayCollide; i++) mayCollide = metadataKey(series[i]!.labels) !== first;
  }
  return { call: e, argIndex, name, fn, arg, series, offset, range, fixedWindow, anchored, smoothed, subqueryCost, dropName, mayCollide };
}

/** CHECK_EVERY_SAMPLES: window samples handed to range functions between two deadline checks. */
const CHECK_EVERY_SAMPLES = 1 << 20;

/**
 * SeriesSink takes result series one at a time (an array does). A sink is an object with a
 * method, not a closure: a query's closures die with it, and V8 drops the optimized code of dead
 * closures at the next full GC, so every query compiled them again on V8's helper threads, at
 * normal priority beside ingestion (30 queries over 5k series: 199 TurboFan samples, 23 after).
 */
export interface SeriesSink {
  push(s: Series): void;
  /**
   * pushPoints, when a sink has it, takes each result series instead of push, as columns valid
   * only during the call (points [0, n); the caller reuses them): an aggregation that folds the
   * series at once spares the heap two growing arrays a series (over 100k series × 480 steps,
   * 0.8 GB of them at their final size, more while they grow).
   */
  pushPoints?(metric: Labels, dropName: boolean, t: Float64Array, f: Float64Array, n: number): void;
}

/** SeriesPass is the per-call state rangeCallSeries carries from one series to the next. */
interface SeriesPass {
  rc: RangeCall;
  w: Window;
  scalarArgs: Matrix[];
  isRateLike: boolean;
  /** Window samples looked at since the last deadline check. */
  work: number;
  /** The result columns reused for every series when the sink takes pushPoints (one slot a step). */
  outT: Float64Array | undefined;
  outF: Float64Array | undefined;
}

/** rangeCallSeries evaluates the call's series in order, handing each non-empty result to `sink`. */
function rangeCallSeries(ev: Evaluator, rc: RangeCall, sink: SeriesSink): void {
  // Scalar arguments, evaluated over all steps.
  const scalarArgs: Matrix[] = [];
  for (let i = 0; i < rc.call.args.length; i++) {
    if (i !== rc.argIndex) scalarArgs.push(ev.evalMatrix(rc.call.args[i]!));
  }
  const params: number[] = new Array<number>(scalarArgs.length).fill(NaN);
  const w: Window = {
    t: new Float64Array(0), v: new Float64Array(0), st: undefined, lo: 0, hi: 0, ts: 0,
    rangeStart: 0, rangeEnd: 0, rangeMs: rc.range, anchored: rc.anchored, smoothed: rc.smoothed, params, metric: [], annos: ev.annos,
    fnName: rc.name, argPos: rc.arg.pos, scratch: new Float64Array(64), aux: 0, noDrops: false,
  };
  const columns = sink.pushPoints !== undefined;
  const pass: SeriesPass = {
    rc, w, scalarArgs, isRateLike: rc.name === 'rate' || rc.name === 'increase', work: 0,
    outT: columns ? new Float64Array(ev.numSteps) : undefined, outF: columns ? new Float64Array(ev.numSteps) : undefined,
  };
  // The loop over series stays small and the work per series is its own function: called once per
  // series, it is optimized by call count and keeps its code, where a long loop here would be
  // compiled on stack replacement again in every query.
  for (const s of rc.series) {
    ev.checkTimeout();
    rangeSeries(ev, pass, s, sink);
  }
}

/** rangeSeries evaluates the call over one series, handing its result to `sink` when not empty. */
function rangeSeries(ev: Evaluator, pass: SeriesPass, s: PreparedSeries, sink: SeriesSink): void {
  const { rc, w, scalarArgs, isRateLike } = pass;
  const { fn, offset, range, fixedWindow, anchored, smoothed, dropName } = rc;
  const params = w.params;
  const lb = ev.q.lookback;
  const outT = pass.outT;
  const outF = pass.outF;
  const ss = outT === undefined ? newSeries([]) : undefined;
  let out = 0;
  w.t = s.ct;
  w.v = s.cv;
  w.st = s.cst;
  w.metric = s.labels;
  const t = s.ct;
  const n = t.length;
  w.noDrops = false;
  if (isRateLike) {
    // One pass per series spares every window its reset scan when there is nothing to find.
    // (A NaN compares false, as in the scan itself.)
    const v = s.cv;
    let drops = false;
    for (let i = 1; i < n && !drops; i++) drops = v[i]! < v[i - 1]!;
    w.noDrops = !drops;
  }
  let lo = 0;
  let hi = 0;
  let step = -1;
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    step++;
    for (let j = 0; j < scalarArgs.length; j++) {
      const sa = scalarArgs[j]!;
      params[j] = sa.length > 0 ? (sa[0]!.f[step] ?? NaN) : NaN;
    }
    if (ts === ev.start || !fixedWindow) {
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
    // Prometheus holds one window per series in memory; it counts towards the sample limit.
    if (ev.cur + out + (w.hi - w.lo) > ev.q.maxSamples) throw tooManySamples();
    w.ts = ts;
    // One series with long windows (a subquery's, say) is checked as it goes, not only at its end.
    pass.work += w.hi - w.lo;
    if (pass.work > CHECK_EVERY_SAMPLES) {
      pass.work = 0;
      ev.checkNow();
    }
    const r = fn(w);
    if (r === undefined) continue;
    if (ss !== undefined) {
      ss.t.push(ts);
      ss.f.push(r);
    } else {
      outT![out] = ts;
      outF![out] = r;
    }
    out++;
  }
  // A lazy series' samples are not read again by this call (src/query/seriesDecode.ts).
  s.release?.();
  if (out > 0) {
    ev.addSamples(out);
    const nm = ev.named(s.labels, dropName);
    if (ss === undefined) sink.pushPoints!(nm.metric, nm.dropName, outT!, outF!, out);
    else {
      ss.metric = nm.metric;
      ss.dropName = nm.dropName;
      sink.push(ss);
    }
    if (isRateLike) {
      const metricName = getLabel(s.labels, '__name__');
      if (metricName !== '' && !/_(?:total|sum|count|bucket)$/.test(metricName)) {
        ev.annos.info(`metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(metricName)}`);
      }
    }
  }
}
