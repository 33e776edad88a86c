/**
 * Binary operators: scalar/scalar, vector/scalar and vector/vector with one-to-one,
 * many-to-one and one-to-many matching, set operators, `bool` and `fill()`, after Prometheus'
 * VectorBinop, VectorscalarBinop, VectorAnd/Or/Unless and resultMetric.
 */
import type { Labels } from '../../model/labels.js';
import { exprType, isComparisonOp, type Binary, type BinOp, type VectorMatching } from './ast.js';
import type { Evaluator } from './evaluator.js';
import { Collector, StepCursor } from './steps.js';
import {
  PromQLError, dropMetadata, formatLabels, getLabel, isMetadataLabel, labelsKey, matchLabels, newSeries, setLabel,
  type Matrix, type Series,
} from './value.js';

/** goPow is Go's math.Pow where it differs from JavaScript's (1^NaN, (-1)^±Inf). */
export function goPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return Math.pow(x, y);
}

/** changesMetricSchema tells the operators whose result is no longer the input metric. */
function changesMetricSchema(op: BinOp): boolean {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '^' || op === '%' || op === 'atan2';
}

/** arith applies an arithmetic operator. */
function arith(op: BinOp, l: number, r: number): number {
  switch (op) {
    case '+': return l + r;
    case '-': return l - r;
    case '*': return l * r;
    case '/': return l / r;
    case '^': return goPow(l, r);
    case '%': return l % r;
    case 'atan2': return Math.atan2(l, r);
    default: throw new PromQLError(`operator ${JSON.stringify(op)} not allowed for arithmetic`);
  }
}

function compare(op: BinOp, l: number, r: number): boolean {
  switch (op) {
    case '==': return l === r;
    case '!=': return l !== r;
    case '>': return l > r;
    case '<': return l < r;
    case '>=': return l >= r;
    case '<=': return l <= r;
    default: return false;
  }
}

/** scalarBinop is an operator between two scalars; comparisons give 1 or 0. */
export function scalarBinop(op: BinOp, l: number, r: number): number {
  if (isComparisonOp(op)) return compare(op, l, r) ? 1 : 0;
  return arith(op, l, r);
}

const isTrim = (op: BinOp): boolean => op === '</' || op === '>/';

function trimInfo(ev: Evaluator, op: BinOp): void {
  ev.annos.info(`incompatible sample types encountered for binary operator ${JSON.stringify(op)}: float ${op} float`);
}

/** evalBinary evaluates a binary expression over the evaluator's steps. */
export function evalBinary(ev: Evaluator, e: Binary): Matrix {
  const lt = exprType(e.lhs);
  const rt = exprType(e.rhs);
  const lhs = ev.evalMatrix(e.lhs);
  const rhs = ev.evalMatrix(e.rhs);
  if (lt === 'scalar' && rt === 'scalar') {
    const l = lhs[0]!;
    const r = rhs[0]!;
    const out = newSeries([]);
    for (let i = 0; i < l.t.length; i++) {
      out.t.push(l.t[i]!);
      out.f.push(scalarBinop(e.op, l.f[i]!, r.f[i]!));
    }
    return [out];
  }
  if (lt === 'vector' && rt === 'vector') {
    const m = e.matching!;
    if (e.op === 'and' || e.op === 'or' || e.op === 'unless') return setOp(ev, e.op, lhs, rhs, m);
    return vectorBinop(ev, e.op, lhs, rhs, m, e.bool);
  }
  if (lt === 'vector') return vectorScalar(ev, e.op, lhs, rhs[0]!.f, false, e.bool);
  return vectorScalar(ev, e.op, rhs, lhs[0]!.f, true, e.bool);
}

/** vectorScalar applies an operator between every sample and the scalar at its step. */
function vectorScalar(ev: Evaluator, op: BinOp, vec: Matrix, scalar: number[], swap: boolean, returnBool: boolean): Matrix {
  if (isTrim(op)) {
    if (vec.some((s) => s.t.length > 0)) trimInfo(ev, op);
    return [];
  }
  const cmp = isComparisonOp(op);
  const out: Matrix = [];
  const drop = changesMetricSchema(op) || returnBool;
  for (const s of vec) {
    const nm = ev.named(s.metric, drop);
    const o = newSeries(nm.metric, s.dropName || nm.dropName);
    for (let i = 0; i < s.t.length; i++) {
      const ts = s.t[i]!;
      const sv = scalar[ev.stepIndex(ts)]!;
      const v = s.f[i]!;
      const l = swap ? sv : v;
      const r = swap ? v : sv;
      if (cmp) {
        const keep = compare(op, l, r);
        if (returnBool) {
          o.t.push(ts);
          o.f.push(keep ? 1 : 0);
        } else if (keep) {
          o.t.push(ts);
          o.f.push(v);
        }
      } else {
        o.t.push(ts);
        o.f.push(arith(op, l, r));
      }
    }
    if (o.t.length > 0) out.push(o);
  }
  return ev.settle(out);
}

