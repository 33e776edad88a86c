/**
 * Functions without a range-vector argument (math, clamp, date, scalar/vector, absent, sort*,
 * histogram_quantile over classic buckets, timestamp, start_timestamp, query-context functions),
 * after Prometheus' promql/functions.go.
 */
import { compareLabels, type Labels } from '../../model/labels.js';
import { unwrapParens, type Call, type Expr, type VectorSelector } from './ast.js';
import type { Evaluator } from './evaluator.js';
import { compileAnchored, expandTemplate } from '../../model/regex.js';
import { bucketFraction, bucketQuantile, type Bucket } from './quantile.js';
import { Collector, StepCursor } from './steps.js';
import {
  PromQLError, mergeSeriesWithSameLabelset, formatGoG, getLabel, labelsKey, newSeries, setLabel, withoutLabels,
  type Matrix, type Series,
} from './value.js';

type FloatFn = (v: number) => number;

const SIMPLE: ReadonlyMap<string, FloatFn> = new Map<string, FloatFn>([
  ['abs', Math.abs], ['ceil', Math.ceil], ['floor', Math.floor], ['exp', Math.exp], ['sqrt', Math.sqrt],
  ['ln', Math.log], ['log2', Math.log2], ['log10', Math.log10], ['sin', Math.sin], ['cos', Math.cos],
  ['tan', Math.tan], ['asin', Math.asin], ['acos', Math.acos], ['atan', Math.atan], ['sinh', Math.sinh],
  ['cosh', Math.cosh], ['tanh', Math.tanh], ['asinh', Math.asinh], ['acosh', Math.acosh], ['atanh', Math.atanh],
  ['rad', (v) => v * Math.PI / 180], ['deg', (v) => v * 180 / Math.PI],
  ['sgn', (v) => (v < 0 ? -1 : v > 0 ? 1 : v)],
]);

function utc(sec: number): Date {
  return new Date(Math.trunc(sec) * 1000);
}

const DATE: ReadonlyMap<string, (d: Date) => number> = new Map<string, (d: Date) => number>([
  ['days_in_month', (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()],
  ['day_of_month', (d) => d.getUTCDate()],
  ['day_of_week', (d) => d.getUTCDay()],
  ['day_of_year', (d) => Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1],
  ['hour', (d) => d.getUTCHours()],
  ['minute', (d) => d.getUTCMinutes()],
  ['month', (d) => d.getUTCMonth() + 1],
  ['year', (d) => d.getUTCFullYear()],
]);

/** scalarSeries builds a scalar result: one unlabeled series with a value at every step. */
function scalarSeries(ev: Evaluator, f: (ts: number, step: number) => number): Matrix {
  const s = newSeries([]);
  let i = 0;
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    s.t.push(ts);
    s.f.push(f(ts, i++));
  }
  return [s];
}

/** scalarArg evaluates a scalar argument into its per-step values. */
function scalarArg(ev: Evaluator, e: Expr): number[] {
  const m = ev.evalMatrix(e);
  return m[0]?.f ?? [];
}

/** mapPoints applies f to every point of a vector, marking the name for removal. */
function mapPoints(ev: Evaluator, vec: Matrix, f: (v: number, t: number, step: number) => number | undefined): Matrix {
  const out: Matrix = [];
  for (const s of vec) {
    const nm = ev.named(s.metric, true);
    const o = newSeries(nm.metric, nm.dropName);
    for (let i = 0; i < s.t.length; i++) {
      const t = s.t[i]!;
      const r = f(s.f[i]!, t, ev.stepIndex(t));
      if (r !== undefined) {
        o.t.push(t);
        o.f.push(r);
      }
    }
    if (o.t.length > 0) out.push(o);
  }
  return ev.settle(out);
}

/**
 * natLess is natsort.Compare (github.com/facette/natsort), which sort_by_label uses: strings are
 * split into digit and non-digit runs; two digit runs compare as integers.
 */
function natLess(a: string, b: string): boolean {
  const ca = a.match(/(\d+|\D+)/g) ?? [];
  const cb = b.match(/(\d+|\D+)/g) ?? [];
  for (let i = 0; i < ca.length; i++) {
    if (i >= cb.length) return false;
    const x = ca[i]!;
    const y = cb[i]!;
    const xd = /^\d+$/.test(x) && x.length <= 18;
    const yd = /^\d+$/.test(y) && y.length <= 18;
    if (xd && yd) {
      const xn = Number(x);
      const yn = Number(y);
      if (xn === yn) {
        if (i === ca.length - 1) return true;
        if (i === cb.length - 1) return false;
        continue;
      }
      return xn < yn;
    }
    if (x === y) {
      if (i === ca.length - 1) return true;
      if (i === cb.length - 1) return false;
      continue;
    }
    return x < y;
  }
  return false;
}

