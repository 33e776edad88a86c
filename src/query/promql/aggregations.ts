/**
 * Aggregation operators, after Prometheus' rangeEvalAgg, aggregation, aggregationK and
 * aggregationCountValues: groups are computed once per series, then every step folds the
 * samples present at that step into their group (sum, count, group, min and max go series by
 * series instead: seriesMajor.ts).
 */
import { encodeLabelBlob, type Labels } from '../../model/labels.js';
import { xxh64, xxh64Result } from '../../hash/xxhash64.js';
import { unwrapParens, type Aggregate, type Expr } from './ast.js';
import type { Evaluator } from './evaluator.js';
import { quantile } from './quantile.js';
import { Collector, StepCursor } from './steps.js';
import { PromQLError, formatGoFloatF, formatGoG, keepLabels, labelsKey, newSeries, setLabel, type Matrix, type Series } from './value.js';
import { goQuote } from './strings.js';
import { SERIES_MAJOR_MAX_CELLS, SERIES_MAJOR_OPS, seriesMajor, streamAggregate, type Grouping } from './seriesMajor.js';

/**
 * FParams is an aggregation parameter per step. min/max follow Go's math.Min/Max: NaN as soon as
 * one value is NaN.
 */
class FParams {
  readonly values: number[];
  private i = 0;

  constructor(values: number[]) {
    this.values = values;
  }

  next(): number {
    return this.values[this.i++] ?? NaN;
  }

  max(): number {
    let m = -Number.MAX_VALUE;
    for (const v of this.values) {
      if (v !== v) return NaN;
      if (v > m) m = v;
    }
    return m;
  }

  min(): number {
    let m = Number.MAX_VALUE;
    for (const v of this.values) {
      if (v !== v) return NaN;
      if (v < m) m = v;
    }
    return m;
  }

  hasNaN(): boolean {
    return this.values.some((v) => v !== v);
  }
}

function evalParam(ev: Evaluator, param: Expr | undefined): FParams {
  if (!param) return new FParams([]);
  const m = ev.evalMatrix(param);
  const s = m[0];
  const vals: number[] = [];
  for (let i = 0; i < ev.numSteps; i++) vals.push(s ? (s.f[i] ?? NaN) : NaN);
  return new FParams(vals);
}

/** groupingKey identifies an aggregation group. */
function groupingKey(ls: Labels, grouping: string[], without: boolean): string {
  let k = '';
  for (const [n, v] of ls) {
    const listed = grouping.includes(n);
    if (without ? !listed && n !== '__name__' : listed) k += n + '\xff' + v + '\xff';
  }
  return k;
}

function groupingLabels(ls: Labels, grouping: string[], without: boolean): Labels {
  if (without) return ls.filter(([n]) => !grouping.includes(n) && n !== '__name__');
  if (grouping.length > 0) return keepLabels(ls, grouping);
  return [];
}

/** GroupBy is a Grouping by (or without) a list of label names. */
class GroupBy implements Grouping {
  private readonly names: string[];
  private readonly without: boolean;

  constructor(names: string[], without: boolean) {
    this.names = names;
    this.without = without;
  }

  key(ls: Labels): string {
    return groupingKey(ls, this.names, this.without);
  }

  labels(ls: Labels): Labels {
    return groupingLabels(ls, this.names, this.without);
  }
}

interface Group {
  seen: boolean;
  floatValue: number;
  floatMean: number;
  kahanC: number;
  groupCount: number;
  incrementalMean: boolean;
  dropName: boolean;
  values: number[];
}

function newGroup(): Group {
  return { seen: false, floatValue: 0, floatMean: 0, kahanC: 0, groupCount: 0, incrementalMean: false, dropName: false, values: [] };
}

/** kahanAdd adds inc to the group's (floatValue, kahanC) with Kahan-Babuška-Neumaier summation. */
function kahanAdd(g: Group, inc: number): void {
  const sum = g.floatValue;
  const t = sum + inc;
  if (t === Infinity || t === -Infinity) g.kahanC = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) g.kahanC += (sum - t) + inc;
  else g.kahanC += (inc - t) + sum;
  g.floatValue = t;
}