/** signatures maps every series of both sides to a join-signature ordinal. */
function signatures(lhs: Matrix, rhs: Matrix, m: VectorMatching): { l: Int32Array; r: Int32Array; n: number } {
  const names = m.on ? [...m.labels].sort() : [...m.labels, '__name__'].sort();
  const ord = new Map<string, number>();
  const sig = (ls: Labels): number => {
    let k = '';
    for (const [n, v] of ls) {
      if (names.includes(n) === m.on) k += n + '\xff' + v + '\xff';
    }
    let o = ord.get(k);
    if (o === undefined) {
      o = ord.size;
      ord.set(k, o);
    }
    return o;
  };
  const l = new Int32Array(lhs.length);
  const r = new Int32Array(rhs.length);
  for (let i = 0; i < lhs.length; i++) l[i] = sig(lhs[i]!.metric);
  for (let i = 0; i < rhs.length; i++) r[i] = sig(rhs[i]!.metric);
  return { l, r, n: ord.size };
}

function steps(ev: Evaluator): number[] {
  const out: number[] = [];
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) out.push(ts);
  return out;
}

/** setOp is `and`, `or` and `unless`. */
function setOp(ev: Evaluator, op: 'and' | 'or' | 'unless', lhs: Matrix, rhs: Matrix, m: VectorMatching): Matrix {
  const sigs = signatures(lhs, rhs, m);
  const lc = new StepCursor(lhs);
  const rc = new StepCursor(rhs);
  const present = new Uint8Array(sigs.n);
  const out = new Collector(ev.isInstant);
  for (const ts of steps(ev)) {
    ev.checkTimeout();
    const nl = lc.at(ts);
    const nr = rc.at(ts);
    present.fill(0);
    if (op === 'and') {
      if (nl === 0 || nr === 0) continue;
      for (let j = 0; j < nr; j++) present[sigs.r[rc.idx[j]!]!] = 1;
      for (let j = 0; j < nl; j++) {
        const i = lc.idx[j]!;
        if (present[sigs.l[i]!]) out.add(lhs[i]!.metric, lhs[i]!.dropName, ts, lc.val[j]!);
      }
    } else if (op === 'or') {
      for (let j = 0; j < nl; j++) {
        const i = lc.idx[j]!;
        present[sigs.l[i]!] = 1;
        out.add(lhs[i]!.metric, lhs[i]!.dropName, ts, lc.val[j]!);
      }
      for (let j = 0; j < nr; j++) {
        const i = rc.idx[j]!;
        if (!present[sigs.r[i]!]) out.add(rhs[i]!.metric, rhs[i]!.dropName, ts, rc.val[j]!);
      }
    } else {
      for (let j = 0; j < nr; j++) present[sigs.r[rc.idx[j]!]!] = 1;
      for (let j = 0; j < nl; j++) {
        const i = lc.idx[j]!;
        if (!present[sigs.l[i]!]) out.add(lhs[i]!.metric, lhs[i]!.dropName, ts, lc.val[j]!);
      }
    }
  }
  return out.result();
}

/** resultMetric builds the labels of a vector/vector result sample. */
function resultMetric(lhs: Labels, rhs: Labels, op: BinOp, m: VectorMatching): Labels {
  let ls = lhs;
  if (changesMetricSchema(op)) ls = ls.filter((l) => !isMetadataLabel(l[0]));
  if (m.card === 'one-to-one') {
    ls = m.on ? ls.filter((l) => m.labels.includes(l[0])) : ls.filter((l) => !m.labels.includes(l[0]));
  }
  for (const name of m.include) ls = setLabel(ls, name, getLabel(rhs, name));
  return ls;
}

/** OutEntry is one distinct result label set of a vector/vector operation. */
interface OutEntry {
  labels: Labels;
  /** lastTs is the last step a sample was produced for these labels (duplicate detection). */
  lastTs: number;
  series: Series | null;
}

