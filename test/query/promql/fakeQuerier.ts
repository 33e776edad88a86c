/**
 * An in-memory Querier over fixed series for engine tests: selects by matchers and time range;
 * with `honour`, it keeps only the labels a select hints at (src/query/promql/projection.ts), as
 * storage may, and counts such selects.
 */
import type { Labels } from '../../../src/model/labels.js';
import { matcherTest } from '../../../src/query/promql/info.js';
import type { Querier, SelectHints, SeriesData } from '../../../src/query/promql/storage.js';

/** FakeSeries is one stored series: labels and samples in time order. */
export interface FakeSeries { labels: Labels; t: Float64Array; v: Float64Array }

/** fakeQuerier serves `series`; see the header for `honour`. */
export function fakeQuerier(series: FakeSeries[], honour = false): Querier & { projectedSelects: number } {
  const q = {
    projectedSelects: 0,
    select(matchers: Parameters<Querier['select']>[0], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> {
      const out: SeriesData[] = [];
      for (const s of series) {
        if (!matchers.every((m) => matcherTest(m)(s.labels.find(([n]) => n === m.name)?.[1] ?? ''))) continue;
        let lo = 0;
        while (lo < s.t.length && s.t[lo]! < mint) lo++;
        let hi = lo;
        while (hi < s.t.length && s.t[hi]! <= maxt) hi++;
        if (lo === hi) continue;
        const keep = honour ? hints?.labels : undefined;
        out.push({ labels: keep === undefined ? s.labels : s.labels.filter(([n]) => keep.includes(n)), t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi) });
      }
      if (honour && hints?.labels !== undefined) q.projectedSelects++;
      return Promise.resolve(out);
    },
  };
  return q;
}