/** formatOpenMetricsFloat prints a quantile label value (`0.0`, `0.25`, `+Inf`). */
function formatOpenMetricsFloat(f: number): string {
  if (f !== f) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const s = formatGoG(f);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** parseGoFloat reads a bucket bound as Go's strconv.ParseFloat does; NaN when malformed. */
function parseGoFloat(s: string): number | null {
  const t = s.trim() === s ? s : '';
  if (t === '') return null;
  const lw = t.toLowerCase().replace(/^\+/, '');
  if (lw === 'inf' || lw === 'infinity') return Infinity;
  if (lw === '-inf' || lw === '-infinity') return -Infinity;
  if (lw === 'nan') return NaN;
  if (/^[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?$/.test(t)) return Number(t.replace(/_/g, ''));
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(t)) return Number(t.replace(/^\+/, ''));
  return null;
}

interface BucketGroup {
  metric: Labels;
  buckets: Bucket[];
}

/** classicBuckets groups the samples at one step into classic histograms by labels minus `le`. */
function classicBuckets(ev: Evaluator, vec: Matrix, cursor: StepCursor, ts: number): Map<string, BucketGroup> {
  const groups = new Map<string, BucketGroup>();
  const n = cursor.at(ts);
  for (let j = 0; j < n; j++) {
    const s = vec[cursor.idx[j]!]!;
    const le = getLabel(s.metric, 'le');
    const ub = parseGoFloat(le);
    if (ub === null) {
      const name = ev.delayed ? getLabel(s.metric, '__name__') : '';
      ev.annos.warn(`bucket label "le" is missing or has a malformed value of ${JSON.stringify(le)}${name ? ` for metric name ${JSON.stringify(name)}` : ''}`);
      continue;
    }
    const metric = withoutLabels(s.metric, ['le']);
    const k = labelsKey(metric);
    let g = groups.get(k);
    if (!g) {
      g = { metric, buckets: [] };
      groups.set(k, g);
    }
    g.buckets.push({ upperBound: ub, count: cursor.val[j]! });
  }
  return groups;
}

function validateQuantile(ev: Evaluator, q: number): void {
  if (q !== q || q < 0 || q > 1) ev.annos.warn(`quantile value should be between 0 and 1, got ${formatGoG(q)}`);
}

/** evalInstantFunction evaluates a call none of whose arguments is a range vector. */
export function evalInstantFunction(ev: Evaluator, e: Call): Matrix {
  const name = e.func.name;
  const args = e.args;
  const simple = SIMPLE.get(name);
  if (simple) return mapPoints(ev, ev.evalMatrix(args[0]!), (v) => simple(v));

  const date = DATE.get(name);
  if (date) {
    if (args.length === 0) {
      const s = newSeries([]);
      for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
        s.t.push(ts);
        s.f.push(date(utc(Math.trunc(ts / 1000))));
      }
      return [s];
    }
    return mapPoints(ev, ev.evalMatrix(args[0]!), (v) => date(utc(v)));
  }

  switch (name) {
    case 'time':
      return scalarSeries(ev, (ts) => ts / 1000);
    case 'pi':
      return scalarSeries(ev, () => Math.PI);
    case 'start':
      return scalarSeries(ev, () => ev.q.start / 1000);
    case 'end':
      return scalarSeries(ev, () => ev.q.end / 1000);
    case 'range':
      return scalarSeries(ev, () => (ev.q.end - ev.q.start) / 1000);
    case 'step':
      return scalarSeries(ev, () => ev.q.step / 1000);
    case 'min_of':
    case 'max_of': {
      const a = scalarArg(ev, args[0]!);
      const b = scalarArg(ev, args[1]!);
      return scalarSeries(ev, (_ts, i) => {
        const x = a[i]!;
        const y = b[i]!;
        if (x !== x || y !== y) return NaN;
        return name === 'min_of' ? Math.min(x, y) : Math.max(x, y);
      });
    }
    case 'vector': {
      const a = scalarArg(ev, args[0]!);
      return scalarSeries(ev, (_ts, i) => a[i]!);
    }
    case 'scalar': {
      const vec = ev.evalMatrix(args[0]!);
      const cursor = new StepCursor(vec);
      return scalarSeries(ev, (ts) => (cursor.at(ts) === 1 ? cursor.val[0]! : NaN));
    }
    case 'round': {
      const vec = ev.evalMatrix(args[0]!);
      const to = args.length > 1 ? scalarArg(ev, args[1]!) : null;
      return mapPoints(ev, vec, (v, _t, i) => {
        const inv = 1 / (to ? to[i]! : 1);
        return Math.floor(v * inv + 0.5) / inv;
      });
    }
    case 'clamp':
    case 'clamp_min':
    case 'clamp_max': {
      const vec = ev.evalMatrix(args[0]!);
      const a = args.length > 1 ? scalarArg(ev, args[1]!) : [];
      const b = args.length > 2 ? scalarArg(ev, args[2]!) : [];
      return mapPoints(ev, vec, (v, _t, i) => {
        const lo = name === 'clamp_max' ? -Infinity : a[i]!;
        const hi = name === 'clamp' ? b[i]! : name === 'clamp_max' ? a[i]! : Infinity;
        if (hi < lo) return undefined;
        return goMax(lo, goMin(hi, v));
      });
    }
    case 'timestamp': {
      let arg = unwrapParens(args[0]!);
      if (arg.type === 'StepInvariant') arg = unwrapParens(arg.expr);
      if (arg.type === 'VectorSelector') return timestampOfSelector(ev, arg, 'timestamp');
      return mapPoints(ev, ev.evalMatrix(args[0]!), (_v, t) => t / 1000);
    }
    case 'start_timestamp': {
      let arg = unwrapParens(args[0]!);
      if (arg.type === 'StepInvariant') arg = unwrapParens(arg.expr);
      if (arg.type === 'VectorSelector') return timestampOfSelector(ev, arg, 'start');
      ev.evalMatrix(args[0]!);
      return [];
    }
    case 'absent': {
      const vec = ev.evalMatrix(args[0]!);
      const cursor = new StepCursor(vec);
      const s = newSeries(absentLabels(args[0]!));
      for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
        if (cursor.at(ts) > 0) continue;
        s.t.push(ts);
        s.f.push(1);
      }
      return s.t.length > 0 ? [s] : [];
    }
    case 'sort':
    case 'sort_desc': {
      const vec = ev.evalMatrix(args[0]!);
      if (!ev.isInstant) return vec;
      const desc = name === 'sort_desc';
      // NaN sorts to the bottom in both directions.
      return vec.slice().sort((a, b) => {
        const x = a.f[0]!;
        const y = b.f[0]!;
        if (x !== x) return y !== y ? 0 : 1;
        if (y !== y) return -1;
        return desc ? y - x : x - y;
      });
    }
    case 'sort_by_label':
    case 'sort_by_label_desc': {
      const vec = ev.evalMatrix(args[0]!);
      if (!ev.isInstant) return vec;
      const names: string[] = [];
      for (let i = 1; i < args.length; i++) {
        const a = unwrapParens(args[i]!);
        if (a.type === 'StringLiteral') names.push(a.val);
      }
      const desc = name === 'sort_by_label_desc';
      return vec.slice().sort((a, b) => {
        for (const l of names) {
          const x = getLabel(a.metric, l);
          const y = getLabel(b.metric, l);
          if (x === y) continue;
          const r = natLess(x, y) ? -1 : 1;
          return desc ? -r : r;
        }
        const r = compareLabels(a.metric, b.metric);
        return desc ? -r : r;
      });
    }
    case 'histogram_quantile':
    case 'histogram_fraction':
    case 'histogram_quantiles':
      return classicHistogramFunction(ev, e);
    case 'histogram_count':
    case 'histogram_sum':
    case 'histogram_avg':
    case 'histogram_stddev':
    case 'histogram_stdvar':
      // These read native histograms only; float samples produce nothing.
      ev.evalMatrix(args[0]!);
      return [];
    default:
      throw new PromQLError(`function ${JSON.stringify(name)} is not supported`);
  }
}