/** evalAggregate evaluates an aggregation over the evaluator's steps. */
export function evalAggregate(ev: Evaluator, e: Aggregate): Matrix {
  const grouping = [...e.grouping].sort();
  if (e.op === 'count_values') return countValues(ev, e, grouping);
  const streamed = streamAggregate(ev, e, new GroupBy(grouping, e.without));
  if (streamed !== undefined) return streamed;
  const params = evalParam(ev, e.param ? unwrapParens(e.param) : undefined);
  const input = ev.evalMatrix(e.expr);
  if (e.op === 'topk' || e.op === 'bottomk' || e.op === 'limitk' || e.op === 'limit_ratio') return aggregationK(ev, e, grouping, input, params);

  if (e.op === 'quantile') {
    if (params.hasNaN()) ev.annos.warn('quantile value should be between 0 and 1, got NaN');
    if (params.max() > 1) ev.annos.warn(`quantile value should be between 0 and 1, got ${formatGoG(params.max())}`);
    if (params.min() < 0) ev.annos.warn(`quantile value should be between 0 and 1, got ${formatGoG(params.min())}`);
  }

  // Map input series to output groups.
  const groupIndex = new Map<string, number>();
  const seriesToGroup = new Int32Array(input.length);
  const result: Series[] = [];
  for (let si = 0; si < input.length; si++) {
    const s = input[si]!;
    const k = groupingKey(s.metric, grouping, e.without);
    let gi = groupIndex.get(k);
    if (gi === undefined) {
      gi = result.length;
      groupIndex.set(k, gi);
      result.push(newSeries(groupingLabels(s.metric, grouping, e.without)));
    }
    seriesToGroup[si] = gi;
  }
  const steps = Math.floor((ev.end - ev.start) / ev.interval) + 1;
  if (SERIES_MAJOR_OPS.has(e.op) && result.length * steps <= SERIES_MAJOR_MAX_CELLS) {
    const m = seriesMajor(ev, e.op, input, seriesToGroup, result, steps);
    if (m !== undefined) return m;
  }
  const groups: Group[] = result.map(() => newGroup());
  const cursor = new StepCursor(input);
  const op = e.op;
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    ev.checkTimeout();
    const q = params.next();
    for (const g of groups) g.seen = false;
    const n = cursor.at(ts);
    for (let j = 0; j < n; j++) {
      const si = cursor.idx[j]!;
      const f = cursor.val[j]!;
      const g = groups[seriesToGroup[si]!]!;
      const dropName = input[si]!.dropName;
      if (!g.seen) {
        g.seen = true;
        g.floatValue = f;
        g.floatMean = f;
        g.kahanC = 0;
        g.groupCount = 1;
        g.incrementalMean = false;
        g.dropName = dropName;
        switch (op) {
          case 'stddev': case 'stdvar':
            g.floatValue = f !== f || f === Infinity || f === -Infinity ? NaN : 0;
            break;
          case 'quantile':
            g.values = [f];
            break;
          case 'group':
            g.floatValue = 1;
            break;
          default:
        }
        continue;
      }
      if (dropName) g.dropName = true;
      switch (op) {
        case 'sum':
          kahanAdd(g, f);
          break;
        case 'avg': {
          g.groupCount++;
          if (!g.incrementalMean) {
            const sum = g.floatValue;
            const nv = sum + f;
            if (nv !== Infinity && nv !== -Infinity) {
              kahanAdd(g, f);
              break;
            }
            g.incrementalMean = true;
            g.floatMean = g.floatValue / (g.groupCount - 1);
            g.kahanC /= g.groupCount - 1;
          }
          const qq = (g.groupCount - 1) / g.groupCount;
          const inc = f / g.groupCount;
          const base = qq * g.floatMean;
          let c = qq * g.kahanC;
          const t = base + inc;
          if (t === Infinity || t === -Infinity) c = 0;
          else if (Math.abs(base) >= Math.abs(inc)) c += (base - t) + inc;
          else c += (inc - t) + base;
          g.floatMean = t;
          g.kahanC = c;
          break;
        }
        case 'group':
          break;
        case 'max':
          if (g.floatValue < f || g.floatValue !== g.floatValue) g.floatValue = f;
          break;
        case 'min':
          if (g.floatValue > f || g.floatValue !== g.floatValue) g.floatValue = f;
          break;
        case 'count':
          g.groupCount++;
          break;
        case 'stddev': case 'stdvar': {
          g.groupCount++;
          const delta = f - g.floatMean;
          g.floatMean += delta / g.groupCount;
          g.floatValue += delta * (f - g.floatMean);
          break;
        }
        case 'quantile':
          g.values.push(f);
          break;
        default:
          throw new PromQLError(`expected aggregation operator but got ${JSON.stringify(op)}`);
      }
    }
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!;
      if (!g.seen) continue;
      let v: number;
      switch (op) {
        case 'avg':
          v = g.incrementalMean ? g.floatMean + g.kahanC : g.floatValue / g.groupCount + g.kahanC / g.groupCount;
          break;
        case 'count':
          v = g.groupCount;
          break;
        case 'stdvar':
          v = g.floatValue / g.groupCount;
          break;
        case 'stddev':
          v = Math.sqrt(g.floatValue / g.groupCount);
          break;
        case 'quantile':
          v = quantile(q, Float64Array.from(g.values));
          break;
        case 'sum':
          v = g.floatValue + g.kahanC;
          break;
        default:
          v = g.floatValue;
      }
      const out = result[gi]!;
      out.t.push(ts);
      out.f.push(v);
      out.dropName = g.dropName;
    }
  }
  return result.filter((s) => s.t.length > 0);
}

