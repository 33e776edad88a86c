/**
 * Range-vector functions (rate, *_over_time, deriv, …), after Prometheus' promql/functions.go.
 * Each function reads one series' window [lo, hi) of the shared sample arrays, without copying
 * and without allocating per sample, and returns the output value or undefined for no output.
 */
import type { Labels } from '../../model/labels.js';
import type { PosRange } from './ast.js';
import { PromQLError, formatGoG, type Annotations } from './value.js';
import { quantile } from './quantile.js';

/** Window is one series' samples in the range of one step; reused across calls. */
export interface Window {
  t: Float64Array;
  v: Float64Array;
  /** Start timestamps of the samples (0 = unknown), when storage has them. */
  st: Float64Array | undefined;
  lo: number;
  hi: number;
  /** ts is the evaluation time; rangeStart/rangeEnd the selector's nominal (start, end]. */
  ts: number;
  rangeStart: number;
  rangeEnd: number;
  rangeMs: number;
  anchored: boolean;
  smoothed: boolean;
  /** params are the scalar arguments at this step, in argument order. */
  params: number[];
  metric: Labels;
  annos: Annotations;
  fnName: string;
  argPos: PosRange;
  /** scratch is a reusable buffer for functions that sort the window's values. */
  scratch: Float64Array;
  /** aux carries a second result out of helpers (the intercept of linearRegression). */
  aux: number;
  /** noDrops: no value of the whole series is below the one before (no counter reset anywhere). */
  noDrops: boolean;
}

export type RangeFn = (w: Window) => number | undefined;

/** ANCHORED_SAFE lists the functions that take `anchored` range selectors. */
export const ANCHORED_SAFE: ReadonlySet<string> = new Set(['resets', 'changes', 'rate', 'increase', 'delta']);
/** SMOOTHED_SAFE lists the functions that take `smoothed` range selectors. */
export const SMOOTHED_SAFE: ReadonlySet<string> = new Set(['rate', 'increase', 'delta']);

/**
 * isStartTimestampReset tells whether start timestamps show a counter reset between two samples.
 * A start timestamp of 0 is unknown, and one at or after its own sample's time is not usable.
 * A start time equal to the previous sample's time is a reset (a delta sample) only when the
 * previous sample's own start time is usable; otherwise it is a cumulative series whose start is
 * unknown.
 */
export function isStartTimestampReset(prevST: number, prevT: number, currST: number, currT: number): boolean {
  if (currST === 0 || currST >= currT) return false;
  if (currST < prevT) return false;
  if (currST > prevT) return true;
  return prevST !== 0 && prevST < prevT;
}

/** interpolate is the linear interpolation of Prometheus' smoothed selectors. */
export function interpolate(t1: number, y1: number, t2: number, y2: number, t: number, isCounter: boolean): number {
  if (isCounter && y2 < y1) y1 = 0;
  return y1 + (y2 - y1) * (t - t1) / (t2 - t1);
}

/** searchFirst is Go's sort.Search over [from, from+n): the first index where pred holds. */
function searchFirst(from: number, n: number, pred: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(from + mid)) hi = mid;
    else lo = mid + 1;
  }
  return from + lo;
}

/**
 * extendFloats builds the points an `anchored`/`smoothed` range selector returns on its own: a
 * point at each boundary (the anchor sample's value, or interpolated) and the samples inside.
 */
export function extendFloats(t: Float64Array, v: Float64Array, lo: number, hi: number, mint: number, maxt: number, smoothed: boolean): { t: number[]; f: number[] } {
  const n = hi - lo;
  if (n <= 0) return { t: [], f: [] };
  let last = hi - 1;
  let first = Math.max(lo, searchFirst(lo, n - 1, (i) => t[i]! > mint) - 1);
  if (smoothed) last = searchFirst(lo, n - 1, (i) => t[i]! >= maxt);
  if (t[last]! <= mint) return { t: [], f: [] };
  const left = smoothed && t[first]! < mint ? interpolate(t[first]!, v[first]!, t[first + 1]!, v[first + 1]!, mint, false) : v[first]!;
  const right = smoothed && last > lo && t[last]! > maxt ? interpolate(t[last - 1]!, v[last - 1]!, t[last]!, v[last]!, maxt, false) : v[last]!;
  if (t[first]! <= mint) first++;
  if (t[last]! >= maxt) last--;
  const ot = [mint];
  const of = [left];
  for (let i = first; i <= last; i++) {
    ot.push(t[i]!);
    of.push(v[i]!);
  }
  ot.push(maxt);
  of.push(right);
  return { t: ot, f: of };
}