/** goMin / goMax follow Go's math.Min/Max: NaN wins. */
function goMin(a: number, b: number): number {
  if (a !== a || b !== b) return NaN;
  return Math.min(a, b);
}

function goMax(a: number, b: number): number {
  if (a !== a || b !== b) return NaN;
  return Math.max(a, b);
}

/**
 * timestampOfSelector is timestamp() (or start_timestamp()) of a plain selector: the time of the
 * sample each step picked, not the step time.
 */
function timestampOfSelector(ev: Evaluator, vs: VectorSelector, what: 'timestamp' | 'start'): Matrix {
  const data = ev.selectorData(vs);
  const lb = ev.q.lookback;
  const out: Matrix = [];
  for (const s of data) {
    const nm = ev.named(s.labels, true);
    const series = newSeries(nm.metric, nm.dropName);
    const t = s.t;
    let j = 0;
    for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
      // With @, Prometheus re-targets the offset at every step: the sample at the @ time.
      const ref = vs.at !== undefined ? vs.at : ts - vs.offset;
      while (j < t.length && t[j]! <= ref) j++;
      if (j === 0) continue;
      const k = j - 1;
      if (t[k]! <= ref - lb) continue;
      if (s.stale !== null && s.stale[k] === 1) continue;
      let v: number;
      if (what === 'timestamp') {
        v = t[k]! / 1000;
      } else {
        const st = stOf(s, k);
        v = st / 1000;
      }
      series.t.push(ts);
      series.f.push(v);
      ev.addSamples(1);
    }
    if (series.t.length > 0) out.push(series);
  }
  return ev.settle(out);
}

