/**
 * info(v, {selector}): enriches series with the data labels of info metrics (target_info by
 * default) that share their identifying labels (instance, job), after Prometheus' promql/info.go
 * with the 3.x fixes for `__name__` matchers: several positive ones AND together, negated ones
 * alone filter the `.+_info` metrics.
 *
 * Info series are selected with the other selectors before evaluation (engine.ts builds their
 * selector with infoSelector) and narrowed to the identifying label values of the base series
 * here, which is what Prometheus' extra regex matchers do at select time.
 */
import type { Labels } from '../../model/labels.js';
import { MatchType, type Matcher } from '../../model/matchers.js';
import { inspect, unwrapParens, type Call, type VectorSelector } from './ast.js';
import type { Evaluator, PreparedSeries } from './evaluator.js';
import { matcherFn } from '../../model/regex.js';
import { Collector, StepCursor } from './steps.js';
import { PromQLError, formatLabels, getLabel, labelsKey, newSeries, setLabel, type Matrix } from './value.js';

const IDENTIFYING = ['instance', 'job'];

/** matcherTest compiles a matcher's value test (see regex.ts matcherFn). */
export const matcherTest = (m: Matcher): ((v: string) => boolean) => matcherFn(m);

function selectorOf(call: Call): VectorSelector | null {
  const a = call.args[1] ? unwrapParens(call.args[1]) : null;
  return a && a.type === 'VectorSelector' ? a : null;
}

/** effectiveNameMatchers are the `__name__` matchers that pick info metrics. */
export function effectiveNameMatchers(call: Call): Matcher[] {
  const sel = selectorOf(call);
  const names = sel ? sel.matchers.filter((m) => m.name === '__name__') : [];
  if (names.length === 0) return [{ type: MatchType.EQ, name: '__name__', value: 'target_info' }];
  if (names.every((m) => m.type === MatchType.NEQ || m.type === MatchType.NRE)) {
    return [{ type: MatchType.RE, name: '__name__', value: '.+_info' }, ...names];
  }
  return names;
}

/** dataMatchers are the other matchers of the selector, by label name. */
function dataMatchers(call: Call): Map<string, Matcher[]> {
  const out = new Map<string, Matcher[]>();
  const sel = selectorOf(call);
  if (!sel) return out;
  for (const m of sel.matchers) {
    if (m.name === '__name__') continue;
    const l = out.get(m.name);
    if (l) l.push(m);
    else out.set(m.name, [m]);
  }
  return out;
}

/**
 * infoSelector builds the selector fetching the candidate info series of an info() call: the
 * name and data matchers, at the `@`/offset of the first selector of its first argument.
 */
export function infoSelector(call: Call): VectorSelector {
  let first: VectorSelector | null = null;
  inspect(call.args[0]!, (n) => {
    if (!first && n.type === 'VectorSelector') first = n;
  });
  const f = first as VectorSelector | null;
  const matchers = [...effectiveNameMatchers(call), ...[...dataMatchers(call).values()].flat()];
  const vs: VectorSelector = {
    type: 'VectorSelector', matchers, originalOffset: f?.originalOffset ?? 0, offset: f?.originalOffset ?? 0,
    anchored: false, smoothed: false, pos: call.pos,
  };
  if (f?.at !== undefined) vs.at = f.at;
  return vs;
}

