/**
 * Evaluation values: a Matrix is the engine's one currency (an instant vector is a matrix of
 * one-point series, a scalar a matrix with one unlabeled series), plus label-set helpers,
 * annotations, errors and Prometheus' float formatting.
 */
import type { Labels } from '../../model/labels.js';
import { compareLabels } from '../../model/labels.js';

/**
 * Series is one output series: points as parallel arrays of timestamps (ms) and values.
 * `dropName` defers dropping the metric name to the end of evaluation (Prometheus'
 * delayed name removal), so that functions such as label_replace can still read it.
 */
export interface Series {
  metric: Labels;
  dropName: boolean;
  t: number[];
  f: number[];
}

export type Matrix = Series[];

/** StringValue is the value of a string literal expression. */
export interface StringValue {
  kind: 'string';
  v: string;
}

/** newSeries makes an empty series. */
export function newSeries(metric: Labels, dropName = false): Series {
  return { metric, dropName, t: [], f: [] };
}

/** totalSamples counts the points of a matrix. */
export function totalSamples(m: Matrix): number {
  let n = 0;
  for (const s of m) n += s.t.length;
  return n;
}

// --- label sets ----------------------------------------------------------------------------------

/** METRIC_NAME is the label holding the metric name. */
export const METRIC_NAME = '__name__';

/** isMetadataLabel tells the labels dropped together with the metric name. */
export function isMetadataLabel(name: string): boolean {
  return name === '__name__' || name === '__type__' || name === '__unit__';
}

/** labelsKey is a string identifying a label set, for maps. */
export function labelsKey(ls: Labels): string {
  let s = '';
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    s += l[0] + '\xff' + l[1] + '\xff';
  }
  return s;
}

/** getLabel returns a label's value, or '' when the label is missing. */
export function getLabel(ls: Labels, name: string): string {
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    if (l[0] === name) return l[1];
  }
  return '';
}

/** hasLabel tells whether a label is present. */
export function hasLabel(ls: Labels, name: string): boolean {
  for (let i = 0; i < ls.length; i++) if (ls[i]![0] === name) return true;
  return false;
}

/** setLabel returns a copy with the label set (or removed, when value is ''), kept sorted. */
export function setLabel(ls: Labels, name: string, value: string): Labels {
  const out: Labels = [];
  let done = false;
  for (const l of ls) {
    if (!done && l[0] >= name) {
      if (value !== '') out.push([name, value]);
      done = true;
      if (l[0] === name) continue;
    }
    out.push(l);
  }
  if (!done && value !== '') out.push([name, value]);
  return out;
}

/** withoutLabels returns a copy without the given labels. */
export function withoutLabels(ls: Labels, names: readonly string[]): Labels {
  return ls.filter((l) => !names.includes(l[0]));
}

/** keepLabels returns a copy with only the given labels. */
export function keepLabels(ls: Labels, names: readonly string[]): Labels {
  return ls.filter((l) => names.includes(l[0]));
}

/** dropMetadata removes `__name__`, `__type__` and `__unit__`. */
export function dropMetadata(ls: Labels): Labels {
  let has = false;
  for (const l of ls) if (isMetadataLabel(l[0])) has = true;
  return has ? ls.filter((l) => !isMetadataLabel(l[0])) : ls;
}

/**
 * matchLabels is Prometheus' Labels.MatchLabels: with `on`, the named labels; otherwise all
 * labels except the named ones and the metric name.
 */
export function matchLabels(ls: Labels, on: boolean, names: readonly string[]): Labels {
  return ls.filter((l) => (on ? names.includes(l[0]) : !names.includes(l[0]) && l[0] !== METRIC_NAME));
}

/** formatLabels prints a label set as Prometheus' Labels.String does: `{a="b", c="d"}`. */
export function formatLabels(ls: Labels): string {
  const parts = ls.map(([n, v]) => `${/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(n) ? n : JSON.stringify(n)}=${JSON.stringify(v)}`);
  return `{${parts.join(', ')}}`;
}

/** sortMatrix orders series by label set, as Prometheus sorts range results. */
export function sortMatrix(m: Matrix): Matrix {
  return m.sort((a, b) => compareLabels(a.metric, b.metric));
}

// --- annotations and errors -----------------------------------------------------------------

/** Annotations collects warnings and infos, deduplicated by text, in insertion order. */
export class Annotations {
  readonly items = new Map<string, 'warn' | 'info'>();

  warn(msg: string): void {
    this.items.set(`PromQL warning: ${msg}`, 'warn');
  }

  info(msg: string): void {
    this.items.set(`PromQL info: ${msg}`, 'info');
  }

  get warnings(): string[] {
    return [...this.items].filter(([, k]) => k === 'warn').map(([m]) => m);
  }

  get infos(): string[] {
    return [...this.items].filter(([, k]) => k === 'info').map(([m]) => m);
  }
}

/** PromQLError is an error raised while a query runs, worded as Prometheus words it. */
export class PromQLError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'PromQLError';
  }
}

/** tooManySamples is Prometheus' ErrTooManySamples for the query-execution environment. */
export function tooManySamples(): PromQLError {
  return new PromQLError('query processing would load too many samples into memory in query execution');
}

// --- float formatting ------------------------------------------------------------------------

/**
 * formatFloat prints a sample value as Prometheus' HTTP API does (jsonutil.MarshalFloat):
 * `+Inf`, `-Inf`, `NaN`, otherwise the shortest round-trip digits, in exponent form below 1e-6
 * and from 1e21 up (Go prints at least two exponent digits: `1e-07`).
 */
export function formatFloat(f: number): string {
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f !== f) return 'NaN';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const s = String(f);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const mant = s.slice(0, e);
  const sign = s[e + 1] === '-' ? '-' : '+';
  const digits = s.slice(e + 2);
  return `${mant}e${sign}${digits.length < 2 ? '0' + digits : digits}`;
}

/** formatGoFloat prints a float as Go's strconv.FormatFloat(f, 'f', -1, 64) does. */
export function formatGoFloatF(f: number): string {
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f !== f) return 'NaN';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const s = String(f);
  const e = s.indexOf('e');
  if (e < 0) return s;
  // Expand the exponent: shortest digits, written without exponent.
  const neg = s.startsWith('-');
  const mant = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const [ip, fp = ''] = mant.split('.');
  const digits = ip! + fp;
  const point = ip!.length + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (neg ? '-' : '') + out;
}

/** formatGoG prints a float as Go's %g does (used in annotation texts): `1.1`, `1e+06`. */
export function formatGoG(f: number): string {
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f !== f) return 'NaN';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [m, e] = f.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return formatGoFloatF(f);
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