function stOf(s: { t: Float64Array; ct: Float64Array; cst: Float64Array | undefined }, rawIndex: number): number {
  if (!s.cst) return 0;
  // cst is aligned with the clean arrays; find the raw sample's clean position.
  const t = s.t[rawIndex]!;
  let lo = 0;
  let hi = s.ct.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.ct[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return s.ct[lo] === t ? s.cst[lo]! : 0;
}

/** classicHistogramFunction is histogram_quantile, histogram_fraction and histogram_quantiles. */
function classicHistogramFunction(ev: Evaluator, e: Call): Matrix {
  const name = e.func.name;
  const out = new Collector(ev.isInstant);
  let vecArg: Expr;
  let qs: number[][] = [];
  let quantileLabel = '';
  let lower: number[] = [];
  let upper: number[] = [];
  if (name === 'histogram_quantile') {
    qs = [scalarArg(ev, e.args[0]!)];
    vecArg = e.args[1]!;
  } else if (name === 'histogram_fraction') {
    lower = scalarArg(ev, e.args[0]!);
    upper = scalarArg(ev, e.args[1]!);
    vecArg = e.args[2]!;
  } else {
    vecArg = e.args[0]!;
    const l = unwrapParens(e.args[1]!);
    if (l.type === 'StringLiteral') quantileLabel = l.val;
    for (let i = 2; i < e.args.length; i++) qs.push(scalarArg(ev, e.args[i]!));
  }
  const vec = ev.evalMatrix(vecArg);
  const cursor = new StepCursor(vec);
  let step = 0;
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval, step++) {
    if (name === 'histogram_fraction') {
      const lo = lower[step];
      const hi = upper[step];
      if (lo === undefined || hi === undefined) continue;
      const groups = classicBuckets(ev, vec, cursor, ts);
      for (const g of groups.values()) {
        if (g.buckets.length === 0) continue;
        const nm = ev.named(g.metric, true);
        out.add(nm.metric, nm.dropName, ts, bucketFraction(lo, hi, g.buckets));
      }
      continue;
    }
    const stepQs: number[] = [];
    for (const q of qs) {
      const v = q[step];
      if (v === undefined) continue;
      validateQuantile(ev, v);
      stepQs.push(v);
    }
    if (name === 'histogram_quantile' && stepQs.length === 0) continue;
    const groups = classicBuckets(ev, vec, cursor, ts);
    for (const q of stepQs) {
      for (const g of groups.values()) {
        if (g.buckets.length === 0) continue;
        const r = bucketQuantile(q, g.buckets);
        if (r.forcedMonotonic) {
          const mn = ev.delayed ? getLabel(g.metric, '__name__') : '';
          ev.annos.info(`input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)${mn ? ` for metric name ${JSON.stringify(mn)}` : ''}`);
        }
        const nm = ev.named(g.metric, true);
        const metric = name === 'histogram_quantiles' ? setLabel(nm.metric, quantileLabel, formatOpenMetricsFloat(q)) : nm.metric;
        out.add(metric, nm.dropName, ts, r.value);
      }
    }
  }
  return ev.settle(out.result());
}

export type { Series };

/** evalLabelFunction is label_replace() and label_join(); they change series, not samples. */
export function evalLabelFunction(ev: Evaluator, e: Call): Matrix {
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
      re = compileAnchored(reStr);
    } catch {
      throw new PromQLError(`invalid regular expression in label_replace(): ${reStr}`);
    }
    if (!dst.valid || dst.val === '') throw new PromQLError(`invalid destination label name in label_replace(): ${dst.val}`);
    const mat = ev.evalMatrix(e.args[0]!);
    for (const s of mat) {
      const srcVal = getLabel(s.metric, src);
      const m = re.exec(srcVal);
      if (!m) continue;
      const res = expandTemplate(repl, m);
      s.metric = setLabel(s.metric, dst.val, res);
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
  const mat = ev.evalMatrix(e.args[0]!);
  for (const s of mat) {
    const v = srcs.map((l) => getLabel(s.metric, l)).join(sep);
    s.metric = setLabel(s.metric, dst.val, v);
    if (dst.val === '__name__') s.dropName = false;
  }
  return mergeSeriesWithSameLabelset(mat);
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