/** vectorBinop is an arithmetic or comparison operator between two instant vectors. */
function vectorBinop(ev: Evaluator, op: BinOp, lhsM: Matrix, rhsM: Matrix, m: VectorMatching, returnBool: boolean): Matrix {
  if (isTrim(op)) {
    if (lhsM.length > 0 && rhsM.length > 0) trimInfo(ev, op);
    return [];
  }
  const sigs = signatures(lhsM, rhsM, m);
  const swap = m.card === 'one-to-many';
  // After a swap the "many" side is on the left; the fills keep their written sides.
  const fillRHS = m.fillRight;
  const fillLHS = m.fillLeft;
  const L = swap ? rhsM : lhsM;
  const R = swap ? lhsM : rhsM;
  const Lsig = swap ? sigs.r : sigs.l;
  const Rsig = swap ? sigs.l : sigs.r;
  const lc = new StepCursor(L);
  const rc = new StepCursor(R);
  const cmp = isComparisonOp(op);
  const oneToOne = m.card === 'one-to-one';
  const instant = ev.isInstant;
  const dropNow = returnBool && !ev.delayed;
  // rightAt[sig] = 1 + position among the step's gathered rhs samples; matched[sig] = 1 once used.
  const rightAt = new Int32Array(sigs.n);
  const matched = new Uint8Array(sigs.n);
  // Result labels by (lhs series, rhs series) pair, and by label set.
  const byPair = new Map<number, OutEntry>();
  const byKey = new Map<string, OutEntry>();
  const filled = new Map<number, Labels>();
  const width = R.length + 1;
  const out: Series[] = [];

  const entryFor = (pair: number, lMetric: Labels, rMetric: Labels): OutEntry => {
    let e = byPair.get(pair);
    if (e) return e;
    let labels = resultMetric(lMetric, rMetric, op, m);
    if (dropNow) labels = dropMetadata(labels);
    const key = labelsKey(labels);
    e = byKey.get(key);
    if (!e) {
      e = { labels, lastTs: NaN, series: null };
      byKey.set(key, e);
    }
    byPair.set(pair, e);
    return e;
  };

  const doOp = (e: OutEntry, lv: number, rv: number, sig: number, ts: number): void => {
    const fl = swap ? rv : lv;
    const fr = swap ? lv : rv;
    let value: number;
    let keep: boolean;
    if (cmp) {
      keep = compare(op, fl, fr);
      value = fl;
    } else {
      value = arith(op, fl, fr);
      keep = true;
    }
    if (returnBool) value = keep ? 1 : 0;
    if (oneToOne) {
      if (matched[sig]) throw new PromQLError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
    } else if (e.lastTs === ts) {
      throw new PromQLError('multiple matches for labels: grouping labels must ensure unique matches');
    }
    matched[sig] = 1;
    if (!keep && !returnBool) {
      e.lastTs = ts;
      return;
    }
    if (e.lastTs === ts) throw new PromQLError('vector cannot contain metrics with the same labelset');
    e.lastTs = ts;
    if (instant) {
      const s = newSeries(e.labels, returnBool && ev.delayed);
      s.t.push(ts);
      s.f.push(value);
      out.push(s);
      return;
    }
    if (!e.series) {
      e.series = newSeries(e.labels, returnBool && ev.delayed);
      out.push(e.series);
    }
    e.series.t.push(ts);
    e.series.f.push(value);
  };

  const fillLabels = (side: number, idx: number, metric: Labels): Labels => {
    const k = side * width + idx;
    let ls = filled.get(k);
    if (!ls) {
      ls = matchLabels(metric, m.on, m.labels);
      filled.set(k, ls);
    }
    return ls;
  };

  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    ev.checkTimeout();
    const nl = lc.at(ts);
    const nr = rc.at(ts);
    if ((nl === 0 && nr === 0) || ((nl === 0 || nr === 0) && fillLHS === undefined && fillRHS === undefined)) continue;
    rightAt.fill(0);
    matched.fill(0);
    for (let j = 0; j < nr; j++) {
      const ri = rc.idx[j]!;
      const sig = Rsig[ri]!;
      const prev = rightAt[sig]!;
      if (prev !== 0) {
        const dup = R[rc.idx[prev - 1]!]!;
        const rs = R[ri]!;
        const oneSide = swap ? 'left' : 'right';
        const group = matchLabels(rs.metric, m.on, m.labels);
        throw new PromQLError(`found duplicate series for the match group ${formatLabels(group)} on the ${oneSide} hand-side of the operation: [${formatLabels(rs.metric)}, ${formatLabels(dup.metric)}];many-to-many matching not allowed: matching labels must be unique on one side`);
      }
      rightAt[sig] = j + 1;
    }
    for (let j = 0; j < nl; j++) {
      const li = lc.idx[j]!;
      const sig = Lsig[li]!;
      const r = rightAt[sig]!;
      const ls = L[li]!;
      if (r === 0) {
        if (fillRHS === undefined) continue;
        const fm = fillLabels(1, li, ls.metric);
        doOp(entryFor(li * width + R.length, ls.metric, fm), lc.val[j]!, fillRHS, sig, ts);
        continue;
      }
      const ri = rc.idx[r - 1]!;
      doOp(entryFor(li * width + ri, ls.metric, R[ri]!.metric), lc.val[j]!, rc.val[r - 1]!, sig, ts);
    }
    if (fillLHS !== undefined) {
      for (let j = 0; j < nr; j++) {
        const ri = rc.idx[j]!;
        const sig = Rsig[ri]!;
        if (matched[sig]) continue;
        const rs = R[ri]!;
        const fm = fillLabels(2, ri, rs.metric);
        doOp(entryFor(-1 - ri, fm, rs.metric), fillLHS, rc.val[j]!, sig, ts);
      }
    }
  }
  return ev.settle(out);
}