// --- topk, bottomk, limitk, limit_ratio ----------------------------------------------------------

interface KSample {
  metric: Labels;
  f: number;
  dropName: boolean;
}

type Less = (a: KSample, b: KSample) => boolean;

/** byValue is vectorByValueHeap.Less: NaN first, then ascending. */
const byValue: Less = (a, b) => (a.f !== a.f ? true : a.f < b.f);
/** byReverseValue is vectorByReverseValueHeap.Less: NaN first, then descending. */
const byReverseValue: Less = (a, b) => (a.f !== a.f ? true : a.f > b.f);

function heapUp(h: KSample[], j: number, less: Less): void {
  for (;;) {
    const i = Math.trunc((j - 1) / 2);
    if (i === j || !less(h[j]!, h[i]!)) break;
    [h[i], h[j]] = [h[j]!, h[i]!];
    j = i;
  }
}

function heapDown(h: KSample[], i0: number, n: number, less: Less): boolean {
  let i = i0;
  for (;;) {
    const j1 = 2 * i + 1;
    if (j1 >= n || j1 < 0) break;
    let j = j1;
    const j2 = j1 + 1;
    if (j2 < n && less(h[j2]!, h[j1]!)) j = j2;
    if (!less(h[j]!, h[i]!)) break;
    [h[i], h[j]] = [h[j]!, h[i]!];
    i = j;
  }
  return i > i0;
}

function heapPush(h: KSample[], s: KSample, less: Less): void {
  h.push(s);
  heapUp(h, h.length - 1, less);
}

function heapFix(h: KSample[], i: number, less: Less): void {
  if (!heapDown(h, i, h.length, less)) heapUp(h, i, less);
}

/** sortReverse sorts like Go's sort.Sort(sort.Reverse(heap)) with the heap's Less. */
function sortReverse(h: KSample[], less: Less): void {
  h.sort((a, b) => {
    const ab = less(a, b);
    const ba = less(b, a);
    if (ab === ba) return 0;
    return ba ? -1 : 1;
  });
}

/** ratioOffset maps a label set to [0, 1) through its hash, as HashRatioSampler does. */
function ratioOffset(ls: Labels): number {
  const blob = encodeLabelBlob(ls);
  xxh64(blob, 0, blob.length);
  const h = xxh64Result[1]! * 4294967296 + xxh64Result[0]!;
  return h / 18446744073709551615;
}

function addRatioSample(ratio: number, s: KSample): boolean {
  const off = ratioOffset(s.metric);
  return (ratio >= 0 && off < ratio) || (ratio < 0 && off >= 1 + ratio);
}

const MAX_INT64 = 9223372036854774784;
const MIN_INT64 = -9223372036854775808;