/** extendedRate is rate/increase/delta over `anchored` or `smoothed` range selectors. */
function extendedRate(w: Window, isCounter: boolean, isRate: boolean): number | undefined {
  const { t, v, lo, hi, rangeStart, rangeEnd, smoothed } = w;
  const n = hi - lo;
  let last = hi - 1;
  let first = Math.max(lo, searchFirst(lo, n - 1, (i) => t[i]! > rangeStart) - 1);
  if (smoothed) last = searchFirst(lo, n - 1, (i) => t[i]! >= rangeEnd);
  if (t[last]! <= rangeStart) return undefined;
  // Smoothed: nothing to interpolate when all data lies after the range.
  if (smoothed && t[first]! > rangeEnd) return undefined;
  const left = smoothed && t[first]! < rangeStart
    ? interpolate(t[first]!, v[first]!, t[first + 1]!, v[first + 1]!, rangeStart, isCounter)
    : v[first]!;
  const right = smoothed && last > lo && t[last]! > rangeEnd
    ? interpolate(t[last - 1]!, v[last - 1]!, t[last]!, v[last]!, rangeEnd, isCounter)
    : v[last]!;
  let result = right - left;
  if (isCounter) {
    if (t[first]! <= rangeStart) first++;
    if (t[last]! >= rangeEnd) last--;
    let correction = 0;
    let prev = left;
    for (let i = first; i <= last; i++) {
      if (v[i]! < prev) correction += prev;
      prev = v[i]!;
    }
    if (right < prev) correction += prev;
    result += correction;
  }
  if (isRate) result /= w.rangeMs / 1000;
  return result;
}

/**
 * extrapolatedRate is rate(), increase() and delta(): the change over the samples in range,
 * corrected for counter resets and extrapolated towards the range boundaries. When the first
 * sample's start timestamp lies inside the range, the counter is known to have been 0 there, so
 * that point replaces the extrapolation to the left.
 */
