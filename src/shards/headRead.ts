/**
 * Index queries a shard answers for the read API: which series of a tenant match a set of
 * matchers within a time range, their label names and the values of one label. Runs on the
 * shard thread between batches (the control path: a message per query, never per sample).
 */
import { compileMatcher, type CompiledMatcher, type Matcher } from '../model/matchers.js';
import { postingView, intersect, subtract, union, type TenantIndex } from './postings.js';
import { f64Base } from '../sharedmem/seriesTable.js';
import { SeriesF64 } from '../sharedmem/layout.js';
import type { Head } from './head.js';

/** selectRefs returns the sorted refs of `tenant`'s series matching all matchers. */
export function selectRefs(idx: TenantIndex, matchers: CompiledMatcher[]): Int32Array {
  let result: Int32Array | undefined;
  const negatives: CompiledMatcher[] = [];
  for (const m of matchers) {
    if (m.matches('')) { negatives.push(m); continue; }
    const vals = idx.byName.get(m.name);
    if (vals === undefined) return new Int32Array(0);
    const lists: Int32Array[] = [];
    if (m.type === '=') {
      const p = vals.get(m.value);
      if (p !== undefined) lists.push(postingView(p));
    } else {
      for (const [v, p] of vals) if (m.matches(v)) lists.push(postingView(p));
    }
    const u = union(lists);
    result = result === undefined ? u : intersect(result, u);
    if (result.length === 0) return result;
  }
  if (result === undefined) result = idx.all.view();
  // A matcher that matches "" keeps series without the label; remove those whose value fails it.
  for (const m of negatives) {
    const vals = idx.byName.get(m.name);
    if (vals === undefined) continue;
    const lists: Int32Array[] = [];
    for (const [v, p] of vals) if (!m.matches(v)) lists.push(postingView(p));
    result = subtract(result, union(lists));
  }
  return result;
}

/** inRange keeps refs whose samples overlap [mint, maxt]. */
function inRange(head: Head, refs: Int32Array, mint: number, maxt: number): Int32Array {
  if (mint === -Infinity && maxt === Infinity) return refs;
  const out = new Int32Array(refs.length);
  let n = 0;
  for (const ref of refs) {
    const seg = head.series.seg(ref);
    const f = f64Base(ref);
    if (seg.f64[f + SeriesF64.FIRST_T]! <= maxt && seg.f64[f + SeriesF64.LAST_T]! >= mint) out[n++] = ref;
  }
  return out.subarray(0, n);
}

/** SelectQuery is what the read API asks a shard. */
export interface SelectQuery {
  tenant: string;
  /** Alternatives (`match[]` params): a series is returned if it matches any one set. */
  matcherSets: Matcher[][];
  mint: number;
  maxt: number;
}

/** selectSeries returns the refs matching the query (union over matcher sets), sorted. */
export function selectSeries(head: Head, q: SelectQuery): Int32Array {
  const tid = head.tenantIds.get(q.tenant);
  if (tid === undefined) return new Int32Array(0);
  const idx = head.indexes[tid]!;
  const sets = q.matcherSets.length === 0 ? [[]] : q.matcherSets;
  const lists = sets.map((ms) => selectRefs(idx, ms.map(compileMatcher)));
  return inRange(head, union(lists), q.mint, q.maxt);
}

/** labelNames returns the label names of the selected series (all series if no matchers). */
export function labelNames(head: Head, q: SelectQuery): string[] {
  const tid = head.tenantIds.get(q.tenant);
  if (tid === undefined) return [];
  const idx = head.indexes[tid]!;
  if (q.matcherSets.length === 0 && q.mint === -Infinity && q.maxt === Infinity) return [...idx.byName.keys()];
  const refs = selectSeries(head, q);
  const names: string[] = [];
  for (const [name, vals] of idx.byName) {
    for (const p of vals.values()) {
      if (intersect(postingView(p), refs).length > 0) { names.push(name); break; }
    }
  }
  return names;
}

/** labelValues returns the values of label `name` among the selected series. */
export function labelValues(head: Head, name: string, q: SelectQuery): string[] {
  const tid = head.tenantIds.get(q.tenant);
  if (tid === undefined) return [];
  const vals = head.indexes[tid]!.byName.get(name);
  if (vals === undefined) return [];
  if (q.matcherSets.length === 0 && q.mint === -Infinity && q.maxt === Infinity) return [...vals.keys()];
  const refs = selectSeries(head, q);
  const out: string[] = [];
  for (const [v, p] of vals) if (intersect(postingView(p), refs).length > 0) out.push(v);
  return out;
}