/** evalInfo evaluates info(). */
export function evalInfo(ev: Evaluator, call: Call): Matrix {
  const mat = ev.evalMatrix(call.args[0]!);
  const nameTests = effectiveNameMatchers(call).map(matcherTest);
  const data = dataMatchers(call);
  const dataTests = new Map([...data].map(([k, ms]) => [k, ms.map(matcherTest)]));
  const allMatchEmpty = [...dataTests.values()].every((ts) => ts.every((t) => t('')));

  const ignore = new Set<string>();
  const idVals = new Map<string, Set<string>>();
  for (const s of mat) {
    const name = getLabel(s.metric, '__name__');
    if (nameTests.every((t) => t(name))) {
      ignore.add(labelsKey(s.metric));
      continue;
    }
    for (const l of IDENTIFYING) {
      const v = getLabel(s.metric, l);
      if (v === '') continue;
      let set = idVals.get(l);
      if (!set) {
        set = new Set();
        idVals.set(l, set);
      }
      set.add(v);
    }
  }

  // Candidate info series, narrowed to the base series' identifying label values.
  const vs = ev.q.infoSelectors?.get(call);
  const candidates: PreparedSeries[] = [];
  if (idVals.size > 0 && vs) {
    for (const s of ev.selectorData(vs)) {
      let ok = true;
      for (const [l, vals] of idVals) {
        if (!vals.has(getLabel(s.labels, l))) ok = false;
      }
      if (ok) candidates.push(s);
    }
  }
  // Info series evaluated step-wise; the value is the original sample's timestamp.
  const infoMat: Matrix = [];
  const lb = ev.q.lookback;
  for (const s of candidates) {
    const series = newSeries(s.labels);
    const t = s.t;
    let j = 0;
    for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
      const ref = ts - (vs?.offset ?? 0);
      while (j < t.length && t[j]! <= ref) j++;
      if (j === 0) continue;
      const k = j - 1;
      if (t[k]! <= ref - lb) continue;
      if (s.stale !== null && s.stale[k] === 1) continue;
      series.t.push(ts);
      series.f.push(t[k]!);
    }
    if (series.t.length > 0) infoMat.push(series);
  }

  const sigOf = (infoName: string, ls: Labels): string => {
    let k = infoName + '\xff';
    for (const l of IDENTIFYING) {
      const v = getLabel(ls, l);
      if (v !== '') k += l + '\xff' + v + '\xff';
    }
    return k;
  };
  const infoNames = [...new Set(infoMat.map((s) => getLabel(s.metric, '__name__')))];
  const infoSigs = infoMat.map((s) => sigOf(getLabel(s.metric, '__name__'), s.metric));
  const baseKeys = mat.map((s) => labelsKey(s.metric));

  const out = new Collector(false);
  const bc = new StepCursor(mat);
  const ic = new StepCursor(infoMat);
  for (let ts = ev.start; ts <= ev.end; ts += ev.interval) {
    ev.checkTimeout();
    const nb = bc.at(ts);
    if (nb === 0) continue;
    const ni = ic.at(ts);
    const bySig = new Map<string, { idx: number; origT: number }>();
    for (let j = 0; j < ni; j++) {
      const i = ic.idx[j]!;
      const origT = ic.val[j]!;
      const sig = infoSigs[i]!;
      const ex = bySig.get(sig);
      if (!ex || ex.origT < origT) bySig.set(sig, { idx: i, origT });
      else if (ex.origT === origT) {
        throw new PromQLError(`found duplicate series for info metric: existing ${formatLabels(infoMat[ex.idx]!.metric)} @ ${ex.origT}, new ${formatLabels(infoMat[i]!.metric)} @ ${origT}`);
      }
    }
    for (let j = 0; j < nb; j++) {
      const bi = bc.idx[j]!;
      const base = mat[bi]!;
      const v = bc.val[j]!;
      if (ignore.has(baseKeys[bi]!)) {
        out.add(base.metric, false, ts, v);
        continue;
      }
      let add: Labels = [];
      let seen = 0;
      for (const infoName of infoNames) {
        const hit = bySig.get(sigOf(infoName, base.metric));
        if (!hit) continue;
        for (const [n, val] of infoMat[hit.idx]!.metric) {
          if (n === '__name__') continue;
          if (data.size > 0 && !data.has(n)) continue;
          const cur = getLabel(add, n);
          if (cur !== '' && cur !== val) throw new PromQLError(`conflicting label: ${n}`);
          if (getLabel(base.metric, n) !== '' || base.metric.some(([bn]) => bn === n)) continue;
          add = setLabel(add, n, val);
        }
        seen++;
      }
      if (seen === 0 && !allMatchEmpty) continue;
      let metric = base.metric;
      for (const [n, val] of add) metric = setLabel(metric, n, val);
      out.add(metric, false, ts, v);
    }
  }
  return out.result();
}