function extrapolatedRate(w: Window, isCounter: boolean, isRate: boolean): number | undefined {
  if (w.anchored || w.smoothed) return extendedRate(w, isCounter, isRate);
  const { t, v, st, lo, hi } = w;
  const n = hi - lo;
  let zeroAt = 0;
  if (isCounter && st !== undefined && n > 0) {
    const firstST = st[lo]!;
    if (firstST !== 0 && firstST < t[lo]! && firstST > w.rangeStart) zeroAt = firstST;
  }
  if (n < 2 && zeroAt === 0) return undefined;
  const firstT = t[lo]!;
  const lastT = t[hi - 1]!;
  let result = v[hi - 1]! - v[lo]!;
  // Without start times and without any drop in the series, the reset scan finds nothing.
  if (isCounter && !(w.noDrops && st === undefined)) {
    let overlap = false;
    for (let i = lo + 1; i < hi; i++) {
      if (v[i]! < v[i - 1]!) {
        result += v[i - 1]!;
        continue;
      }
      if (st !== undefined) {
        const cur = st[i]!;
        if (isStartTimestampReset(st[i - 1]!, t[i - 1]!, cur, t[i]!)) result += v[i - 1]!;
        else if (cur !== 0 && cur < t[i]! && cur < t[i - 1]! && cur !== st[i - 1]!) overlap = true;
      }
    }
    if (overlap) {
      let name = '';
      for (const [k, val] of w.metric) if (k === '__name__') name = val;
      w.annos.warn(`sample has start time that overlaps with previous sample timestamp for metric ${JSON.stringify(name)}`);
    }
  }
  let durationToEnd = (w.rangeEnd - lastT) / 1000;
  const averageDurationBetweenSamples = (lastT - firstT) / 1000 / (n - 1);
  const extrapolationThreshold = averageDurationBetweenSamples * 1.1;
  let sampledInterval: number;
  let durationToStart: number;
  if (zeroAt !== 0) {
    // The counter was 0 at its start time: count the first sample's value from there.
    result += v[lo]!;
    sampledInterval = (lastT - zeroAt) / 1000;
    durationToStart = 0;
    if (n < 2) durationToEnd = 0;
  } else {
    sampledInterval = (lastT - firstT) / 1000;
    durationToStart = (firstT - w.rangeStart) / 1000;
    if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
    if (isCounter) {
      let durationToZero = durationToStart;
      if (result > 0 && v[lo]! >= 0) durationToZero = sampledInterval * (v[lo]! / result);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
  }
  if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= w.rangeMs / 1000;
  return result * factor;
}

/** instantValue is irate() and idelta(): the last two samples. */
function instantValue(w: Window, isRate: boolean): number | undefined {
  const { t, v, st, hi } = w;
  if (hi - w.lo < 2) return undefined;
  const t0 = t[hi - 2]!;
  const t1 = t[hi - 1]!;
  const v0 = v[hi - 2]!;
  const v1 = v[hi - 1]!;
  const sampledInterval = t1 - t0;
  if (sampledInterval === 0) return undefined;
  let result = v1;
  const reset = v1 < v0 || (st !== undefined && isStartTimestampReset(st[hi - 2]!, t0, st[hi - 1]!, t1));
  if (!isRate || !reset) result = v1 - v0;
  if (isRate) result /= sampledInterval / 1000;
  return result;
}

/**
 * linearRegression returns the least-squares slope of the window and leaves the intercept at
 * interceptTime in w.aux. Sums use Kahan summation, written out to avoid allocating.
 */
function linearRegression(w: Window, interceptTime: number): number {
  const { t, v, lo, hi } = w;
  let n = 0;
  let sumX = 0, cX = 0, sumY = 0, cY = 0, sumXY = 0, cXY = 0, sumX2 = 0, cX2 = 0;
  const initY = v[lo]!;
  let constY = true;
  for (let i = lo; i < hi; i++) {
    const y = v[i]!;
    if (constY && i > lo && y !== initY) constY = false;
    n += 1;
    const x = (t[i]! - interceptTime) / 1e3;
    let s = sumX + x;
    if (s === Infinity || s === -Infinity) cX = 0;
    else if (Math.abs(sumX) >= Math.abs(x)) cX += (sumX - s) + x;
    else cX += (x - s) + sumX;
    sumX = s;
    s = sumY + y;
    if (s === Infinity || s === -Infinity) cY = 0;
    else if (Math.abs(sumY) >= Math.abs(y)) cY += (sumY - s) + y;
    else cY += (y - s) + sumY;
    sumY = s;
    const xy = x * y;
    s = sumXY + xy;
    if (s === Infinity || s === -Infinity) cXY = 0;
    else if (Math.abs(sumXY) >= Math.abs(xy)) cXY += (sumXY - s) + xy;
    else cXY += (xy - s) + sumXY;
    sumXY = s;
    const x2 = x * x;
    s = sumX2 + x2;
    if (s === Infinity || s === -Infinity) cX2 = 0;
    else if (Math.abs(sumX2) >= Math.abs(x2)) cX2 += (sumX2 - s) + x2;
    else cX2 += (x2 - s) + sumX2;
    sumX2 = s;
  }
  if (constY) {
    if (initY === Infinity || initY === -Infinity) {
      w.aux = NaN;
      return NaN;
    }
    w.aux = initY;
    return 0;
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - sumX * sumY / n;
  const varX = sumX2 - sumX * sumX / n;
  const slope = covXY / varX;
  w.aux = sumY / n - slope * sumX / n;
  return slope;
}

/** goFloatF prints a float as Go's %f does (6 decimals). */
function goF(f: number): string {
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f !== f) return 'NaN';
  return f.toFixed(6);
}

/** pickFirstSampleIndex is the first sample changes()/resets() look at (the anchor if anchored). */
function pickFirstSampleIndex(w: Window): number {
  if (!w.anchored) return w.lo;
  const { t, lo, hi, rangeStart } = w;
  if (hi - lo === 0 || t[hi - 1]! <= rangeStart) return -1;
  return Math.max(lo, searchFirst(lo, hi - lo - 1, (i) => t[i]! > rangeStart) - 1);
}

const avgOverTime: RangeFn = (w) => {
  const { v, lo, hi } = w;
  let sum = v[lo]!;
  let count = 1;
  let mean = 0;
  let kahanC = 0;
  let incrementalMean = false;
  for (let i = lo + 1; i < hi; i++) {
    const f = v[i]!;
    count = i - lo + 1;
    if (!incrementalMean) {
      const t = sum + f;
      let c = kahanC;
      if (t === Infinity || t === -Infinity) c = 0;
      else if (Math.abs(sum) >= Math.abs(f)) c += (sum - t) + f;
      else c += (f - t) + sum;
      if (t !== Infinity && t !== -Infinity) {
        sum = t;
        kahanC = c;
        continue;
      }
      incrementalMean = true;
      mean = sum / (count - 1);
      kahanC /= count - 1;
    }
    const q = (count - 1) / count;
    const inc = f / count;
    const s0 = q * mean;
    let c = q * kahanC;
    const t = s0 + inc;
    if (t === Infinity || t === -Infinity) c = 0;
    else if (Math.abs(s0) >= Math.abs(inc)) c += (s0 - t) + inc;
    else c += (inc - t) + s0;
    mean = t;
    kahanC = c;
  }
  if (incrementalMean) return mean + kahanC;
  return sum / count + kahanC / count;
};

const sumOverTime: RangeFn = (w) => {
  const v = w.v;
  let sum = 0;
  let c = 0;
  for (let i = w.lo; i < w.hi; i++) {
    const x = v[i]!;
    const t = sum + x;
    if (t === Infinity || t === -Infinity) c = 0;
    else if (Math.abs(sum) >= Math.abs(x)) c += (sum - t) + x;
    else c += (x - t) + sum;
    sum = t;
  }
  if (sum === Infinity || sum === -Infinity) return sum;
  return sum + c;
};

function compareOverTime(w: Window, cmp: (cur: number, best: number) => boolean, returnTs: boolean): number {
  const { t, v, lo, hi } = w;
  let best = v[lo]!;
  let bestT = t[lo]!;
  for (let i = lo; i < hi; i++) {
    if (cmp(v[i]!, best)) {
      best = v[i]!;
      bestT = t[i]!;
    }
  }
  return returnTs ? bestT / 1000 : best;
}

function varianceOverTime(w: Window): number {
  const { v, lo, hi } = w;
  let count = 0;
  let mean = 0, cMean = 0, aux = 0, cAux = 0;
  for (let i = lo; i < hi; i++) {
    const f = v[i]!;
    count++;
    const delta = f - (mean + cMean);
    const inc = delta / count;
    let s = mean + inc;
    if (s === Infinity || s === -Infinity) cMean = 0;
    else if (Math.abs(mean) >= Math.abs(inc)) cMean += (mean - s) + inc;
    else cMean += (inc - s) + mean;
    mean = s;
    const inc2 = delta * (f - (mean + cMean));
    s = aux + inc2;
    if (s === Infinity || s === -Infinity) cAux = 0;
    else if (Math.abs(aux) >= Math.abs(inc2)) cAux += (aux - s) + inc2;
    else cAux += (inc2 - s) + aux;
    aux = s;
  }
  return (aux + cAux) / count;
}

/** windowValues copies the window's values into the reusable scratch buffer. */
function windowValues(w: Window): Float64Array {
  const n = w.hi - w.lo;
  if (w.scratch.length < 2 * n) w.scratch = new Float64Array(Math.max(64, 4 * n));
  const out = w.scratch.subarray(0, n);
  out.set(w.v.subarray(w.lo, w.hi));
  return out;
}

const changes: RangeFn = (w) => {
  const first = pickFirstSampleIndex(w);
  if (first < 0) return undefined;
  const v = w.v;
  let n = 0;
  for (let i = first + 1; i < w.hi; i++) {
    const cur = v[i]!;
    const prev = v[i - 1]!;
    if (cur !== prev && !(cur !== cur && prev !== prev)) n++;
  }
  return n;
};

const resets: RangeFn = (w) => {
  const first = pickFirstSampleIndex(w);
  if (first < 0) return undefined;
  const { v, t, st } = w;
  let n = 0;
  for (let i = first + 1; i < w.hi; i++) {
    if (v[i]! < v[i - 1]! || (st !== undefined && isStartTimestampReset(st[i - 1]!, t[i - 1]!, st[i]!, t[i]!))) n++;
  }
  return n;
};

const doubleExponentialSmoothing: RangeFn = (w) => {
  const sf = w.params[0]!;
  const tf = w.params[1]!;
  if (!(sf > 0 && sf < 1)) throw new PromQLError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${goF(sf)}`);
  if (!(tf > 0 && tf < 1)) throw new PromQLError(`invalid trend factor. Expected: 0 < tf < 1, got: ${goF(tf)}`);
  const { v, lo, hi } = w;
  if (hi - lo < 2) return undefined;
  let s0 = 0;
  let s1 = v[lo]!;
  let b = v[lo + 1]! - v[lo]!;
  for (let i = 1; i < hi - lo; i++) {
    const x = sf * v[lo + i]!;
    // Trend at i-1: the initial trend for i-1 == 0.
    if (i - 1 !== 0) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
};

/** RANGE_FUNCTIONS maps every function with a range-vector argument to its implementation. */
export const RANGE_FUNCTIONS: ReadonlyMap<string, RangeFn> = new Map<string, RangeFn>([
  ['rate', (w) => extrapolatedRate(w, true, true)],
  ['increase', (w) => extrapolatedRate(w, true, false)],
  ['delta', (w) => extrapolatedRate(w, false, false)],
  ['irate', (w) => instantValue(w, true)],
  ['idelta', (w) => instantValue(w, false)],
  ['avg_over_time', avgOverTime],
  ['sum_over_time', sumOverTime],
  ['count_over_time', (w) => w.hi - w.lo],
  ['min_over_time', (w) => compareOverTime(w, (c, b) => c < b || b !== b, false)],
  ['max_over_time', (w) => compareOverTime(w, (c, b) => c > b || b !== b, false)],
  ['ts_of_min_over_time', (w) => compareOverTime(w, (c, b) => c <= b || b !== b, true)],
  ['ts_of_max_over_time', (w) => compareOverTime(w, (c, b) => c >= b || b !== b, true)],
  ['last_over_time', (w) => w.v[w.hi - 1]!],
  ['first_over_time', (w) => w.v[w.lo]!],
  ['ts_of_last_over_time', (w) => w.t[w.hi - 1]! / 1000],
  ['ts_of_first_over_time', (w) => w.t[w.lo]! / 1000],
  ['present_over_time', () => 1],
  ['absent_over_time', () => 1],
  ['stdvar_over_time', (w) => varianceOverTime(w)],
  ['stddev_over_time', (w) => Math.sqrt(varianceOverTime(w))],
  ['quantile_over_time', (w) => {
    const q = w.params[0]!;
    if (q !== q || q < 0 || q > 1) w.annos.warn(`quantile value should be between 0 and 1, got ${formatGoG(q)}`);
    return quantile(q, windowValues(w));
  }],
  ['mad_over_time', (w) => {
    const vals = windowValues(w);
    // A NaN sample makes the result NaN rather than being sorted away.
    for (let i = 0; i < vals.length; i++) if (vals[i] !== vals[i]) return NaN;
    const median = quantile(0.5, vals);
    const dev = w.scratch.subarray(vals.length, 2 * vals.length);
    for (let i = 0; i < vals.length; i++) dev[i] = Math.abs(vals[i]! - median);
    return quantile(0.5, dev);
  }],
  ['changes', changes],
  ['resets', resets],
  ['deriv', (w) => (w.hi - w.lo < 2 ? undefined : linearRegression(w, w.t[w.lo]!))],
  ['predict_linear', (w) => {
    if (w.hi - w.lo < 2) return undefined;
    const slope = linearRegression(w, w.ts);
    return slope * w.params[0]! + w.aux;
  }],
  ['double_exponential_smoothing', doubleExponentialSmoothing],
]);