function aggregationK(ev: Evaluator, e: Aggregate, grouping: string[], input: Matrix, params: FParams): Matrix {
  const op = e.op;
  if (op === 'limit_ratio') {
    if (params.max() === 0 && params.min() === 0) return [];
    if (params.hasNaN()) throw new PromQLError('Ratio value is NaN');
    if (params.max() > 1) ev.annos.warn(`ratio value should be between -1 and 1, got ${formatGoG(params.max())}, capping to 1`);
    if (params.min() < -1) ev.annos.warn(`ratio value should be between -1 and 1, got ${formatGoG(params.min())}, capping to -1`);
  } else {
    if (params.max() < 1) return [];
    if (params.hasNaN()) throw new PromQLError('Parameter value is NaN');
    if (params.min() <= MIN_INT64) throw new PromQLError(`Scalar value ${formatGoG(params.min())} underflows int64`);
    if (params.max() >= MAX_INT64) throw new PromQLError(`Scalar value ${formatGoG(params.max())} overflows int64`);
  }
  const groupIndex = new Map<string, number>();
  const seriesToGroup = new Int32Array(input.length);
  let nGroups = 0;
  for (let si = 0; si < input.length; si++) {
    const k = groupingKey(input[si]!.metric, grouping, e.without);
    let gi = groupIndex.get(k);
    if (gi === undefined) {
      gi = nGroups++;
      groupIndex.set(k, gi);
    }
    seriesToGroup[si] = gi;
  }
  const heaps: (KSample[] | null)[] = new Array<KSample[] | null>(nGroups).fill(null);
  const complete = new Uint8Array(nGroups);
  const cursor = new StepCursor(input);
  const out = new Collector(ev.isInstant);
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    ev.checkTimeout();
    const fParam = params.next();
    heaps.fill(null);
    complete.fill(0);
    let groupsRemaining = nGroups;
    const n = cursor.at(ts);
    let k = 0;
    let r = 0;
    let skipStep = false;
    if (op === 'limit_ratio') {
      if (fParam === 0) skipStep = true;
      r = fParam < -1 ? -1 : fParam > 1 ? 1 : fParam;
    } else {
      k = Math.min(Math.trunc(fParam), input.length);
      if (k < 1) skipStep = true;
    }
    if (skipStep || n === 0) continue;
    for (let j = 0; j < n; j++) {
      const si = cursor.idx[j]!;
      const s: KSample = { metric: input[si]!.metric, f: cursor.val[j]!, dropName: input[si]!.dropName };
      const gi = seriesToGroup[si]!;
      let h = heaps[gi];
      if (!h) {
        h = [];
        heaps[gi] = h;
        switch (op) {
          case 'limit_ratio':
            if (addRatioSample(r, s)) heapPush(h, s, byValue);
            break;
          case 'limitk':
            h.push(s);
            break;
          case 'topk':
            heapPush(h, s, byValue);
            break;
          case 'bottomk':
            heapPush(h, s, byReverseValue);
            break;
          default:
        }
        continue;
      }
      switch (op) {
        case 'topk':
          if (h.length < k) heapPush(h, s, byValue);
          else if (h[0]!.f < s.f || (h[0]!.f !== h[0]!.f && s.f === s.f)) {
            h[0] = s;
            if (k > 1) heapFix(h, 0, byValue);
          }
          break;
        case 'bottomk':
          if (h.length < k) heapPush(h, s, byReverseValue);
          else if (h[0]!.f > s.f || (h[0]!.f !== h[0]!.f && s.f === s.f)) {
            h[0] = s;
            if (k > 1) heapFix(h, 0, byReverseValue);
          }
          break;
        case 'limitk':
          if (h.length < k) heapPush(h, s, byValue);
          if (!complete[gi] && h.length === k) {
            complete[gi] = 1;
            groupsRemaining--;
          }
          break;
        case 'limit_ratio':
          if (addRatioSample(r, s)) heapPush(h, s, byValue);
          break;
        default:
      }
      if (op === 'limitk' && groupsRemaining === 0) break;
    }
    for (const h of heaps) {
      if (!h) continue;
      if (op === 'topk' && h.length > 1) sortReverse(h, byValue);
      if (op === 'bottomk' && h.length > 1) sortReverse(h, byReverseValue);
      for (const s of h) out.add(s.metric, s.dropName, ts, s.f);
    }
  }
  return out.result();
}

// --- count_values --------------------------------------------------------------------------------

function countValues(ev: Evaluator, e: Aggregate, grouping: string[]): Matrix {
  const p = unwrapParens(e.param!);
  if (p.type !== 'StringLiteral') throw new PromQLError('count_values needs a string parameter');
  if (!p.validUtf8 || p.val === '') throw new PromQLError(`invalid label name ${p.quoted}`);
  const valueLabel = p.val;
  if (!e.without) grouping = [...grouping, valueLabel].sort();
  const input = ev.evalMatrix(e.expr);
  const cursor = new StepCursor(input);
  const out = new Collector(ev.isInstant);
  void goQuote;
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    ev.checkTimeout();
    const n = cursor.at(ts);
    const groups = new Map<string, { labels: Labels; count: number }>();
    for (let j = 0; j < n; j++) {
      const s = input[cursor.idx[j]!]!;
      const metric = setLabel(s.metric, valueLabel, formatGoFloatF(cursor.val[j]!));
      const k = groupingKey(metric, grouping, e.without);
      const g = groups.get(k);
      if (g) g.count++;
      else groups.set(k, { labels: groupingLabels(metric, grouping, e.without), count: 1 });
    }
    for (const g of groups.values()) out.addKeyed(labelsKey(g.labels), g.labels, false, ts, g.count);
  }
  return out.result();
}
